using Cicada.Server.Hosting;

namespace Cicada.Server.Tests;

/// <summary>
/// One test per configuration rule: a value outside the rule exits with 2 before anything starts,
/// naming the key; the boundary values are accepted. Values come from a --config file, as an
/// operator writes them (the same checks run whatever the source).
/// </summary>
public sealed class ConfigurationValidationTests : IDisposable
{
    private readonly CliHarness _cli = new();
    private readonly TempDirectory _dir = new();

    public void Dispose()
    {
        _cli.Dispose();
        _dir.Dispose();
    }

    private async Task<int> RunWithConfigAsync(string json)
    {
        var file = _dir.File("cicada.json");
        await File.WriteAllTextAsync(file, json);
        return await _cli.RunAsync("--config", file);
    }

    private static string Json(string key, string rawValue)
    {
        var parts = key.Split(':');
        return $"{{ \"{parts[0]}\": {{ \"{parts[1]}\": {rawValue} }} }}";
    }

    private async Task AssertRefusedAsync(string json, string key, params string[] reasonParts)
    {
        Assert.Equal(CliExit.Usage, await RunWithConfigAsync(json));
        Assert.Null(_cli.Served);
        var error = _cli.Error.ToString();
        Assert.Contains($"cicada: {key}:", error, StringComparison.OrdinalIgnoreCase);
        foreach (var part in reasonParts)
            Assert.Contains(part, error, StringComparison.Ordinal);
    }

    private static class CliExit
    {
        public const int Usage = Cli.CicadaCli.ExitUsage;
    }

    [Theory]
    [InlineData("Mqtt:MaxPacketSize", 16, 268_435_460)]
    [InlineData("Mqtt:ReceiveMaximum", 1, 65535)]
    [InlineData("Mqtt:TopicAliasMaximum", 0, 65535)]
    [InlineData("Mqtt:MaxKeepAliveSeconds", 0, 65535)]
    [InlineData("Broker:MaxInflight", 1, 65535)]
    [InlineData("Broker:MaxQueuedMessages", 1, int.MaxValue)]
    [InlineData("Broker:ConnectTimeoutSeconds", 1, 3600)]
    [InlineData("Broker:BackpressureMaxWaitMilliseconds", 1, 3_600_000)]
    [InlineData("Sys:IntervalSeconds", 0, 86_400)]
    [InlineData("Http:MaxBodySize", 1, long.MaxValue)]
    [InlineData("Http:StreamKeepAliveSeconds", 1, 3600)]
    [InlineData("Http:StreamReplayMessages", 0, 1_000_000)]
    [InlineData("Http:StreamReplaySeconds", 1, 86_400)]
    [InlineData("Coap:MaxBodySize", 1, int.MaxValue)]
    [InlineData("Coap:BlockSize", 16, 1024)]
    [InlineData("Coap:SeparateResponseAfterMilliseconds", 0, 60_000)]
    [InlineData("Coap:ConfirmableNotificationSeconds", 1, 86_400)]
    [InlineData("Coap:MaxObservations", 0, int.MaxValue)]
    [InlineData("Coap:MaxExchanges", 1, int.MaxValue)]
    [InlineData("Amqp:FrameMax", 4096, int.MaxValue)]
    [InlineData("Amqp:ChannelMax", 1, 65535)]
    [InlineData("Amqp:HeartbeatSeconds", 0, 65535)]
    [InlineData("Amqp:MaxMessageSize", 1, long.MaxValue)]
    [InlineData("Limits:MaxConnections", 0, int.MaxValue)]
    [InlineData("Limits:MaxConnectionsPerIp", 0, int.MaxValue)]
    [InlineData("Limits:MaxSubscriptionsPerClient", 0, int.MaxValue)]
    [InlineData("Limits:MaxTopicLevels", 0, int.MaxValue)]
    [InlineData("Limits:MaxTopicLength", 0, 65535)]
    [InlineData("Storage:BusyTimeoutSeconds", 1, 3600)]
    [InlineData("Broker:MaxQueuedBytes", 0, long.MaxValue)]
    [InlineData("Limits:MaxPublishesPerSecond", 0, int.MaxValue)]
    [InlineData("Limits:PublishBurst", 0, int.MaxValue)]
    [InlineData("Limits:MaxHttpRequestsPerSecond", 0, int.MaxValue)]
    [InlineData("Limits:HttpRequestBurst", 0, int.MaxValue)]
    [InlineData("Auth:HookTimeoutMilliseconds", 1, 60_000)]
    [InlineData("Auth:HookCacheSeconds", 0, 86_400)]
    public async Task NumberBelowItsRange_IsRefused_NamingKeyAndRange(string key, long min, long max)
    {
        await AssertRefusedAsync(Json(key, (min - 1).ToString(System.Globalization.CultureInfo.InvariantCulture)), key,
            $"from {min} to {max}");
    }

