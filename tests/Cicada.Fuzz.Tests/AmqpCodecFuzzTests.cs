using System.Buffers;
using Cicada.Amqp.Protocol;
using Cicada.Fuzz.Tests.Engine;

namespace Cicada.Fuzz.Tests;

/// <summary>
/// The AMQP 0-9-1 framer (§4.2.3), method argument decoding (§4.2.5 data types, field tables and
/// arrays), content headers (§4.2.6.1) and the AMQPLAIN table, fed with mutated real pika traffic.
/// Only <see cref="AmqpException"/> (a connection.close / channel.close reply code) may escape.
/// </summary>
public sealed class AmqpCodecFuzzTests
{
    /// <summary>
    /// Argument layouts of the methods a client sends (amqp0-9-1.xml), in the order the channel reads
    /// them: o octet, s short, l long, L long-long, b bit, S short string, T long string, F table.
    /// </summary>
    private static readonly Dictionary<uint, string> ClientMethods = new()
    {
        [Method(10, 11)] = "FSTS",
        [Method(10, 31)] = "sls",
        [Method(10, 40)] = "SSb",
        [Method(10, 50)] = "sSss",
        [Method(10, 51)] = string.Empty,
        [Method(20, 10)] = "S",
        [Method(20, 20)] = "b",
        [Method(20, 21)] = "b",
        [Method(20, 40)] = "sSss",
        [Method(20, 41)] = string.Empty,
        [Method(40, 10)] = "sSSbbbbbF",
        [Method(40, 20)] = "sSbb",
        [Method(50, 10)] = "sSbbbbbF",
        [Method(50, 20)] = "sSSSbF",
        [Method(50, 30)] = "sSb",
        [Method(50, 40)] = "sSbbb",
        [Method(50, 50)] = "sSSSF",
        [Method(60, 10)] = "lsb",
        [Method(60, 20)] = "sSSbbbbF",
        [Method(60, 30)] = "Sb",
        [Method(60, 40)] = "sSSbb",
        [Method(60, 70)] = "sSb",
        [Method(60, 80)] = "Lb",
        [Method(60, 90)] = "Lb",
        [Method(60, 100)] = "b",
        [Method(60, 110)] = "b",
        [Method(60, 120)] = "Lbb",
        [Method(85, 10)] = "b",
        [Method(90, 10)] = string.Empty,
        [Method(90, 20)] = string.Empty,
        [Method(90, 30)] = string.Empty,
    };

    [Fact]
    public void Amqp_FramesMethodsAndTables_ThrowOnlyAmqpException() =>
        FuzzRun.Run("amqp", Corpus.Load("amqp"), DecodeStream, ex => ex is AmqpException);

    /// <summary>§4.2.5.5 / §4.2.6.1: tables and content properties pika sent re-encode to what decodes the same.</summary>
    [Fact]
    public void Amqp_CapturedTablesAndProperties_RoundTrip()
    {
        var checkedTables = 0;
        var checkedHeaders = 0;
        foreach (var input in Corpus.Load("amqp"))
        {
            var sequence = new ReadOnlySequence<byte>(input);
            if (AmqpFrameReader.TryRead(ref sequence, uint.MaxValue, out var frame, out _) != FrameStatus.Done)
            {
                continue; // the protocol header
            }

            var payload = frame.Payload.ToArray();
            if (frame.Type == FrameType.Header)
            {
                var header = ContentHeader.Read(payload);
                var encoded = header.Properties.Encode();
                Assert.Equal(header.RawProperties, encoded);
                checkedHeaders++;
            }
            else if (frame.Type == FrameType.Method && ClientMethods.TryGetValue(Method(payload), out var layout) && layout.Contains('F', StringComparison.Ordinal))
            {
                var reader = new AmqpReader(payload.AsSpan(4));
                foreach (var field in layout)
                {
                    if (field == 'F')
                    {
                        var table = reader.ReadTable();
                        var writer = new FrameWriter(64);
                        writer.WriteTable(table);
                        var first = writer.Written.ToArray();
                        var again = new AmqpReader(first).ReadTable();
                        var rewriter = new FrameWriter(64);
                        rewriter.WriteTable(again);
                        Assert.Equal(first, rewriter.Written.ToArray());
                        Assert.Equal(table.Keys, again.Keys);
                        checkedTables++;
                        break;
                    }

                    ReadField(ref reader, field);
                }
            }
        }

        Assert.True(checkedHeaders >= 2, $"{checkedHeaders} content headers in the corpus");
        Assert.True(checkedTables >= 5, $"{checkedTables} tables in the corpus");
    }

    private static void DecodeStream(byte[] input)
    {
        ReadOnlySpan<byte> bytes = input;
        if (bytes.StartsWith("AMQP"u8))
        {
            bytes = bytes[Math.Min(8, bytes.Length)..];
        }

        var sequence = new ReadOnlySequence<byte>(bytes.ToArray());
        while (AmqpFrameReader.TryRead(ref sequence, FrameType.MinFrameMax * 64, out var frame, out _) == FrameStatus.Done)
        {
            var payload = frame.Payload.ToArray();
            switch (frame.Type)
            {
                case FrameType.Method:
                    DecodeMethod(payload);
                    break;
                case FrameType.Header:
                    ContentHeader.Read(payload);
                    break;
            }
        }
    }

    private static void DecodeMethod(byte[] payload)
    {
        var reader = new AmqpReader(payload);
        var method = (uint)reader.ReadShort() << 16 | reader.ReadShort();
        if (!ClientMethods.TryGetValue(method, out var layout))
        {
            return;
        }

        object? previous = null;
        foreach (var field in layout)
        {
            var value = ReadField(ref reader, field);
            if (method == Method(10, 11) && field == 'T' && value is byte[] response && previous is "AMQPLAIN")
            {
                // connection.start-ok: an AMQPLAIN response is a table without its length (RabbitMQ auth mechanisms).
                AmqpReader.ReadTableBody(response);
            }

            previous = value;
        }
    }

    private static object? ReadField(ref AmqpReader reader, char field) => field switch
    {
        'o' => reader.ReadOctet(),
        's' => reader.ReadShort(),
        'l' => reader.ReadLong(),
        'L' => reader.ReadLongLong(),
        'b' => reader.ReadBit(),
        'S' => reader.ReadShortString(),
        'T' => reader.ReadLongStringBytes().ToArray(),
        'F' => reader.ReadTable(),
        _ => throw new ArgumentOutOfRangeException(nameof(field)),
    };

    private static uint Method(ushort classId, ushort methodId) => (uint)classId << 16 | methodId;

    private static uint Method(byte[] payload) => payload.Length < 4 ? 0 : (uint)(payload[0] << 8 | payload[1]) << 16 | (uint)(payload[2] << 8 | payload[3]);
}
