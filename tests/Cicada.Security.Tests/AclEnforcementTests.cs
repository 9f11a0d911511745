using Cicada.Security.Tests.Infrastructure;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Cicada.Security.Tests;

/// <summary>One broker with users alice and bob and an ACL file in mosquitto's format.</summary>
public sealed class AclBrokerFixture : IAsyncLifetime
{
    public const string AlicePassword = "alice-secret";
    public const string BobPassword = "bob-secret";

    public SecureBroker Broker { get; private set; } = null!;

    public async Task InitializeAsync() => Broker = await SecureBroker.StartAsync(new SecureBrokerSettings
    {
        Users = new Dictionary<string, string> { ["alice"] = AlicePassword, ["bob"] = BobPassword },
        Acl = """
            # anonymous clients only (before any user line, as mosquitto)
            topic read public/#
            pattern readwrite users/%u/#
            pattern write devices/%c/#

            user alice
            topic readwrite home/#
            topic deny home/secret/#
            topic read devices/#

            user bob
            topic read home/public/#
            """,
    });

    public async Task DisposeAsync() => await Broker.DisposeAsync();
}

/// <summary>The ACL applied by the MQTT edge: SUBACK/PUBACK codes per version, and nothing unreadable delivered.</summary>
public sealed class AclEnforcementTests(AclBrokerFixture fixture) : IClassFixture<AclBrokerFixture>
{
    private static readonly MqttClientFactory Factory = new();

    private int Port => fixture.Broker.Port;

    private Task<RawMqttClient> ConnectRawAsync(string clientId, string user, string password) =>
        RawMqttClient.ConnectAcceptedAsync(Port, new ConnectOptions { ClientId = clientId, UserName = user, Password = password });

    private async Task<IMqttClient> ConnectV5Async(string clientId, string user, string password)
    {
        var client = Factory.CreateMqttClient();
        using var timeout = new CancellationTokenSource(Timeouts.Connect);
        await client.ConnectAsync(new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", Port)
            .WithClientId(clientId)
            .WithCredentials(user, password)
            .WithProtocolVersion(MqttProtocolVersion.V500)
            .Build(), timeout.Token);
        return client;
    }

    [Fact]
    public async Task RulesBeforeTheFirstUserLine_AreTheAnonymousSection_AsMosquittoAclFile()
    {
        // mosquitto.conf(5) acl_file: "The first set of topics are applied to anonymous clients";
        // a client with a username gets its own section (and the patterns) instead.
        await using var anonymous = await RawMqttClient.ConnectAcceptedAsync(Port, "anon-acl-section");
        Assert.Equal([0x00], (await anonymous.SubscribeAsync("public/#", 0)).SubAckReturnCodes);

        await using var bob = await ConnectRawAsync("bob-acl-section", "bob", AclBrokerFixture.BobPassword);
        Assert.Equal([0x80, 0x00], (await bob.SubscribeAsync(("public/#", 0), ("home/public/#", 0))).SubAckReturnCodes);
    }

    [Fact]
    public async Task V311_DeniedFilter_GetsSubAck0x80_AndTheClientNeverReceivesWhatItMayNotRead()
    {
        await using var bob = await ConnectRawAsync("bob-v3", "bob", AclBrokerFixture.BobPassword);

        // MQTT-3.9.3: one code per filter, in order; 0x80 = failure.
        var subAck = await bob.SubscribeAsync(("home/#", 1), ("home/public/#", 1), ("home/+/lamp", 0));
        Assert.Equal([0x80, 0x01, 0x80], subAck.SubAckReturnCodes);

        foreach (var topic in new[] { "home/kitchen/lamp", "home/secret/door", "home/public/lamp" })
        {
            var published = await Mosquitto.PublishAsync(Port, topic, "x", "-q", "1", "-u", "alice", "-P", AclBrokerFixture.AlicePassword);
            Assert.True(published.ExitCode == 0, published.ToString());
        }

        await Mosquitto.PublishAsync(Port, "home/public/end", "end", "-q", "1", "-u", "alice", "-P", AclBrokerFixture.AlicePassword);
        var before = await bob.ReceiveUntilAsync("home/public/end");
        Assert.Equal(["home/public/lamp"], before.Select(p => p.Topic));
    }

