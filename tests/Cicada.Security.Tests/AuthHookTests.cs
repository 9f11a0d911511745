using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Cicada.Security.Tests.Infrastructure;

namespace Cicada.Security.Tests;

/// <summary>A broker with a users file (alice) and an HTTP auth hook that allows only hooked/hook-pass.</summary>
public sealed class AuthHookFixture : IAsyncLifetime
{
    public const string AlicePassword = "alice-secret";
    public const string HookedUser = "hooked";
    public const string HookedPassword = "hook-pass";

    public AuthHook Hook { get; private set; } = null!;

    public SecureBroker Broker { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Hook = AuthHook.Start(new Dictionary<string, string> { [HookedUser] = HookedPassword });
        Broker = await SecureBroker.StartAsync(new SecureBrokerSettings
        {
            Users = new Dictionary<string, string> { ["alice"] = AlicePassword },
            Http = true,
            Configuration = new Dictionary<string, string>
            {
                ["Auth:HookUrl"] = Hook.Url,
                // Far longer than the tests run: the cache must be what stops a second call, not luck.
                ["Auth:HookCacheSeconds"] = "600",
                // The default 2 s fails closed when a loaded run is slow to answer the first call
                // (cold HttpClient in the broker, busy thread pool here): a denial a test never meant.
                ["Auth:HookTimeoutMilliseconds"] = "10000",
            },
        });
    }

    public async Task DisposeAsync()
    {
        await Broker.DisposeAsync();
        await Hook.DisposeAsync();
    }
}

/// <summary>README "Authentication hook": users file first, then the hook; answers cached; fail closed.</summary>
public sealed class AuthHookTests(AuthHookFixture fixture) : IClassFixture<AuthHookFixture>
{
    private int Port => fixture.Broker.Port;

    private int CallsFor(string clientId) =>
        fixture.Hook.Requests.Count(r => r.GetProperty("client_id").GetString() == clientId);

    private async Task<byte> ConnectCodeAsync(string clientId, string user, string password, MqttVersion version)
    {
        var (client, connAck) = await RawMqttClient.ConnectAsync(Port,
            new ConnectOptions { ClientId = clientId, UserName = user, Password = password, Version = version });
        await client.DisposeAsync();
        return connAck.ReturnCode;
    }

    /// <summary>An MQTT 5 CONNECT (§3.1) with username and password; returns the CONNACK reason code (§3.2.2.2).</summary>
    private async Task<byte> ConnectV5CodeAsync(string clientId, string user, string password)
    {
        static byte[] Text(string value)
        {
            var bytes = Encoding.UTF8.GetBytes(value);
            return [(byte)(bytes.Length >> 8), (byte)bytes.Length, .. bytes];
        }

        // Protocol name, level 5, flags: username + password + clean start, keep alive 60, no properties.
        byte[] body = [.. Text("MQTT"), 5, 0xC2, 0, 60, 0, .. Text(clientId), .. Text(user), .. Text(password)];
        Assert.True(body.Length < 128); // one-byte remaining length
        await using var client = await RawMqttClient.OpenAsync(Port);
        await client.SendAsync([0x10, (byte)body.Length, .. body]);
        return (await client.ReadPacketAsync(PacketType.ConnAck)).ReturnCode;
    }

