using Cicada.Interop.Tests.Infrastructure;

namespace Cicada.Interop.Tests;

/// <summary>MQTT 5 §3.4-§3.7 acknowledgements with reason codes, both ways, and §4.3 the QoS flows they end.</summary>
public sealed class V5AcknowledgementTests(BrokerFixture fixture) : IClassFixture<BrokerFixture>
{
    private readonly int _port = fixture.Port;

    [SkippableFact]
    public async Task Section_3_7_2_1_PUBREL_for_an_unknown_packet_id_gets_PUBCOMP_0x92()
    {
        V5Deviation.SkipOnMosquitto("it answers a PUBREL for a packet id it does not hold with PUBCOMP 0x00 instead of 0x92 Packet Identifier not found");
        await using var client = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("rel"));

        await client.SendAsync(MqttPackets.PubRel(4242));
        var pubComp = await client.ReadPacketAsync(PacketType.PubComp);

        Assert.Equal((4242, 0x92), (pubComp.PacketId, pubComp.AckReason()));
        await client.AssertOpenAsync();
    }

    [Fact]
    public async Task Section_3_5_2_1_a_known_QoS_2_flow_completes_with_success_codes()
    {
        await using var client = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("ok"));

        await client.SendAsync(V5Packets.Publish(TestNames.Topic("ok"), "x", 2, packetId: 9));
        var pubRec = await client.ReadPacketAsync(PacketType.PubRec);
        await client.SendAsync(V5Packets.Ack(0x62, 9, 0x00, new V5Props().String(Prop.ReasonString, "fine").User("k", "v")));
        var pubComp = await client.ReadPacketAsync(PacketType.PubComp);

        Assert.True(pubRec.AckReason() < 0x80); // 0x00, or 0x10 No matching subscribers
        Assert.Equal((9, 0x00), (pubComp.PacketId, pubComp.AckReason()));
    }

    [SkippableFact]
    public async Task Section_3_4_2_1_a_publish_no_subscription_matches_gets_0x10_No_matching_subscribers()
    {
        V5Deviation.OptionalOnMosquitto("0x10 No matching subscribers (a server MAY use it instead of 0x00)");
        var topic = TestNames.Topic("nobody");
        await using var client = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("none"));

        Assert.Equal(0x10, await client.PublishV5Async(topic, "one", qos: 1));
        Assert.Equal(0x10, await client.PublishV5Async(topic, "two", qos: 2)); // PUBREC 0x10, then PUBREL/PUBCOMP as usual (§3.5.2.1)

        await client.SubscribeV5Async(topic, qos: 1);
        Assert.Equal(0x00, await client.PublishV5Async(topic, "three", qos: 1));
        Assert.Equal("three", (await client.ReceiveV5Async()).PayloadText);
    }

    [Fact]
    public async Task MQTT_3_4_2_a_3_1_1_client_gets_the_two_byte_PUBACK_when_no_subscription_matches()
    {
        await using var client = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("v3"));

        await client.SendAsync(MqttPackets.Publish(TestNames.Topic("nobody"), "x", qos: 1, packetId: 5));
        var pubAck = await client.ReadPacketAsync(PacketType.PubAck);

        Assert.Equal(5, pubAck.PacketId);
        Assert.Equal(2, pubAck.Body.Length); // 3.1.1 has no reason codes
    }

    [Fact]
    public async Task MQTT_4_3_3_9_a_PUBREC_with_an_error_reason_ends_the_flow_without_PUBREL()
    {
        var topic = TestNames.Topic("rec");
        await using var subscriber = await V5Client.ConnectAcceptedAsync(_port, new V5Connect { ClientId = TestNames.ClientId("sub"), ReceiveMaximum = 1 });
        await subscriber.SubscribeV5Async(topic, 2);
        await using var publisher = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("pub"));
        await publisher.PublishV5Async(topic, "refused", 2);
        await publisher.PublishV5Async(topic, "next", 2);

        var first = await subscriber.ReadV5PublishAsync();
        await subscriber.SendAsync(V5Packets.Ack(0x50, first.PacketId, 0x80)); // PUBREC: Unspecified error

        // No PUBREL for it; and the slot it held under Receive Maximum 1 is free again.
        var next = await subscriber.ReadPacketAsync();
        Assert.Equal(PacketType.Publish, next.Type);
        Assert.Equal("next", V5Publish.From(next).PayloadText);
    }

    [Fact]
    public async Task Section_3_4_2_1_a_PUBACK_with_an_error_reason_still_ends_the_QoS_1_flow()
    {
        var topic = TestNames.Topic("ack");
        await using var subscriber = await V5Client.ConnectAcceptedAsync(_port, new V5Connect { ClientId = TestNames.ClientId("sub"), ReceiveMaximum = 1 });
        await subscriber.SubscribeV5Async(topic, 1);
        await using var publisher = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("pub"));
        await publisher.PublishV5Async(topic, "refused", 1);
        await publisher.PublishV5Async(topic, "next", 1);

        var first = await subscriber.ReadV5PublishAsync();
        await subscriber.SendAsync(V5Packets.Ack(0x40, first.PacketId, 0x83, new V5Props().String(Prop.ReasonString, "cannot"))); // Implementation specific error

        Assert.Equal("next", (await subscriber.ReceiveV5Async()).PayloadText);
    }

    [SkippableFact]
    public async Task Section_3_6_2_1_PUBREC_for_an_unknown_packet_id_gets_PUBREL_0x92()
    {
        V5Deviation.SkipOnMosquitto("it answers a PUBREC for a packet id it never sent with PUBREL 0x00 instead of 0x92 Packet Identifier not found");
        await using var client = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("rec"));

        await client.SendAsync(MqttPackets.PubRec(777));
        var pubRel = await client.ReadPacketAsync(PacketType.PubRel);

        Assert.Equal((0x62, (ushort)777, (byte)0x92), (pubRel.Header, pubRel.PacketId, pubRel.AckReason()));
    }

    [Fact]
    public async Task MQTT_4_3_3_10_a_resent_QoS_2_publish_is_acknowledged_again_but_delivered_once()
    {
        var topic = TestNames.Topic("dup");
        var sentinel = TestNames.Topic("sentinel");
        await using var subscriber = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("sub"));
        await subscriber.SubscribeV5Async(null, (topic, V5Packets.Options(2)), (sentinel, V5Packets.Options(1)));
        await using var publisher = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("pub"));

        await publisher.SendAsync(V5Packets.Publish(topic, "once"u8.ToArray(), 2, packetId: 3));
        await publisher.ReadPacketAsync(PacketType.PubRec);
        await publisher.SendAsync(V5Packets.Publish(topic, "once"u8.ToArray(), 2, packetId: 3, dup: true));
        await publisher.ReadPacketAsync(PacketType.PubRec);
        await publisher.SendAsync(MqttPackets.PubRel(3));
        await publisher.ReadPacketAsync(PacketType.PubComp);
        await publisher.PublishV5Async(sentinel, "end", 1);

        Assert.Equal(["once"], (await subscriber.ReceiveV5UntilAsync(sentinel)).Select(p => p.PayloadText));
    }
}