    [Fact]
    public async Task V5_DeniedSubscribe_Is0x87_AndDeniedPublish_IsPubAckAndPubRec0x87()
    {
        using var bob = await ConnectV5Async("bob-v5", "bob", AclBrokerFixture.BobPassword);

        var subscribed = await bob.SubscribeAsync(Factory.CreateSubscribeOptionsBuilder()
            .WithTopicFilter("home/#", MqttQualityOfServiceLevel.AtLeastOnce)
            .WithTopicFilter("home/public/#", MqttQualityOfServiceLevel.AtLeastOnce)
            .Build());
        Assert.Equal([MqttClientSubscribeResultCode.NotAuthorized, MqttClientSubscribeResultCode.GrantedQoS1],
            subscribed.Items.Select(i => i.ResultCode));

        // MQTT 5 §3.4.2.1: PUBACK 0x87.
        var result = await bob.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("home/public/lamp").WithPayload("on")
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, result.ReasonCode);

        // MQTT 5 §3.5.2.1: PUBREC 0x87 (MQTTnet reports any failed PUBREC as "unspecified"; mosquitto_pub names the code).
        var qos2 = await Mosquitto.PublishAsync(Port, "home/public/lamp", "on", "-q", "2", "-V", "mqttv5", "-u", "bob", "-P", AclBrokerFixture.BobPassword);
        Assert.Contains("Not authorized", qos2.StandardError, StringComparison.Ordinal);

        // MQTT 5 §4.8.2: a shared subscription is judged by its filter, not by the group.
        var shared = await bob.SubscribeAsync(Factory.CreateSubscribeOptionsBuilder()
            .WithTopicFilter("$share/g/home/#")
            .WithTopicFilter("$share/g/home/public/+")
            .Build());
        Assert.Equal([MqttClientSubscribeResultCode.NotAuthorized, MqttClientSubscribeResultCode.GrantedQoS0],
            shared.Items.Select(i => i.ResultCode));