    [Fact]
    public async Task UserAllowedByTheHook_Connects_AndTheHookGetsTheDocumentedJson()
    {
        var published = await Mosquitto.PublishAsync(Port, "hook/allowed", "x",
            "-i", "hook-allow-1", "-u", AuthHookFixture.HookedUser, "-P", AuthHookFixture.HookedPassword);
        Assert.True(published.ExitCode == 0, published.ToString());

        var request = Assert.Single(fixture.Hook.Requests, r => r.GetProperty("client_id").GetString() == "hook-allow-1");
        Assert.Equal(AuthHookFixture.HookedUser, request.GetProperty("username").GetString());
        Assert.Equal(AuthHookFixture.HookedPassword, request.GetProperty("password").GetString());
        Assert.Equal("mqtt", request.GetProperty("protocol").GetString());
        Assert.Contains("127.0.0.1", request.GetProperty("remote").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task SecondLoginWithinTheTtl_IsAnsweredFromTheCache_WithoutCallingTheHook()
    {
        for (var i = 0; i < 3; i++)
        {
            var published = await Mosquitto.PublishAsync(Port, "hook/cached", "x",
                "-i", "hook-cache-1", "-u", AuthHookFixture.HookedUser, "-P", AuthHookFixture.HookedPassword);
            Assert.True(published.ExitCode == 0, published.ToString());
        }

        Assert.Equal(1, CallsFor("hook-cache-1"));

        // The cache is per (username, password, client id): another client id is asked about.
        Assert.Equal(0, await ConnectCodeAsync("hook-cache-2", AuthHookFixture.HookedUser, AuthHookFixture.HookedPassword, MqttVersion.V311));
        Assert.Equal(1, CallsFor("hook-cache-2"));
    }

    [Fact]
    public async Task UserDeniedByTheHook_GetsBadCredentials_V311_0x04_V5_0x86_AndTheDenialIsCached()
    {
        // MQTT 3.1.1 §3.2.2.3: 0x04 bad user name or password; MQTT 5 §3.2.2.2: 0x86 Bad User Name or Password.
        Assert.Equal(0x04, await ConnectCodeAsync("hook-deny-3", "mallory", "guess", MqttVersion.V311));
        Assert.Equal(0x86, await ConnectV5CodeAsync("hook-deny-5", "mallory", "guess"));
        // The right user with a wrong password is denied too: the hook judges the pair.
        Assert.Equal(0x04, await ConnectCodeAsync("hook-deny-p", AuthHookFixture.HookedUser, "wrong", MqttVersion.V311));

        var refused = await Mosquitto.PublishAsync(Port, "hook/denied", "x", "-i", "hook-deny-3", "-u", "mallory", "-P", "guess");
        Assert.NotEqual(0, refused.ExitCode);

        Assert.Equal(1, CallsFor("hook-deny-3")); // the mosquitto_pub retry was answered from the cache
        Assert.Equal(1, CallsFor("hook-deny-5"));
        Assert.Equal(1, CallsFor("hook-deny-p"));
    }

    [Fact]
    public async Task HttpBasic_GoesThroughTheSameHook_WithNoEdgeOfItsOwn()
    {
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{fixture.Broker.HttpPort}") };
        async Task<HttpStatusCode> PostAsync(string user, string password)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/topics/hook/http") { Content = new StringContent("x") };
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic",
                Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));
            using var response = await http.SendAsync(request);
            return response.StatusCode;
        }

        Assert.True((int)await PostAsync(AuthHookFixture.HookedUser, AuthHookFixture.HookedPassword) is >= 200 and < 300);
        Assert.Equal(HttpStatusCode.Unauthorized, await PostAsync("http-mallory", "guess")); // RFC 7235 §3.1
        Assert.Contains(fixture.Hook.Requests, r => r.GetProperty("username").GetString() == "http-mallory"
            && r.GetProperty("protocol").GetString() == "http");
    }

    [Fact]
    public async Task UserInTheUsersFile_IsDecidedByTheFileAlone_NeverByTheHook()
    {
        Assert.Equal(0, await ConnectCodeAsync("hook-file-ok", "alice", AuthHookFixture.AlicePassword, MqttVersion.V311));
        Assert.Equal(0x04, await ConnectCodeAsync("hook-file-bad", "alice", "not-alices", MqttVersion.V311));

        Assert.Equal(0, fixture.Hook.CallsFor("alice"));
    }
}

/// <summary>A hook that does not answer refuses the logins it would decide (fail closed), with a warning.</summary>
public sealed class AuthHookDownTests
{
    [Fact]
    public async Task HookDown_RefusesUnknownUsers_LogsAWarning_AndUsersFileUsersStillConnect()
    {
        var (holder, deadUrl) = AuthHook.Dead();
        using var _ = holder;
        await using var broker = await SecureBroker.StartAsync(new SecureBrokerSettings
        {
            Users = new Dictionary<string, string> { ["alice"] = AuthHookFixture.AlicePassword },
            Configuration = new Dictionary<string, string>
            {
                ["Auth:HookUrl"] = deadUrl,
                ["Auth:HookTimeoutMilliseconds"] = "1000",
            },
        });

        async Task<byte> CodeAsync(string clientId, string user, string password)
        {
            var (client, connAck) = await RawMqttClient.ConnectAsync(broker.Port,
                new ConnectOptions { ClientId = clientId, UserName = user, Password = password });
            await client.DisposeAsync();
            return connAck.ReturnCode;
        }

        Assert.Equal(0x04, await CodeAsync("down-1", "anyone", "pw"));
        await broker.WaitForLogAsync("Auth hook http://127.0.0.1:");
        // Failures are not cached, and still refused.
        Assert.Equal(0x04, await CodeAsync("down-1", "anyone", "pw"));
        Assert.Equal(0, await CodeAsync("down-alice", "alice", AuthHookFixture.AlicePassword));
    }
}
