using System.Buffers;
using Cicada.Core;
using Cicada.Mqtt.Protocol;

namespace Cicada.Bridge.Tests;

/// <summary>The client packets the bridge writes, read back by the server's own decoder (what a broker checks).</summary>
public sealed class MqttClientCodecTests
{
    private static BridgeSettings Settings(bool v5, bool clean = false, string? user = "bridge-user", string? password = "s3cret") => new()
    {
        Name = "b",
        Host = "h",
        Port = 1883,
        ClientId = "cicada-bridge-b",
        V5 = v5,
        CleanSession = clean,
        KeepAliveSeconds = 45,
        Username = user,
        Password = password,
        Topics = [],
    };

    private static (MqttFrame Frame, byte[] Body) Frame(ArrayBufferWriter<byte> writer)
    {
        var buffer = new ReadOnlySequence<byte>(writer.WrittenMemory);
        Assert.Equal(FrameStatus.Done, MqttFrameReader.TryRead(ref buffer, 1 << 20, out var frame, out var size));
        Assert.Equal(writer.WrittenCount, size);
        return (frame, frame.Body.ToArray());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Connect_IsAValidConnect_MQTT_3_1_2(bool v5)
    {
        var writer = new ArrayBufferWriter<byte>();
        MqttClientCodec.WriteConnect(writer, Settings(v5), 65_536);

        var (frame, body) = Frame(writer);
        Assert.Equal(MqttPacketType.Connect, frame.Type);
        var connect = MqttDecoder.DecodeConnect(body);
        Assert.Equal("MQTT", connect.ProtocolName);
        Assert.Equal(v5 ? MqttProtocolLevel.V5 : MqttProtocolLevel.V311, connect.ProtocolLevel);
        Assert.Equal(("cicada-bridge-b", "bridge-user", "s3cret", (ushort)45, false),
            (connect.ClientId, connect.Username, System.Text.Encoding.UTF8.GetString(connect.Password!), connect.KeepAliveSeconds, connect.CleanSession));
        Assert.Null(connect.WillTopic);
        if (v5)
        {
            // A persistent session that never expires (MQTT 5 §3.1.2.11.2), and our Maximum Packet Size.
            Assert.Equal(uint.MaxValue, connect.Properties!.SessionExpiryInterval);
            Assert.Equal(65_536u, connect.Properties.MaximumPacketSize);
        }
    }

    [Fact]
    public void Connect_V311_NoPasswordWithoutAUsername_MQTT_3_1_2_22()
    {
        var writer = new ArrayBufferWriter<byte>();
        MqttClientCodec.WriteConnect(writer, Settings(v5: false, clean: true, user: null), 1024);

        var connect = MqttDecoder.DecodeConnect(Frame(writer).Body);
        Assert.Null(connect.Username);
        Assert.Null(connect.Password);
        Assert.True(connect.CleanSession);
    }

    [Fact]
    public void Subscribe_V5_AsksForNoLocalAndRetainAsPublished_MQTT_3_8_3_3()
    {
        var writer = new ArrayBufferWriter<byte>();
        MqttClientCodec.WriteSubscribe(writer, 7, [("a/#", QoS.AtLeastOnce), ("b", QoS.ExactlyOnce)], v5: true);

        var (frame, body) = Frame(writer);
        MqttDecoder.CheckFlags(frame); // MQTT-3.8.1-1: flags 0010
        var filters = new List<TopicRequest>();
        Assert.Equal(7, MqttDecoder.DecodeSubscribe(body, filters, v5: true, out _));
        Assert.Equal([new TopicRequest("a/#", QoS.AtLeastOnce, true, true, 1), new TopicRequest("b", QoS.ExactlyOnce, true, true, 1)], filters);
    }

    [Fact]
    public void Subscribe_V311_IsPlain()
    {
        var writer = new ArrayBufferWriter<byte>();
        MqttClientCodec.WriteSubscribe(writer, 1, [("x/+", QoS.AtMostOnce)], v5: false);

        var filters = new List<TopicRequest>();
        MqttDecoder.DecodeSubscribe(Frame(writer).Body, filters);
        Assert.Equal([new TopicRequest("x/+", QoS.AtMostOnce)], filters);
    }

    [Fact]
    public void ConnAck_V5_ReadsTheServerOnlyProperties()
    {
        // flags: session present; reason 0; properties: Receive Maximum 10, Maximum QoS 1, Retain Available 0, Server Keep Alive 20, Assigned Client Identifier "z".
        byte[] body = [1, 0, 14, 0x21, 0, 10, 0x24, 1, 0x25, 0, 0x13, 0, 20, 0x12, 0, 1, (byte)'z'];

        var ack = MqttClientCodec.DecodeConnAck(body, v5: true);

        Assert.True(ack.SessionPresent);
        Assert.Equal(0, ack.Code);
        Assert.Equal(((ushort?)10, (byte?)1, (byte?)0, (ushort?)20, "z"),
            (ack.Properties!.ReceiveMaximum, ack.Properties.MaximumQos, ack.Properties.RetainAvailable, ack.Properties.ServerKeepAlive, ack.Properties.AssignedClientIdentifier));
    }

    [Fact]
    public void ConnAck_ReservedFlags_AreAProtocolError_MQTT_3_2_2_1()
    {
        Assert.Throws<MqttProtocolException>(() => MqttClientCodec.DecodeConnAck([2, 0], v5: false));
    }

    [Fact]
    public void SubAck_CodesInOrder()
    {
        var ack = MqttClientCodec.DecodeSubAck([0, 9, 0, 1, 0x80], v5: true);

        Assert.Equal(9, ack.PacketId);
        Assert.Equal([1, 0x80], ack.Codes);
    }
}