        Assert.True(bob.IsConnected); // a denial is an answer, not a disconnect
    }

    [Fact]
    public async Task V311_DeniedPublish_IsAcknowledged_ButNotRouted_AndLogged()
    {
        await using var alice = await ConnectRawAsync("alice-watch", "alice", AclBrokerFixture.AlicePassword);
        Assert.Equal([0x01], (await alice.SubscribeAsync("home/public/#", 1)).SubAckReturnCodes);
        await using var bob = await ConnectRawAsync("bob-pub", "bob", AclBrokerFixture.BobPassword);

        // QoS 1 and 2 flows complete as for an accepted publish (mosquitto does the same).
        await bob.PublishAsync("home/public/lamp", "from bob q1", qos: 1);
        await bob.PublishAsync("home/public/lamp", "from bob q2", qos: 2);
        await bob.PublishAsync("home/public/lamp", "from bob q0");
        await bob.AssertOpenAsync();

        await using var aliceSender = await ConnectRawAsync("alice-pub", "alice", AclBrokerFixture.AlicePassword);
        await aliceSender.PublishAsync("home/public/end", "end", qos: 1);
        Assert.Empty(await alice.ReceiveUntilAsync("home/public/end"));
        await fixture.Broker.WaitForLogAsync("bob-pub (user bob) may not publish to 'home/public/lamp'");
    }

    [Fact]
    public async Task DenyRule_OverridesAGrant_ForPublishAndForEveryFilterReachingIntoIt()
    {
        await using var alice = await ConnectRawAsync("alice-deny", "alice", AclBrokerFixture.AlicePassword);

        var subAck = await alice.SubscribeAsync(("home/#", 0), ("home/secret/door", 0), ("home/kitchen/#", 0));
        Assert.Equal([0x80, 0x80, 0x00], subAck.SubAckReturnCodes);

        using var alice5 = await ConnectV5Async("alice-deny-5", "alice", AclBrokerFixture.AlicePassword);
        var denied = await alice5.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("home/secret/door").WithPayload("open")
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, denied.ReasonCode);
    }

    [Fact]
    public async Task Patterns_SubstituteUsernameAndClientId_WithMosquittoClients()
    {
        string[] alice = ["-u", "alice", "-P", AclBrokerFixture.AlicePassword];
        string[] bob = ["-u", "bob", "-P", AclBrokerFixture.BobPassword];

        // %u: each user has users/<name>/#, and only that.
        await using var own = await Mosquitto.SubscribeAsync(Port, "users/alice/#", alice);
        var foreign = await ExternalProcess.RunAsync("mosquitto_sub",
            ["-h", "127.0.0.1", "-p", SecureBroker.Invariant(Port), "-V", "mqttv5", "-t", "users/alice/#", "-W", "5", .. bob], Timeouts.ExternalClient);
        Assert.Contains("denied", foreign.StandardError, StringComparison.OrdinalIgnoreCase);

        await Mosquitto.PublishAsync(Port, "users/alice/inbox", "from bob", ["-q", "1", .. bob]);
        await Mosquitto.PublishAsync(Port, "users/alice/inbox", "from alice", ["-q", "1", .. alice]);
        Assert.Equal([("users/alice/inbox", "from alice")], await Mosquitto.ReceiveUntilAsync(own, "users/alice/inbox"));

        // %c: a device writes under its own client id only, even anonymously.
        await using var devices = await Mosquitto.SubscribeAsync(Port, "devices/#", alice);
        await Mosquitto.PublishAsync(Port, "devices/dev-43/state", "forged", "-q", "1", "-i", "dev-42");
        await Mosquitto.PublishAsync(Port, "devices/dev-42/state", "on", "-q", "1", "-i", "dev-42");
        Assert.Equal([("devices/dev-42/state", "on")], await Mosquitto.ReceiveUntilAsync(devices, "devices/dev-42/state"));
    }

    [Fact]
    public async Task WillOnATopicTheClientMayNotWrite_RefusesTheConnect()
    {
        // The will would be published later on the client's behalf, past every publish check.
        var (client, connAck) = await RawMqttClient.ConnectAsync(Port, new ConnectOptions
        {
            ClientId = "bob-will",
            UserName = "bob",
            Password = AclBrokerFixture.BobPassword,
            WillTopic = "home/public/alarm",
            WillPayload = "bob is gone"u8.ToArray(),
        });
        await using (client)
        {
            Assert.Equal(0x05, connAck.ReturnCode); // MQTT-3.2.2.3: 5 = not authorized
        }
    }
}

/// <summary>The ACL file is re-read while the broker runs.</summary>
public sealed class AclReloadTests
{
    [Fact]
    public async Task ChangedAclFile_AppliesToNewSubscriptionsAndPublishes_WithoutARestart()
    {
        await using var broker = await SecureBroker.StartAsync(new SecureBrokerSettings { Acl = "topic readwrite a/#\n" });
        await using var client = await RawMqttClient.ConnectAcceptedAsync(broker.Port, "reloader");
        Assert.Equal([0x80], (await client.SubscribeAsync("b/#", 0)).SubAckReturnCodes);

        File.WriteAllText(broker.AclFile, "topic readwrite b/#\n# now b, no longer a\n");
        await broker.WaitForLogAsync("rules, 0 users"); // the second "loaded" line follows the first
        var deadline = DateTime.UtcNow.AddSeconds(10);
        byte code;
        do
        {
            await Task.Delay(200);
            code = (await client.SubscribeAsync("b/#", 0)).SubAckReturnCodes[0];
        }
        while (code != 0 && DateTime.UtcNow < deadline);
        Assert.Equal(0, code);
        Assert.Equal([0x80], (await client.SubscribeAsync("a/#", 0)).SubAckReturnCodes);

        // An invalid edit keeps the rules in force.
        File.WriteAllText(broker.AclFile, "topic readwrite c/#\nthis is not a rule\n");
        await broker.WaitForLogAsync("the previous rules stay in force");
        Assert.Equal([0x00, 0x80], (await client.SubscribeAsync(("b/x", 0), ("c/x", 0))).SubAckReturnCodes);
    }
}
