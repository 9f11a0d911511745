using System.Net;
using System.Net.Sockets;
using Cicada.Core.Auth;
using Cicada.Core.Storage;
using Cicada.Server.Hosting;
using Cicada.Storage.Sqlite;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.Extensions.DependencyInjection;

namespace Cicada.Server.Tests;

/// <summary>The host in-process: which listeners Kestrel binds and which services it wires.</summary>
public sealed class ServerHostTests : IDisposable
{
    private readonly CliHarness _cli = new();
    private readonly TempDirectory _dir = new();

    public void Dispose()
    {
        _cli.Dispose();
        _dir.Dispose();
    }

    [Fact]
    public async Task MqttListener_AcceptsTcpConnections_AndStopsAcceptingAfterStop()
    {
        var port = Net.FreeTcpPort();
        await using var app = await BuildAsync("--mqtt", $"127.0.0.1:{port}", "--http", "off", "--coap", "off", "--storage", "memory");

        await app.StartAsync();
        Assert.True(await Net.CanConnectAsync(IPAddress.Loopback, port));
        await app.StopAsync();

        Assert.False(await Net.CanConnectAsync(IPAddress.Loopback, port));
    }

    [Fact]
    public async Task MqttListener_OnIPv6Loopback_AcceptsConnections()
    {
        if (!Socket.OSSupportsIPv6)
            return; // no IPv6 stack: nothing to bind, and the parsing is covered by the CLI tests
        var port = Net.FreeTcpPort();
        await using var app = await BuildAsync("--mqtt", $"[::1]:{port}", "--http", "off", "--coap", "off", "--storage", "memory");

        try
        {
            await app.StartAsync();
        }
        catch (IOException)
        {
            return; // IPv6 present but ::1 not configured (some containers)
        }
        Assert.True(await Net.CanConnectAsync(IPAddress.IPv6Loopback, port));
        Assert.False(await Net.CanConnectAsync(IPAddress.Loopback, port));
        await app.StopAsync();
    }

    [Fact]
    public async Task EveryEdgeOff_BindsNothing_NotEvenKestrelsDefaultPort()
    {
        await using var app = await BuildAsync("--mqtt", "off", "--http", "off", "--coap", "off", "--amqp", "off", "--storage", "memory");

        await app.StartAsync();

        Assert.IsNotType<Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServer>(app.Services.GetRequiredService<IServer>());
        Assert.Equal("IdleServer", app.Services.GetRequiredService<IServer>().GetType().Name);
        await app.StopAsync();
    }

    [Fact]
    public async Task MemoryStorage_RegistersTheMemoryStore_AndCreatesNoDataFolder()
    {
        var data = _dir.File("data");
        await using var app = await BuildAsync("--mqtt", "off", "--storage", "memory", "--data", data);

        Assert.IsType<MemoryBrokerStore>(app.Services.GetRequiredService<IBrokerStore>());
        Assert.False(Directory.Exists(data));
    }

    [Fact]
    public async Task SqliteStorage_CreatesTheDataFolder_AndPutsTheDatabaseInIt()
    {
        var data = _dir.File("nested/data");
        await using var app = await BuildAsync("--mqtt", "off", "--storage", "sqlite", "--data", data);

        Assert.True(Directory.Exists(data));
        var store = Assert.IsType<SqliteBrokerStore>(app.Services.GetRequiredService<IBrokerStore>());
        Assert.Equal(Path.Combine(data, "cicada.db"), store.DatabasePath);
    }

    [Fact]
    public async Task Authenticator_ReadsTheUsersFileInTheDataFolder()
    {
        var data = _dir.File("data");
        UsersFile.SetUser(Path.Combine(data, "users"), "alice", PasswordHasher.Hash("pw", 1000));
        _cli.Environment["CICADA_AUTH__ALLOWANONYMOUS"] = "false";
        await using var app = await BuildAsync("--mqtt", "off", "--storage", "memory", "--data", data);

        var auth = app.Services.GetRequiredService<IAuthenticator>();

        Assert.Equal(AuthResult.Allowed, await auth.AuthenticateAsync(new AuthRequest("c", "alice", "pw"u8.ToArray(), "mqtt", null), default));
        Assert.Equal(AuthResult.NotAuthorized, await auth.AuthenticateAsync(new AuthRequest("c", null, null, "mqtt", null), default));
    }

    [Fact]
    public async Task PortInUse_RunReturns1()
    {
        using var occupier = new TcpListener(IPAddress.Loopback, 0);
        occupier.Start();
        var port = ((IPEndPoint)occupier.LocalEndpoint).Port;
        Assert.Equal(0, await _cli.RunAsync("--mqtt", $"127.0.0.1:{port}", "--storage", "memory", "--log-level", "none"));

        Assert.Equal(1, await CicadaServer.RunAsync(_cli.Served!, _cli.ServedConfiguration!, CancellationToken.None));
    }

    [Fact]
    public async Task AddressNotOnThisMachine_RunReturns1()
    {
        // 192.0.2.0/24 is TEST-NET-1 (RFC 5737): never assigned to a real interface.
        Assert.Equal(0, await _cli.RunAsync("--mqtt", "192.0.2.1:1883", "--storage", "memory", "--log-level", "none"));

        Assert.Equal(1, await CicadaServer.RunAsync(_cli.Served!, _cli.ServedConfiguration!, CancellationToken.None));
    }

    private async Task<Microsoft.AspNetCore.Builder.WebApplication> BuildAsync(params string[] args)
    {
        Assert.Equal(0, await _cli.RunAsync(args));
        return CicadaServer.Build(_cli.Served!, _cli.ServedConfiguration!);
    }
}
