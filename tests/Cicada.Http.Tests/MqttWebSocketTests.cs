using System.Net.WebSockets;
using System.Text.Json;
using Cicada.Http.Tests.Support;

namespace Cicada.Http.Tests;

/// <summary>
/// MQTT over WebSocket at <c>/mqtt</c> (MQTT 3.1.1 §6): MQTT.js at protocol version 4, and raw
/// WebSocket framing. MQTT 5 over WebSocket: <see cref="MqttWebSocketV5Tests"/>.
/// </summary>
public sealed class MqttWebSocketTests(BrokerFixture fixture) : IClassFixture<BrokerFixture>
{
    private readonly BrokerProcess _broker = fixture.Broker;

    private static string Prefix() => "ws" + Guid.NewGuid().ToString("N")[..10];

    private static JsonElement[] Received(JsonElement result) => [.. result.GetProperty("received").EnumerateArray()];

    [Fact]
    public void MqttJs_QoS0_1_2_AreDeliveredAtTheirQoS_MQTT_4_3()
    {
        var result = MqttJs.Run(_broker.WebSocketUrl, "qos", Prefix());
        Assert.Equal([2], result.GetProperty("granted").EnumerateArray().Select(g => g.GetInt32()));
        var received = Received(result);
        Assert.Equal(["m0", "m1", "m2"], received.Select(m => m.GetProperty("payload").GetString()));
        Assert.Equal([0, 1, 2], received.Select(m => m.GetProperty("qos").GetInt32()));
    }

    [Fact]
    public void MqttJs_RetainedMessage_IsSentToANewSubscriber_WithRetainSet_MQTT_3_3_1_6()
    {
        var message = Assert.Single(Received(MqttJs.Run(_broker.WebSocketUrl, "retained", Prefix())));
        Assert.Equal("on", message.GetProperty("payload").GetString());
        Assert.True(message.GetProperty("retain").GetBoolean());
    }

    [Fact]
    public void MqttJs_Will_IsPublished_WhenTheWebSocketDropsWithoutDisconnect_MQTT_3_1_2_8()
    {
        var message = Assert.Single(Received(MqttJs.Run(_broker.WebSocketUrl, "will", Prefix())));
        Assert.Equal("gone", message.GetProperty("payload").GetString());
    }

    [Fact]
    public void MqttJs_LargeMessage_SpanningManyFrames_ArrivesWhole()
    {
        var result = MqttJs.Run(_broker.WebSocketUrl, "large", Prefix());
        Assert.Equal(300 * 1024, result.GetProperty("size").GetInt32());
        Assert.True(result.GetProperty("same").GetBoolean());
    }

    [Fact]
    public async Task PacketSplitAcrossFrames_AndPacketsSharingAFrame_AreDecoded_MQTT_6_0_0_2()
    {
        using var ws = new ClientWebSocket();
        ws.Options.AddSubProtocol("mqtt");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await ws.ConnectAsync(new Uri(_broker.WebSocketUrl), timeout.Token);
        Assert.Equal("mqtt", ws.SubProtocol);

        // CONNECT (3.1.1, clean session, keep alive 30, client id "raw") in two frames of one message...
        byte[] connect = [0x10, 15, 0, 4, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', 4, 0x02, 0, 30, 0, 3, (byte)'r', (byte)'a', (byte)'w'];
        await ws.SendAsync(connect.AsMemory(0, 5), WebSocketMessageType.Binary, endOfMessage: false, timeout.Token);
        await ws.SendAsync(connect.AsMemory(5), WebSocketMessageType.Binary, endOfMessage: true, timeout.Token);

        // ...then SUBSCRIBE (id 1, "raw/t" QoS 0) and PINGREQ in one frame.
        byte[] subscribeAndPing = [0x82, 10, 0, 1, 0, 5, (byte)'r', (byte)'a', (byte)'w', (byte)'/', (byte)'t', 0, 0xC0, 0];
        await ws.SendAsync(subscribeAndPing, WebSocketMessageType.Binary, endOfMessage: true, timeout.Token);

        var bytes = new List<byte>();
        var buffer = new byte[256];
        while (bytes.Count < 4 + 5 + 2)
        {
            var result = await ws.ReceiveAsync(buffer, timeout.Token);
            Assert.Equal(WebSocketMessageType.Binary, result.MessageType); // MQTT-6.0.0-1
            bytes.AddRange(buffer.AsSpan(0, result.Count).ToArray());
        }

        // CONNACK accepted, SUBACK granting QoS 0 for id 1, PINGRESP.
        Assert.Equal(new byte[] { 0x20, 2, 0, 0, 0x90, 3, 0, 1, 0, 0xD0, 0 }, bytes.ToArray());
        await ws.CloseAsync(WebSocketCloseStatus.NormalClosure, null, timeout.Token);
    }

    [Fact]
    public async Task SubprotocolMqttv31_IsAnsweredWithTheOneOffered()
    {
        using var ws = new ClientWebSocket();
        ws.Options.AddSubProtocol("mqttv3.1");
        await ws.ConnectAsync(new Uri(_broker.WebSocketUrl), CancellationToken.None);
        Assert.Equal("mqttv3.1", ws.SubProtocol);
        ws.Abort();
    }

    [Fact]
    public async Task WithoutTheMqttSubprotocol_TheHandshakeIsRefused_MQTT_6_0_0_3()
    {
        using var ws = new ClientWebSocket();
        ws.Options.AddSubProtocol("chat");
        await Assert.ThrowsAsync<WebSocketException>(() => ws.ConnectAsync(new Uri(_broker.WebSocketUrl), CancellationToken.None));
    }

    [Fact]
    public async Task TextFrame_ClosesTheConnection_MQTT_6_0_0_1()
    {
        using var ws = new ClientWebSocket();
        ws.Options.AddSubProtocol("mqtt");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await ws.ConnectAsync(new Uri(_broker.WebSocketUrl), timeout.Token);
        await ws.SendAsync("hello"u8.ToArray(), WebSocketMessageType.Text, endOfMessage: true, timeout.Token);

        var closed = false;
        try
        {
            var result = await ws.ReceiveAsync(new byte[16], timeout.Token);
            closed = result.MessageType == WebSocketMessageType.Close;
        }
        catch (WebSocketException)
        {
            closed = true; // aborted without a close frame
        }

        Assert.True(closed);
    }
}
