using System.Text.Json;
using System.Text.Json.Nodes;
using Cicada.Core;
using Cicada.Mqtt;
using Cicada.Server.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Cicada.Server.Tests;

/// <summary>
/// Precedence, lowest first: embedded defaults, appsettings.json beside the binary, --config FILE,
/// CICADA_* environment variables, command-line options.
/// </summary>
public sealed class ConfigurationPrecedenceTests : IDisposable
{
    private readonly CliHarness _cli = new();
    private readonly TempDirectory _dir = new();

    public void Dispose()
    {
        _cli.Dispose();
        _dir.Dispose();
    }

    [Theory]
    [InlineData(false, false, false, false, 1883)]
    [InlineData(true, false, false, false, 2001)]
    [InlineData(true, true, false, false, 2002)]
    [InlineData(true, true, true, false, 2003)]
    [InlineData(true, true, true, true, 2004)]
    [InlineData(false, true, false, false, 2002)]
    [InlineData(false, false, true, false, 2003)]
    [InlineData(true, false, true, false, 2003)]
    [InlineData(true, true, false, true, 2004)]
    [InlineData(false, true, true, false, 2003)]
    public async Task HighestSourcePresent_Wins(bool appSettings, bool configFile, bool environment, bool commandLine, int expectedPort)
    {
        var args = new List<string>();
        if (appSettings)
            WriteJson(Path.Combine(_cli.BaseDirectory, "appsettings.json"), "127.0.0.1:2001");
        if (configFile)
        {
            WriteJson(_dir.File("cicada.json"), "127.0.0.1:2002");
            args.AddRange(["--config", _dir.File("cicada.json")]);
        }
        if (environment)
            _cli.Environment["CICADA_MQTT__LISTEN"] = "127.0.0.1:2003";
        if (commandLine)
            args.AddRange(["--mqtt", "127.0.0.1:2004"]);

        Assert.Equal(0, await _cli.RunAsync([.. args]));

        Assert.Equal(expectedPort, _cli.Served!.Mqtt.Port);
    }

    [Fact]
    public async Task EachSource_OverridesOnlyTheKeysItSets()
    {
        WriteJson(Path.Combine(_cli.BaseDirectory, "appsettings.json"), "127.0.0.1:2001", storage: "memory");
        _cli.Environment["CICADA_HTTP__LISTEN"] = "off";

        Assert.Equal(0, await _cli.RunAsync("--coap", "127.0.0.1:5999"));

        var s = _cli.Served!;
        Assert.Equal(2001, s.Mqtt.Port);          // appsettings.json
        Assert.Equal(StorageKind.Memory, s.Storage); // appsettings.json
        Assert.True(s.Http.IsOff);                 // environment
        Assert.Equal(5999, s.Coap.Port);           // command line
        Assert.Equal(5672, s.Amqp.Port);           // embedded default
    }

    [Fact]
    public async Task EnvironmentVariables_AreCaseInsensitive_AndOnlyCicadaPrefixed()
    {
        _cli.Environment["cicada_storage__kind"] = "memory";
        _cli.Environment["CICADA_AUTH__USERSFILE"] = "/etc/cicada/users";
        _cli.Environment["MQTT__LISTEN"] = "127.0.0.1:9"; // not ours: ignored
        _cli.Environment["ASPNETCORE_URLS"] = "http://0.0.0.0:5000";

        Assert.Equal(0, await _cli.RunAsync());

        Assert.Equal(StorageKind.Memory, _cli.Served!.Storage);
        Assert.Equal("/etc/cicada/users", _cli.Served.UsersFile);
        Assert.Equal(1883, _cli.Served.Mqtt.Port);
    }

    [Fact]
    public async Task BrokerAndMqttSections_ReachTheOptionsConfiguration()
    {
        _cli.Environment["CICADA_BROKER__MAXINFLIGHT"] = "7";
        _cli.Environment["CICADA_MQTT__MAXPACKETSIZE"] = "4096";

        Assert.Equal(0, await _cli.RunAsync("--storage", "memory", "--mqtt", "off"));

        using var app = CicadaServer.Build(_cli.Served!, _cli.ServedConfiguration!);
        Assert.Equal(7, app.Services.GetRequiredService<IOptions<BrokerOptions>>().Value.MaxInflight);
        Assert.Equal(4096, app.Services.GetRequiredService<IOptions<MqttOptions>>().Value.MaxPacketSize);
    }

    [Fact]
    public void ShippedAppSettings_RepeatTheEmbeddedAndOptionDefaults()
    {
        // The test output holds the server's appsettings.json (copied with Cicada.Server.dll).
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "appsettings.json")))!;

        foreach (var (key, value) in CicadaConfiguration.Defaults)
        {
            var node = key.Split(':').Aggregate((JsonNode?)json, (n, part) => n?[part]);
            Assert.True(node is not null, $"appsettings.json lacks {key}");
            Assert.Equal(value, node!.GetValueKind() == JsonValueKind.String ? node.GetValue<string>() : node.ToJsonString(), ignoreCase: true);
        }
        var broker = new BrokerOptions();
        Assert.Equal(broker.MaxQueuedMessages, json["Broker"]!["MaxQueuedMessages"]!.GetValue<int>());
        Assert.Equal(broker.MaxInflight, json["Broker"]!["MaxInflight"]!.GetValue<int>());
        Assert.Equal(broker.ConnectTimeoutSeconds, json["Broker"]!["ConnectTimeoutSeconds"]!.GetValue<int>());
        Assert.Equal(new MqttOptions().MaxPacketSize, json["Mqtt"]!["MaxPacketSize"]!.GetValue<int>());
        Assert.Equal(new MqttOptions().Listen, json["Mqtt"]!["Listen"]!.GetValue<string>());
    }

    private static void WriteJson(string path, string mqttListen, string? storage = null)
    {
        var root = new JsonObject { ["Mqtt"] = new JsonObject { ["Listen"] = mqttListen } };
        if (storage is not null)
            root["Storage"] = new JsonObject { ["Kind"] = storage };
        File.WriteAllText(path, root.ToJsonString());
    }
}
