using Cicada.Interop.Tests.Infrastructure;

namespace Cicada.Interop.Tests;

/// <summary>
/// MQTT 5 normative statements that bind a server and are not the subject of a feature class of
/// their own (docs/conformance-mqtt.md lists where every other one is tested).
/// </summary>
public sealed class V5NormativeStatementTests(BrokerFixture fixture) : IClassFixture<BrokerFixture>
{
    private readonly int _port = fixture.Port;

    [Fact]
    public async Task MQTT_3_1_4_6_packets_after_a_refused_CONNECT_are_not_processed()
    {
        var topic = TestNames.Topic("refused");
        await using var watcher = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("watch"));
        await watcher.SubscribeV5Async(topic);
        await using var refused = await RawMqttClient.OpenAsync(_port);

        // Receive Maximum 0 is a Protocol Error (§3.1.2.11.3): CONNACK 0x82; the PUBLISH behind it must be ignored.
        var connect = V5Packets.Connect(new V5Connect { ClientId = TestNames.ClientId("bad"), Properties = new V5Props().UInt16(Prop.ReceiveMaximum, 0) });
        await refused.SendIgnoringErrorsAsync([.. connect, .. V5Packets.Publish(topic, "must not be routed", qos: 1, packetId: 1)]);
        var packets = await refused.ExpectClosedAsync();

        Assert.All(packets, p => Assert.Equal(PacketType.ConnAck, p.Type)); // no PUBACK; MQTT-3.14.0-1: no DISCONNECT
        if (packets.Count > 0 || !BrokerProcess.IsMosquitto) // the CONNACK is a MAY (§3.1.4); mosquitto just closes
        {
            var connAck = V5ConnAck.From(Assert.Single(packets));
            Assert.Equal((false, (byte)0x82), (connAck.SessionPresent, connAck.Reason)); // MQTT-3.2.2-6
        }

        await using var publisher = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("pub"));
        await publisher.PublishV5Async(topic, "sentinel", qos: 1);
        Assert.Equal("sentinel", (await watcher.ReceiveV5Async()).PayloadText);
    }

    [Fact]
    public async Task MQTT_3_8_4_3_a_second_SUBSCRIBE_to_the_same_filter_replaces_the_subscription()
    {
        var topic = TestNames.Topic("replace");
        await using var client = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("rep"));
        Assert.Equal([0x02], await client.SubscribeV5Async(topic, qos: 2, subscriptionId: 7));

        Assert.Equal([0x00], await client.SubscribeV5Async(topic, qos: 0, subscriptionId: 8));
        await using var publisher = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("pub"));
        await publisher.PublishV5Async(topic, "one", qos: 2);
        await publisher.PublishV5Async(topic, "two", qos: 2);

        // One subscription, with the new options: QoS 0 (MQTT-3.8.4-8) and identifier 8 only.
        var first = await client.ReceiveV5Async();
        var second = await client.ReceiveV5Async();
        Assert.Equal(("one", 0), (first.PayloadText, first.QoS));
        Assert.Equal(("two", 0), (second.PayloadText, second.QoS));
        Assert.Equal([8], first.SubscriptionIds);
        Assert.Equal([8], second.SubscriptionIds);
    }

    [Fact]
    public async Task MQTT_1_5_5_1_a_property_length_not_in_its_shortest_form_gets_DISCONNECT_0x81()
    {
        var topic = TestNames.Topic("vbi");
        await using var client = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("vbi"));

        // PUBLISH QoS 0: topic, then a property length of 0 written as 0x80 0x00, then the payload.
        byte[] body = [0x00, (byte)topic.Length, .. System.Text.Encoding.UTF8.GetBytes(topic), 0x80, 0x00, (byte)'x'];
        await client.SendIgnoringErrorsAsync(MqttPackets.Frame(0x30, body));

        await client.ExpectDisconnectAsync(0x81);
    }

    [Fact]
    public async Task MQTT_3_3_2_4_and_3_3_2_20_payload_format_and_content_type_are_forwarded_unaltered_at_every_QoS()
    {
        var topic = TestNames.Topic("pfi");
        await using var client = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("pfi"));
        await client.SubscribeV5Async(topic, qos: 2);
        await using var publisher = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("pub"));

        for (var qos = 0; qos <= 2; qos++)
        {
            await publisher.PublishV5Async(topic, "", qos, props: new V5Props().Byte(Prop.PayloadFormatIndicator, 1).String(Prop.ContentType, "My name"));
            var received = await client.ReceiveV5Async();
            Assert.Equal((qos, (byte?)1, "My name"),
                (received.QoS, received.Properties.Get<byte?>(Prop.PayloadFormatIndicator), received.Properties.Get<string>(Prop.ContentType)));
        }
    }
}