    // Limits of long.MaxValue have no number above them that is still a long: the parse fails instead.
    [Theory]
    [InlineData("Mqtt:MaxPacketSize", 268_435_460)]
    [InlineData("Mqtt:ReceiveMaximum", 65535)]
    [InlineData("Mqtt:TopicAliasMaximum", 65535)]
    [InlineData("Mqtt:MaxKeepAliveSeconds", 65535)]
    [InlineData("Broker:MaxInflight", 65535)]
    [InlineData("Broker:MaxQueuedMessages", int.MaxValue)]
    [InlineData("Broker:ConnectTimeoutSeconds", 3600)]
    [InlineData("Broker:BackpressureMaxWaitMilliseconds", 3_600_000)]
    [InlineData("Sys:IntervalSeconds", 86_400)]
    [InlineData("Http:StreamKeepAliveSeconds", 3600)]
    [InlineData("Coap:MaxBodySize", int.MaxValue)]
    [InlineData("Coap:BlockSize", 1024)]
    [InlineData("Coap:SeparateResponseAfterMilliseconds", 60_000)]
    [InlineData("Coap:ConfirmableNotificationSeconds", 86_400)]
    [InlineData("Coap:MaxObservations", int.MaxValue)]
    [InlineData("Coap:MaxExchanges", int.MaxValue)]
    [InlineData("Amqp:FrameMax", int.MaxValue)]
    [InlineData("Amqp:ChannelMax", 65535)]
    [InlineData("Amqp:HeartbeatSeconds", 65535)]
    [InlineData("Http:MaxBodySize", "9223372036854775808")]
    [InlineData("Amqp:MaxMessageSize", "9223372036854775808")]
    [InlineData("Limits:MaxConnections", int.MaxValue)]
    [InlineData("Limits:MaxConnectionsPerIp", int.MaxValue)]
    [InlineData("Limits:MaxSubscriptionsPerClient", int.MaxValue)]
    [InlineData("Limits:MaxTopicLevels", int.MaxValue)]
    [InlineData("Limits:MaxTopicLength", 65535)]
    [InlineData("Storage:BusyTimeoutSeconds", 3600)]
    [InlineData("Broker:MaxQueuedBytes", "9223372036854775808")]
    [InlineData("Limits:MaxPublishesPerSecond", int.MaxValue)]
    [InlineData("Limits:PublishBurst", int.MaxValue)]
    [InlineData("Limits:MaxHttpRequestsPerSecond", int.MaxValue)]
    [InlineData("Limits:HttpRequestBurst", int.MaxValue)]
    [InlineData("Auth:HookTimeoutMilliseconds", 60_000)]
    [InlineData("Auth:HookCacheSeconds", 86_400)]
    public async Task NumberAboveItsRange_IsRefused(string key, object max)
    {
        var above = max is string text ? text : (Convert.ToInt64(max, System.Globalization.CultureInfo.InvariantCulture) + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
        await AssertRefusedAsync(Json(key, above), key, "is not a whole number");
    }

    // The hook is sent passwords: it must be a URL we can POST to, never a relative path or another scheme.
    [Theory]
    [InlineData("\"/auth\"")]
    [InlineData("\"localhost:9000/auth\"")]
    [InlineData("\"ftp://127.0.0.1/auth\"")]
    [InlineData("\"file:///etc/passwd\"")]
    [InlineData("\" \"")]
    public async Task HookUrl_NotAbsoluteHttpOrHttps_IsRefused(string value)
    {
        await AssertRefusedAsync(Json("Auth:HookUrl", value), "Auth:HookUrl", "is not an absolute http:// or https:// URL");
    }

    [Fact]
    public async Task MqttTransport_MustBeSocketsOrKestrel()
    {
        await AssertRefusedAsync(Json("Mqtt:Transport", "\"libuv\""), "Mqtt:Transport", "is not one of sockets, kestrel");
        Assert.Equal(0, await RunWithConfigAsync(Json("Mqtt:Transport", "\"kestrel\"")));
        Assert.Equal(0, await RunWithConfigAsync(Json("Mqtt:Transport", "\"Sockets\"")));
    }

    [Fact]
    public async Task EveryRangeRule_IsCoveredAbove()
    {
        // The theories list the rules by hand; a rule added without a test fails here.
        var tested = new[]
        {
            "Mqtt:MaxPacketSize", "Mqtt:ReceiveMaximum", "Mqtt:TopicAliasMaximum", "Mqtt:MaxKeepAliveSeconds", "Broker:MaxInflight", "Broker:MaxQueuedMessages", "Broker:ConnectTimeoutSeconds", "Sys:IntervalSeconds", "Http:MaxBodySize", "Http:StreamKeepAliveSeconds", "Http:StreamReplayMessages", "Http:StreamReplaySeconds", "Coap:MaxBodySize", "Coap:BlockSize", "Coap:SeparateResponseAfterMilliseconds", "Coap:ConfirmableNotificationSeconds", "Coap:MaxObservations", "Coap:MaxExchanges", "Amqp:FrameMax", "Amqp:ChannelMax", "Amqp:HeartbeatSeconds", "Amqp:MaxMessageSize", "Limits:MaxConnections", "Limits:MaxConnectionsPerIp", "Limits:MaxSubscriptionsPerClient", "Limits:MaxTopicLevels", "Limits:MaxTopicLength",
            "Broker:MaxQueuedBytes", "Limits:MaxPublishesPerSecond", "Limits:PublishBurst", "Limits:MaxHttpRequestsPerSecond", "Limits:HttpRequestBurst",
            "Storage:BusyTimeoutSeconds", "Auth:HookTimeoutMilliseconds", "Auth:HookCacheSeconds",
            "Broker:BackpressureMaxWaitMilliseconds",
        };
        Assert.Equal(tested.Order(StringComparer.Ordinal), ConfigurationRules.Ranges.Select(r => r.Key).Order(StringComparer.Ordinal));

        // And every boundary is accepted.
        var json = "{ \"Mqtt\": { \"MaxPacketSize\": 16, \"ReceiveMaximum\": 1, \"TopicAliasMaximum\": 0, \"MaxKeepAliveSeconds\": 0 }, "
            + "\"Broker\": { \"MaxInflight\": 1, \"MaxQueuedMessages\": 1, \"MaxQueuedBytes\": 0, \"ConnectTimeoutSeconds\": 1, \"BackpressureMaxWaitMilliseconds\": 1, \"OverflowPolicy\": \"drop-oldest\" }, \"Sys\": { \"IntervalSeconds\": 0 }, "
            + "\"Http\": { \"MaxBodySize\": 9223372036854775807, \"StreamKeepAliveSeconds\": 1, \"StreamReplayMessages\": 0, \"StreamReplaySeconds\": 1 }, "
            + "\"Coap\": { \"BlockSize\": 16, \"MaxBodySize\": 1, \"SeparateResponseAfterMilliseconds\": 0, \"ConfirmableNotificationSeconds\": 1, \"MaxObservations\": 0, \"MaxExchanges\": 1 }, "
            + "\"Amqp\": { \"FrameMax\": 4096, \"ChannelMax\": 1, \"HeartbeatSeconds\": 0, \"MaxMessageSize\": 1 }, "
            + "\"Limits\": { \"MaxConnections\": 0, \"MaxConnectionsPerIp\": 0, \"MaxSubscriptionsPerClient\": 0, \"MaxTopicLevels\": 0, \"MaxTopicLength\": 0, "
            + "\"MaxPublishesPerSecond\": 0, \"PublishBurst\": 0, \"MaxHttpRequestsPerSecond\": 0, \"HttpRequestBurst\": 0 }, "
            + "\"Storage\": { \"BusyTimeoutSeconds\": 1 } }";
        Assert.Equal(0, await RunWithConfigAsync(json));
        Assert.NotNull(_cli.Served);
    }

    [Theory]
    [InlineData("Mqtt:MaxPacketSize", "\"1MB\"")]
    [InlineData("Broker:MaxInflight", "\"ten\"")]
    [InlineData("Sys:IntervalSeconds", "1.5")]
    public async Task NumberThatIsNotAWholeNumber_IsRefused(string key, string rawValue)
    {
        await AssertRefusedAsync(Json(key, rawValue), key, "is not a whole number");
        // One line per problem: the type error is not repeated as a range error.
        Assert.Single(_cli.Error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.Contains(key, StringComparison.OrdinalIgnoreCase));
    }

    [Theory]
    [InlineData("\"drop-newest\"")]
    [InlineData("\"\"")]
    [InlineData("\"back pressure\"")]
    public async Task OverflowPolicy_NotBackpressureOrDropOldest_IsRefused(string value)
    {
        await AssertRefusedAsync(Json("Broker:OverflowPolicy", value), "Broker:OverflowPolicy", "is not one of backpressure, drop-oldest");
    }

    [Fact]
    public async Task BooleanThatIsNotTrueOrFalse_IsRefused()
    {
        await AssertRefusedAsync(Json("Auth:AllowAnonymous", "\"yes\""), "Auth:AllowAnonymous", "true or false");
    }

    [Theory]
    [InlineData("Mqtt", "MaxPaketSize")]
    [InlineData("Broker", "MaxInflights")]
    [InlineData("Sys", "Interval")]
    [InlineData("Auth", "UserFile")]
    [InlineData("Http", "MaxBody")]
    [InlineData("Coap", "Blocksize2")]
    [InlineData("Amqp", "Heartbeat")]
    [InlineData("Limits", "MaxConnection")]
    public async Task UnknownKeyInABoundSection_IsRefused_ListingTheKnownOnes(string section, string key)
    {
        await AssertRefusedAsync($"{{ \"{section}\": {{ \"{key}\": 1 }} }}", $"{section}:{key}", "unknown key");
    }

    [Fact]
    public async Task KeysReadBesideTheOptionsClasses_AreKnown()
    {
        // Auth:AclFile belongs to AclOptions (same section as AuthOptions); Mqtt:TlsListen is read by the host.
        var acl = _dir.File("acl");
        await File.WriteAllTextAsync(acl, "topic readwrite #\n");
        var json = $"{{ \"Auth\": {{ \"AclFile\": \"{acl}\" }}, \"Mqtt\": {{ \"TlsListen\": \"off\" }} }}";

        Assert.Equal(0, await RunWithConfigAsync(json));
        Assert.Equal(string.Empty, _cli.Error.ToString());
    }

    [Fact]
    public async Task ValueWhereASectionIsNotExpected_IsRefused()
    {
        await AssertRefusedAsync("{ \"Broker\": { \"MaxInflight\": { \"Value\": 3 } } }", "Broker:MaxInflight", "not a section");
    }

    [Theory]
    [InlineData("Cicada.Mqtt", "loud")]
    [InlineData("Microsoft", "2")]
    public async Task LogLevelOfACategory_MustBeALevelName(string category, string level)
    {
        await AssertRefusedAsync($"{{ \"Logging\": {{ \"LogLevel\": {{ \"{category}\": \"{level}\" }} }} }}",
            $"Logging:LogLevel:{category}", ServerSettings.LogLevelNames);
    }

    [Fact]
    public async Task LogFormat_MustBeTextOrJson()
    {
        await AssertRefusedAsync("{ \"Logging\": { \"Format\": \"xml\" } }", "Logging:Format", "text, json");
    }

    [Fact]
    public async Task LogFormatOption_IsValidated_AndMapsToTheKey()
    {
        Assert.Equal(CliExit.Usage, await _cli.RunAsync("--log-format", "yaml"));
        Assert.Contains("--log-format", _cli.Error.ToString(), StringComparison.Ordinal);
        Assert.Null(_cli.Served);

        Assert.Equal(0, await _cli.RunAsync("--log-format", "JSON"));
        Assert.Equal("JSON", _cli.ServedConfiguration![CicadaLogging.FormatKey]);
    }

    [Fact]
    public async Task EveryProblem_IsReported_NotOnlyTheFirst()
    {
        var json = "{ \"Mqtt\": { \"ReceiveMaximum\": 0, \"Bogus\": 1 }, \"Broker\": { \"MaxInflight\": 70000 } }";

        Assert.Equal(CliExit.Usage, await RunWithConfigAsync(json));

        var error = _cli.Error.ToString();
        Assert.Contains("Mqtt:ReceiveMaximum", error, StringComparison.Ordinal);
        Assert.Contains("Mqtt:Bogus", error, StringComparison.Ordinal);
        Assert.Contains("Broker:MaxInflight", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BadValueFromTheEnvironment_IsRefusedToo()
    {
        _cli.Environment["CICADA_MQTT__MAXPACKETSIZE"] = "8";

        Assert.Equal(CliExit.Usage, await _cli.RunAsync());
        Assert.Contains("MAXPACKETSIZE", _cli.Error.ToString().ToUpperInvariant(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("src/Cicada.Server/appsettings.json")]
    [InlineData("docs/cicada.example.json")]
    public async Task ShippedConfigurationFiles_AreValid(string relativePath)
    {
        var file = Path.Combine(RepositoryRoot(), relativePath);

        Assert.Equal(0, await _cli.RunAsync("--config", file));
        Assert.Equal(string.Empty, _cli.Error.ToString());
    }

    [Fact]
    public async Task ExampleConfiguration_IsReadWithItsComments()
    {
        Assert.Equal(0, await _cli.RunAsync("--config", Path.Combine(RepositoryRoot(), "docs/cicada.example.json")));

        Assert.Equal("/var/lib/cicada", _cli.Served!.DataDirectory);
        Assert.Equal("10", _cli.ServedConfiguration!["Sys:IntervalSeconds"]);
    }

    [Fact]
    public void EveryKey_IsDocumented_AndInTheExample()
    {
        var docs = File.ReadAllText(Path.Combine(RepositoryRoot(), "docs", "configuration.md"));
        var example = File.ReadAllText(Path.Combine(RepositoryRoot(), "docs", "cicada.example.json"));
        // Set by the host from Coap:Listen, not by the operator.
        var hostSet = new[] { "Coap:DualMode" };

        var keys = ConfigurationRules.BoundKeys().Except(hostSet)
            .Concat(["Storage:Kind", "Storage:DataDir", "Storage:BusyTimeoutSeconds", "Sys:IntervalSeconds", "Logging:Format", "Logging:LogLevel:Default"])
            .Distinct().ToList();

        Assert.Contains("Mqtt:MaxPacketSize", keys);
        Assert.All(keys, key =>
        {
            Assert.True(docs.Contains($"`{key}`", StringComparison.Ordinal), $"docs/configuration.md does not document `{key}`");
            var name = key[(key.LastIndexOf(':') + 1)..];
            Assert.True(example.Contains($"\"{name}\"", StringComparison.Ordinal), $"docs/cicada.example.json has no \"{name}\" ({key})");
        });
    }

    internal static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Cicada.slnx")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Cicada.slnx not found above " + AppContext.BaseDirectory);
    }
}
