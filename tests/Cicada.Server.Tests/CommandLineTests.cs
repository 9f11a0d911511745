using System.Net;
using Cicada.Server.Hosting;
using Microsoft.Extensions.Logging;

namespace Cicada.Server.Tests;

/// <summary>The command line is a contract (DESIGN.md "The command line"): names, defaults, exit codes.</summary>
public sealed class CommandLineTests : IDisposable
{
    private readonly CliHarness _cli = new();

    public void Dispose() => _cli.Dispose();

    [Fact]
    public async Task NoOptions_UseTheDocumentedDefaults()
    {
        Assert.Equal(0, await _cli.RunAsync());

        var s = _cli.Served!;
        Assert.Equal(new ListenAddress(ListenHostKind.Address, IPAddress.Any, 1883), s.Mqtt);
        Assert.Equal(new ListenAddress(ListenHostKind.Address, IPAddress.Any, 8080), s.Http);
        Assert.Equal(new ListenAddress(ListenHostKind.Address, IPAddress.Any, 5683), s.Coap);
        Assert.Equal(new ListenAddress(ListenHostKind.Address, IPAddress.Any, 5672), s.Amqp);
        Assert.Equal(StorageKind.Sqlite, s.Storage);
        Assert.Equal(Path.GetFullPath("data"), s.DataDirectory);
        Assert.Equal(Path.Combine(Path.GetFullPath("data"), "users"), s.UsersFile);
        Assert.Equal(LogLevel.Information, s.LogLevel);
    }

    [Theory]
    [InlineData("--mqtt", "127.0.0.1:1884")]
    [InlineData("--http", "127.0.0.1:8081")]
    [InlineData("--coap", "127.0.0.1:5684")]
    [InlineData("--amqp", "127.0.0.1:5673")]
    public async Task ListenerOption_SetsOnlyItsOwnListener(string option, string value)
    {
        Assert.Equal(0, await _cli.RunAsync(option, value));

        var s = _cli.Served!;
        var listeners = new Dictionary<string, ListenAddress>
        {
            ["--mqtt"] = s.Mqtt,
            ["--http"] = s.Http,
            ["--coap"] = s.Coap,
            ["--amqp"] = s.Amqp,
        };
        Assert.Equal(ListenAddress.Parse(value), listeners[option]);
        foreach (var (_, address) in listeners.Where(l => l.Key != option))
            Assert.Equal(IPAddress.Any, address.Address);
    }

    [Fact]
    public async Task EveryListener_AcceptsOff()
    {
        Assert.Equal(0, await _cli.RunAsync("--mqtt", "off", "--http", "off", "--coap", "OFF", "--amqp", "off"));

        var s = _cli.Served!;
        Assert.All(new[] { s.Mqtt, s.Http, s.Coap, s.Amqp }, a => Assert.True(a.IsOff));
    }

    [Theory]
    [InlineData("[::1]:1883", ListenHostKind.Address, "::1")]
    [InlineData("[::]:1883", ListenHostKind.Address, "::")]
    [InlineData("[fe80::1%2]:1883", ListenHostKind.Address, "fe80::1%2")]
    [InlineData("0.0.0.0:1883", ListenHostKind.Address, "0.0.0.0")]
    [InlineData("192.168.1.20:1883", ListenHostKind.Address, "192.168.1.20")]
    [InlineData("localhost:1883", ListenHostKind.Localhost, null)]
    [InlineData("LocalHost:1883", ListenHostKind.Localhost, null)]
    [InlineData("*:1883", ListenHostKind.Any, null)]
    public async Task MqttOption_AcceptsEveryHostForm(string value, ListenHostKind kind, string? address)
    {
        Assert.Equal(0, await _cli.RunAsync("--mqtt", value));

        var mqtt = _cli.Served!.Mqtt;
        Assert.Equal(kind, mqtt.Kind);
        Assert.Equal(address is null ? null : IPAddress.Parse(address), mqtt.Address);
        Assert.Equal(1883, mqtt.Port);
    }

