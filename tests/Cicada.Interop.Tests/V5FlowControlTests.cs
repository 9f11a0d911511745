using Cicada.Interop.Tests.Infrastructure;

namespace Cicada.Interop.Tests;

/// <summary>MQTT 5 §4.9 flow control (Receive Maximum both ways) and §3.1.2.11.4 the client's Maximum Packet Size.</summary>
public sealed class V5FlowControlTests(BrokerFixture fixture) : IClassFixture<BrokerFixture>
{
    private readonly int _port = fixture.Port;

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task MQTT_3_3_4_9_the_clients_receive_maximum_caps_the_servers_unacknowledged_publishes(int qos)
    {
        var topic = TestNames.Topic("rm");
        await using var subscriber = await V5Client.ConnectAcceptedAsync(_port, new V5Connect { ClientId = TestNames.ClientId("sub"), ReceiveMaximum = 1 });
        await subscriber.SubscribeV5Async(topic, qos);
        await using var publisher = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("pub"));
        await publisher.PublishV5Async(topic, "first", qos);
        await publisher.PublishV5Async(topic, "second", qos);

        var first = await subscriber.ReadV5PublishAsync();
        Assert.Equal("first", first.PayloadText);
        await BrokerAssert.NothingMoreAsync(subscriber); // the second waits for the first's acknowledgement

        if (qos == 1)
        {
            await subscriber.SendAsync(MqttPackets.PubAck(first.PacketId));
        }
        else
        {
            // QoS 2 counts until PUBCOMP (§4.9): PUBREC alone does not free the slot.
            await subscriber.SendAsync(MqttPackets.PubRec(first.PacketId));
            var pubRel = await subscriber.ReadPacketAsync(PacketType.PubRel);
            Assert.Equal(first.PacketId, pubRel.PacketId);
            await BrokerAssert.NothingMoreAsync(subscriber);
            await subscriber.SendAsync(MqttPackets.PubComp(first.PacketId));
        }

        Assert.Equal("second", (await subscriber.ReceiveV5Async()).PayloadText);
    }

    [SkippableFact]
    public async Task MQTT_3_3_4_8_more_unacknowledged_QoS_2_publishes_than_our_receive_maximum_gets_DISCONNECT_0x93()
    {
        V5Deviation.SkipOnMosquitto("past its Receive Maximum it answers PUBREC 0x97 Quota exceeded and stays connected instead of DISCONNECT 0x93 (§3.3.4)");
        var (client, connAck) = await V5Client.ConnectAsync(_port, new V5Connect { ClientId = TestNames.ClientId("flood") });
        await using var _ = client;
        var receiveMaximum = connAck.Properties.Get<ushort?>(Prop.ReceiveMaximum) ?? 65_535;
        var topic = TestNames.Topic("flood");

        // Never PUBREL: every QoS 2 publish stays unacknowledged (§4.9).
        var burst = new List<byte>();
        for (var id = 1; id <= receiveMaximum + 1; id++)
        {
            burst.AddRange(V5Packets.Publish(topic, "x", qos: 2, packetId: (ushort)id));
        }

        await client.SendIgnoringErrorsAsync([.. burst]);

        // The PUBRECs owed before the offending publish may or may not have gone out: the connection is closing.
        var packets = await client.ExpectClosedAsync();
        Assert.InRange(packets.Count(p => p.Type == PacketType.PubRec), 0, receiveMaximum);
        Assert.Equal(0x93, packets[^1].DisconnectReason());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public async Task MQTT_3_1_2_25_a_message_larger_than_the_clients_maximum_is_not_sent_and_the_next_one_is(int qos)
    {
        var topic = TestNames.Topic("max");
        await using var subscriber = await V5Client.ConnectAcceptedAsync(_port, new V5Connect { ClientId = TestNames.ClientId("sub"), MaximumPacketSize = 200 });
        await subscriber.SubscribeV5Async(topic, qos);
        await using var publisher = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("pub"));

        await publisher.PublishV5Async(topic, new string('x', 500), qos);
        await publisher.PublishV5Async(topic, "small", qos);

        var received = await subscriber.ReceiveV5Async();
        Assert.Equal("small", received.PayloadText);
        await BrokerAssert.NothingMoreAsync(subscriber);
    }

    [SkippableFact]
    public async Task MQTT_3_1_2_25_the_limit_counts_the_whole_packet()
    {
        V5Deviation.SkipOnMosquitto("it sends a PUBLISH one byte larger than the client's Maximum Packet Size, which §3.1.2.11.4 defines as the total packet size");
        var topic = TestNames.Topic("edge");
        await using var subscriber = await V5Client.ConnectAcceptedAsync(_port, new V5Connect { ClientId = TestNames.ClientId("sub"), MaximumPacketSize = 100 });
        await subscriber.SubscribeV5Async(topic, 0);
        await using var publisher = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("pub"));
        var overhead = 2 + 2 + System.Text.Encoding.UTF8.GetByteCount(topic) + 1; // fixed header (1 + 1 length byte), topic, empty property block
        var fits = new string('f', 100 - overhead);

        await publisher.PublishV5Async(topic, fits + "!", 0); // 101 bytes: one too many
        await publisher.PublishV5Async(topic, fits, 0);       // exactly 100 bytes

        Assert.Equal(fits, (await subscriber.ReceiveV5Async()).PayloadText);
        await BrokerAssert.NothingMoreAsync(subscriber);
    }
}

/// <summary>MQTT 5 §3.2.2.3.6: the server's Maximum Packet Size, announced and enforced with DISCONNECT 0x95.</summary>
public sealed class V5PacketTooLargeTests(SmallPacketBrokerFixture fixture) : IClassFixture<SmallPacketBrokerFixture>
{
    private readonly int _port = fixture.Port;

    [Fact]
    public async Task Section_3_2_2_3_6_CONNACK_announces_the_maximum_packet_size()
    {
        var (client, connAck) = await V5Client.ConnectAsync(_port, new V5Connect { ClientId = TestNames.ClientId("max") });
        await using var _ = client;

        Assert.Equal((uint)SmallPacketBrokerFixture.MaxPacketSize, connAck.Properties.Get<uint?>(Prop.MaximumPacketSize));
    }

    [Fact]
    public async Task MQTT_3_2_2_15_a_packet_larger_than_the_servers_maximum_gets_DISCONNECT_0x95()
    {
        await using var client = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("big"));

        await client.SendIgnoringErrorsAsync(V5Packets.Publish(TestNames.Topic("big"), new string('x', 2 * SmallPacketBrokerFixture.MaxPacketSize), qos: 1, packetId: 1));

        await client.ExpectDisconnectAsync(0x95);
        await BrokerAssert.StillServesAsync(_port);
    }
}
