using Cicada.Core;
using Cicada.Core.Auth;
using Cicada.Core.Storage;
using Cicada.Mqtt;
using Microsoft.AspNetCore.Connections;

var builder = WebApplication.CreateSlimBuilder(args);
builder.Services.AddCicadaCore(builder.Configuration);
builder.Services.AddCicadaMqtt(builder.Configuration);
var storage = builder.Configuration["storage"] ?? "memory";
var data = builder.Configuration["data"] ?? "./data";
if (storage == "sqlite")
{
    Directory.CreateDirectory(data);
    builder.Services.AddSingleton<IBrokerStore>(new Cicada.Storage.Sqlite.SqliteBrokerStore(Path.Combine(data, "cicada.db")));
}
else
{
    builder.Services.AddSingleton<IBrokerStore, MemoryBrokerStore>();
}

builder.Services.AddSingleton<IAuthenticator, AllowAll>();
var port = int.Parse(builder.Configuration["port"] ?? "1883", System.Globalization.CultureInfo.InvariantCulture);
builder.WebHost.ConfigureKestrel(k => k.ListenLocalhost(port, lo => lo.UseConnectionHandler<MqttConnectionHandler>()));
var app = builder.Build();
app.Run();

internal sealed class AllowAll : IAuthenticator
{
    public ValueTask<AuthResult> AuthenticateAsync(AuthRequest request, CancellationToken cancellationToken) => ValueTask.FromResult(AuthResult.Allowed);
}