    [Theory]
    [InlineData("--mqtt", "1883")]
    [InlineData("--mqtt", "bogus")]
    [InlineData("--mqtt", "127.0.0.1")]
    [InlineData("--mqtt", "127.0.0.1:")]
    [InlineData("--mqtt", "127.0.0.1:0")]
    [InlineData("--mqtt", "127.0.0.1:65536")]
    [InlineData("--mqtt", "127.0.0.1:-1")]
    [InlineData("--mqtt", "127.0.0.1:18x3")]
    [InlineData("--mqtt", "::1:1883")]
    [InlineData("--mqtt", "[::1:1883")]
    [InlineData("--mqtt", "[127.0.0.1]:1883")]
    [InlineData("--mqtt", "example.com:1883")]
    [InlineData("--mqtt", "127.1:1883")]
    [InlineData("--mqtt", "300.0.0.1:1883")]
    [InlineData("--http", "nope")]
    [InlineData("--coap", "1.2.3.4:99999")]
    [InlineData("--amqp", "on")]
    [InlineData("--storage", "postgres")]
    [InlineData("--log-level", "verbose")]
    [InlineData("--log-level", "3")]
    public async Task BadValue_ExitsWith2_NamesTheOption_AndStartsNothing(string option, string value)
    {
        Assert.Equal(2, await _cli.RunAsync(option, value));

        Assert.Null(_cli.Served);
        Assert.Contains(option, _cli.Error.ToString(), StringComparison.Ordinal);
        Assert.Contains(value, _cli.Error.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--mqtt")]
    [InlineData("--data")]
    [InlineData("--bogus")]
    public async Task MissingValueOrUnknownOption_ExitsWith2(string arg)
    {
        Assert.Equal(2, await _cli.RunAsync(arg));

        Assert.Null(_cli.Served);
        Assert.Contains(arg, _cli.Error.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("sqlite", StorageKind.Sqlite)]
    [InlineData("memory", StorageKind.Memory)]
    [InlineData("Memory", StorageKind.Memory)]
    public async Task StorageOption_SelectsTheStore(string value, StorageKind expected)
    {
        Assert.Equal(0, await _cli.RunAsync("--storage", value));
        Assert.Equal(expected, _cli.Served!.Storage);
    }

    [Fact]
    public async Task DataOption_SetsDataDirectoryAndDefaultUsersFile()
    {
        Assert.Equal(0, await _cli.RunAsync("--data", "/var/lib/cicada-test"));

        Assert.Equal("/var/lib/cicada-test", _cli.Served!.DataDirectory);
        Assert.Equal("/var/lib/cicada-test/cicada.db", _cli.Served.DatabasePath);
        Assert.Equal("/var/lib/cicada-test/users", _cli.Served.UsersFile);
    }

    [Theory]
    [InlineData("trace", LogLevel.Trace)]
    [InlineData("Debug", LogLevel.Debug)]
    [InlineData("warning", LogLevel.Warning)]
    [InlineData("none", LogLevel.None)]
    public async Task LogLevelOption_SetsTheDefaultLevel(string value, LogLevel expected)
    {
        Assert.Equal(0, await _cli.RunAsync("--log-level", value));

        Assert.Equal(expected, _cli.Served!.LogLevel);
        Assert.Equal(value, _cli.ServedConfiguration!["Logging:LogLevel:Default"]);
    }

    [Fact]
    public async Task ConfigOption_WithMissingFile_ExitsWith2()
    {
        Assert.Equal(2, await _cli.RunAsync("--config", "/nonexistent/cicada.json"));

        Assert.Null(_cli.Served);
        Assert.Contains("--config", _cli.Error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConfigOption_WithInvalidJson_ExitsWith2()
    {
        using var dir = new TempDirectory();
        await File.WriteAllTextAsync(dir.File("bad.json"), "{ \"Mqtt\": ");

        Assert.Equal(2, await _cli.RunAsync("--config", dir.File("bad.json")));
        Assert.Null(_cli.Served);
        Assert.Contains("--config", _cli.Error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task BadValueFromEnvironment_ExitsWith2_NamingTheKey()
    {
        _cli.Environment["CICADA_MQTT__LISTEN"] = "not-an-address";

        Assert.Equal(2, await _cli.RunAsync());
        Assert.Null(_cli.Served);
        Assert.Contains("Mqtt:Listen", _cli.Error.ToString(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Help_ExitsWith0_AndListsEveryContractOption()
    {
        Assert.Equal(0, await _cli.RunAsync("--help"));

        var help = _cli.Out.ToString();
        foreach (var option in new[] { "--mqtt", "--http", "--coap", "--amqp", "--data", "--storage", "--config", "--log-level", "--version", "passwd" })
            Assert.Contains(option, help, StringComparison.Ordinal);
        Assert.Null(_cli.Served);
    }

    [Fact]
    public async Task Version_ExitsWith0_AndPrintsTheAssemblyVersion()
    {
        Assert.Equal(0, await _cli.RunAsync("--version"));

        Assert.StartsWith(CicadaServer.Version, _cli.Out.ToString().Trim(), StringComparison.Ordinal);
        Assert.Null(_cli.Served);
    }
}
