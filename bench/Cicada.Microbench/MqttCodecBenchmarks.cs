using System.Buffers;
using BenchmarkDotNet.Attributes;
using Cicada.Core;
using Cicada.Mqtt.Protocol;

namespace Cicada.Microbench;

/// <summary>Decode and encode of the packets on the hot path.</summary>
[MemoryDiagnoser]
public class MqttCodecBenchmarks
{
    private readonly ArrayBufferWriter<byte> _writer = new(4096);
    private byte[] _publishBody = null!;
    private byte[] _frame = null!;
    private Message _message = null!;

    [GlobalSetup]
    public void Setup()
    {
        _message = new Message("home/kitchen/temperature", new byte[64], QoS.AtLeastOnce, retain: false);
        var encoded = MqttEncoder.EncodePublish(_message, QoS.AtLeastOnce, retain: false, dup: false);
        _frame = encoded.Bytes;
        _frame[encoded.IdOffset + 1] = 42; // a real packet id: 0 is refused (MQTT-2.3.1-1)
        _publishBody = _frame[2..];
    }

    [Benchmark]
    public int FramePublish()
    {
        var sequence = new ReadOnlySequence<byte>(_frame);
        MqttFrameReader.TryRead(ref sequence, 1 << 20, out var frame, out var size);
        return size + frame.Flags;
    }

    [Benchmark]
    public int DecodePublish() => MqttDecoder.DecodePublish(0b0010, _publishBody).Payload.Length;

    [Benchmark]
    public int EncodePublishShared()
    {
        // What each subscriber costs: copy the shared encoding and patch its packet id.
        _writer.ResetWrittenCount();
        var encoded = _message.GetOrAddEncoding(3, 0, static (m, _) => MqttEncoder.EncodePublish(m, QoS.AtLeastOnce, false, false));
        MqttEncoder.WritePublish(_writer, encoded, 42);
        return _writer.WrittenCount;
    }
}
