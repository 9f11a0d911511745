using System.Buffers;
using System.Text;
using Cicada.Core;
using Cicada.Fuzz.Tests.Engine;
using Cicada.Mqtt.Protocol;
using Cicada.Mqtt.Protocol.V5;

namespace Cicada.Fuzz.Tests;

/// <summary>
/// The MQTT framer and every decoder of a client packet (MQTT 3.1.1 §2-§3, MQTT 5 §2-§3), fed with
/// mutated real client traffic: each input is a byte stream, framed by <see cref="MqttFrameReader"/>
/// (split into random segments, as a pipe delivers it) and each frame decoded as the connection
/// does. Only <see cref="MqttProtocolException"/> may escape (MQTT-4.8.0-1: the connection closes).
/// </summary>
public sealed class MqttCodecFuzzTests
{
    private const int MaxPacketSize = 1024 * 1024;

    [Fact]
    public void Mqtt311_Decoders_ThrowOnlyMqttProtocolException() =>
        FuzzRun.Run("mqtt311", Corpus.Load("mqtt311"), input => DecodeStream(input, v5: false), ex => ex is MqttProtocolException);

    [Fact]
    public void Mqtt5_Decoders_ThrowOnlyMqttProtocolException() =>
        FuzzRun.Run("mqtt5", Corpus.Load("mqtt5"), input => DecodeStream(input, v5: true), ex => ex is MqttProtocolException);

    /// <summary>MQTT-3.3.2: a PUBLISH the broker encodes decodes to the same topic, payload, QoS, retain and properties.</summary>
    [Fact]
    public void Publish_EncodeThenDecode_RoundTrips()
    {
        var random = new Random(20_240_901);
        var props = new PropertyCodec.Builder();
        for (var i = 0; i < 2_000; i++)
        {
            var topic = RandomTopic(random);
            var payload = new byte[random.Next(0, random.Next(4) == 0 ? 70_000 : 200)];
            random.NextBytes(payload);
            var qos = (QoS)random.Next(3);
            var retain = random.Next(2) == 1;
            var v5 = random.Next(2) == 1;
            var properties = v5 && random.Next(2) == 1
                ? new MessageProperties
                {
                    ContentType = "application/x-" + random.Next(1000),
                    ResponseTopic = RandomTopic(random),
                    CorrelationData = payload.AsMemory(0, Math.Min(payload.Length, 8)),
                    PayloadIsUtf8 = random.Next(2) == 1,
                    UserProperties = [new("k" + random.Next(10), "v\u00e9" + random.Next(10))],
                }
                : null;
            var message = new Message(topic, payload, qos, retain, properties);
            var encoded = v5
                ? MqttV5Encoder.EncodePublish(message, qos, retain, dup: false, props, remainingExpiry: 30, subscriptionId: 0,
                    moreSubscriptionIds: null, topicAlias: 0, omitTopic: false)
                : MqttEncoder.EncodePublish(message, qos, retain, dup: false);
            var bytes = (byte[])encoded.Bytes.Clone();
            if (encoded.IdOffset >= 0)
            {
                bytes[encoded.IdOffset] = 0x12;
                bytes[encoded.IdOffset + 1] = 0x34;
            }

            var sequence = new ReadOnlySequence<byte>(bytes);
            Assert.Equal(FrameStatus.Done, MqttFrameReader.TryRead(ref sequence, int.MaxValue, out var frame, out var size));
            Assert.Equal(bytes.Length, size);
            var packet = MqttDecoder.DecodePublish(frame.Flags, frame.Body.ToArray(), v5);

            Assert.Equal(topic, packet.Topic);
            Assert.Equal(payload, packet.Payload);
            Assert.Equal(qos, packet.Qos);
            Assert.Equal(retain, packet.Retain);
            Assert.Equal(qos == QoS.AtMostOnce ? 0 : 0x1234, packet.PacketId);
            if (v5)
            {
                Assert.Equal(30u, packet.Properties?.MessageExpiryInterval);
                Assert.Equal(properties?.ContentType, packet.Properties?.ContentType);
                Assert.Equal(properties?.ResponseTopic, packet.Properties?.ResponseTopic);
                Assert.Equal(properties?.UserProperties, packet.Properties?.UserProperties);
                Assert.Equal(properties?.CorrelationData.ToArray(), packet.Properties?.CorrelationData);
            }
        }
    }

    private static string RandomTopic(Random random)
    {
        var levels = random.Next(1, 6);
        var builder = new StringBuilder();
        for (var i = 0; i < levels; i++)
        {
            if (i > 0)
            {
                builder.Append('/');
            }

            builder.Append(random.Next(3) switch { 0 => "temp", 1 => "k\u00fcche", _ => "s" + random.Next(100) });
        }

        return builder.ToString();
    }

    /// <summary>Frames the stream as the connection's read loop does and decodes each packet by type.</summary>
    internal static void DecodeStream(byte[] input, bool v5)
    {
        var sequence = Segments(input);
        while (true)
        {
            var status = MqttFrameReader.TryRead(ref sequence, MaxPacketSize, out var frame, out _);
            if (status != FrameStatus.Done)
            {
                return; // NeedMoreData waits; Malformed / TooLarge close the connection (§2.2.3, §3.2.2.3.6)
            }

            MqttDecoder.CheckFlags(frame);
            Decode(frame, v5);
        }
    }

    private static void Decode(MqttFrame frame, bool v5)
    {
        var body = frame.Body.ToArray();
        var filters = new List<TopicRequest>();
        var names = new List<string>();
        switch (frame.Type)
        {
            case MqttPacketType.Connect:
                MqttDecoder.DecodeConnect(body);
                break;
            case MqttPacketType.Publish:
                MqttDecoder.DecodePublish(frame.Flags, body, v5);
                break;
            case MqttPacketType.PubAck or MqttPacketType.PubRec or MqttPacketType.PubRel or MqttPacketType.PubComp:
                _ = v5 ? MqttDecoder.DecodeAckV5(body).PacketId : MqttDecoder.DecodePacketId(body);
                break;
            case MqttPacketType.Subscribe:
                MqttDecoder.DecodeSubscribe(body, filters, v5, out _);
                break;
            case MqttPacketType.Unsubscribe:
                MqttDecoder.DecodeUnsubscribe(body, names, v5);
                break;
            case MqttPacketType.Disconnect when v5:
                MqttDecoder.DecodeReasonAndProperties(body, PropertyContext.Disconnect);
                break;
            case MqttPacketType.Auth when v5:
                MqttDecoder.DecodeReasonAndProperties(body, PropertyContext.Auth);
                break;
        }
    }

    /// <summary>The stream cut into up to three segments, so the multi-segment paths run too.</summary>
    private static ReadOnlySequence<byte> Segments(byte[] input)
    {
        if (input.Length < 3)
        {
            return new ReadOnlySequence<byte>(input);
        }

        var a = input.Length / 3;
        var b = 2 * input.Length / 3;
        var first = new Segment(input.AsMemory(0, a));
        var last = first.Append(input.AsMemory(a, b - a)).Append(input.AsMemory(b));
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory) => Memory = memory;

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }
}
