using System.Text;
using Cicada.Amqp.Protocol;

namespace Cicada.Amqp.Tests;

/// <summary>AMQP 0-9-1 rules of the basic and tx classes (and a few queue rules that need deliveries), and the shared helpers.</summary>
public sealed partial class ConformanceTests
{
    // ---- basic ----

    [Fact]
    public async Task Spec_Basic_Publish_Immediate_Is540()
    {
        await using var wire = await AmqpWire.OpenOkAsync(Port);
        await wire.OpenChannelAsync(1);

        wire.Publish(1, string.Empty, "k", "x"u8.ToArray(), immediate: true);
        await wire.FlushAsync();

        await AssertConnectionErrorAsync(wire, ReplyCode.NotImplemented);
    }

    [Fact]
    public async Task Spec_Basic_Qos_PrefetchSize_Is540()
    {
        await using var wire = await AmqpWire.OpenOkAsync(Port);
        await wire.OpenChannelAsync(1);

        wire.Send(1, Method.BasicQos, w =>
        {
            w.WriteLong(65536);
            w.WriteShort(0);
            w.WriteBit(false);
        });
        await wire.FlushAsync();

        await AssertConnectionErrorAsync(wire, ReplyCode.NotImplemented);
    }

    [Fact]
    public async Task Spec_Basic_Consume_ReusedConsumerTag_Is530()
    {
        await using var wire = await AmqpWire.OpenOkAsync(Port);
        await wire.OpenChannelAsync(1);
        var queue = await wire.DeclareQueueAsync(1);
        Assert.Equal(Method.BasicConsumeOk, (await wire.CallAsync(1, Method.BasicConsume, w => ConsumeArgs(w, queue, "same"))).Method);

        wire.Send(1, Method.BasicConsume, w => ConsumeArgs(w, queue, "same"));
        await wire.FlushAsync();

        await AssertConnectionErrorAsync(wire, ReplyCode.NotAllowed);
    }

    [Fact]
    public async Task Spec_Basic_Consume_ExclusiveOnAQueueWithConsumers_Is403()
    {
        await using var wire = await AmqpWire.OpenOkAsync(Port);
        await wire.OpenChannelAsync(1);
        var queue = await wire.DeclareQueueAsync(1);
        Assert.Equal(Method.BasicConsumeOk, (await wire.CallAsync(1, Method.BasicConsume, w => ConsumeArgs(w, queue, "first"))).Method);

        wire.Send(1, Method.BasicConsume, w => ConsumeArgs(w, queue, "second", exclusive: true));
        await wire.FlushAsync();

        await AssertChannelErrorAsync(wire, 1, ReplyCode.AccessRefused);
    }

    [Fact]
    public async Task Spec_Basic_Cancel_UnknownConsumerTag_IsCancelOk()
    {
        await using var wire = await AmqpWire.OpenOkAsync(Port);
        await wire.OpenChannelAsync(1);

        var ok = await wire.CallAsync(1, Method.BasicCancel, w =>
        {
            w.WriteShortString("never-was");
            w.WriteBit(false);
        });

        Assert.Equal(Method.BasicCancelOk, ok.Method);
        Assert.Equal("never-was", new AmqpReader(ok.Arguments).ReadShortString());
    }

    [Fact]
    public async Task Spec_Basic_DeliveryTags_AreChannelLocal_StartAt1_AndAckedTwiceIs406()
    {
        await using var wire = await AmqpWire.OpenOkAsync(Port);
        await wire.OpenChannelAsync(1);
        await wire.OpenChannelAsync(2);
        var queue = await wire.DeclareQueueAsync(1);
        wire.Publish(1, string.Empty, queue, "a"u8.ToArray());
        wire.Publish(1, string.Empty, queue, "b"u8.ToArray());
        await wire.FlushAsync();

        var first = await GetAsync(wire, 1, queue);
        var second = await GetAsync(wire, 2, queue);

        // §basic.deliver delivery-tag: per channel, starting at 1 (0 is reserved for "all" in ack multiple).
        Assert.Equal(1ul, first);
        Assert.Equal(1ul, second);
        wire.Send(1, Method.BasicAck, w =>
        {
            w.WriteLongLong(1);
            w.WriteBit(false);
        });
        wire.Send(1, Method.BasicAck, w =>
        {
            w.WriteLongLong(1);
            w.WriteBit(false);
        });
        await wire.FlushAsync();
        await AssertChannelErrorAsync(wire, 1, ReplyCode.PreconditionFailed);
    }

    [Fact]
    public async Task Spec_Basic_Get_OnAnEmptyQueue_IsGetEmpty_AndRejectRequeueRedelivers()
    {
        await using var wire = await AmqpWire.OpenOkAsync(Port);
        await wire.OpenChannelAsync(1);
        var queue = await wire.DeclareQueueAsync(1);

        var empty = await wire.CallAsync(1, Method.BasicGet, w => GetArgs(w, queue));
        Assert.Equal(Method.BasicGetEmpty, empty.Method);

        wire.Publish(1, string.Empty, queue, "r"u8.ToArray());
        await wire.FlushAsync();
        var tag = await GetAsync(wire, 1, queue);
        wire.Send(1, Method.BasicReject, w =>
        {
            w.WriteLongLong(tag);
            w.WriteBit(true); // requeue
        });
        await wire.FlushAsync();
        var again = await GetOkAsync(wire, 1, queue);

        Assert.Equal(Method.BasicGetOk, again.Method);
        var reader = new AmqpReader(again.Arguments);
        reader.ReadLongLong();
        Assert.True(reader.ReadBit()); // §basic.reject requeue: redelivered is set
    }

    [Fact]
    public async Task Spec_Basic_Publish_MandatoryUnroutable_IsReturned312_WithItsContent()
    {
        await using var wire = await AmqpWire.OpenOkAsync(Port);
        await wire.OpenChannelAsync(1);
        var key = Unique("nobody");

        wire.Publish(1, "amq.direct", key, "back"u8.ToArray(), mandatory: true);
        await wire.FlushAsync();
        var returned = await wire.ReadMethodAsync();
        var header = await wire.ReadFrameAsync();
        var body = await wire.ReadFrameAsync();

        Assert.Equal(Method.BasicReturn, returned.Method);
        var reader = new AmqpReader(returned.Arguments);
        Assert.Equal(ReplyCode.NoRoute, reader.ReadShort());
        Assert.Equal("NO_ROUTE", reader.ReadShortString());
        Assert.Equal("amq.direct", reader.ReadShortString());
        Assert.Equal(key, reader.ReadShortString());
        Assert.Equal(FrameType.Header, header!.Value.Type);
        Assert.Equal("back", Encoding.UTF8.GetString(body!.Value.Payload));
    }

    [Fact]
    public async Task Spec_Exchange_Declare_BuiltInExchange_WithItsOwnProperties_IsDeclareOk()
    {
        await using var wire = await AmqpWire.OpenOkAsync(Port);
        await wire.OpenChannelAsync(1);

        // Clients routinely (re)declare amq.topic as RabbitMQ defines it: topic, durable.
        var ok = await wire.CallAsync(1, Method.ExchangeDeclare, w =>
        {
            w.WriteShort(0);
            w.WriteShortString("amq.topic");
            w.WriteShortString("topic");
            w.WriteBit(false);
            w.WriteBit(true); // durable
            w.WriteBit(false);
            w.WriteBit(false);
            w.WriteBit(false);
            w.WriteTable(null);
        });

        Assert.Equal(Method.ExchangeDeclareOk, ok.Method);
    }

    [Fact]
    public async Task Spec_Basic_Qos_Global_LimitsTheWholeChannel_AcrossConsumers()
    {
        await using var wire = await AmqpWire.OpenOkAsync(Port);
        await wire.OpenChannelAsync(1);
        var q1 = await wire.DeclareQueueAsync(1);
        var q2 = await wire.DeclareQueueAsync(1);
        foreach (var queue in new[] { q1, q1, q2, q2 })
        {
            wire.Publish(1, string.Empty, queue, "m"u8.ToArray());
        }

        Assert.Equal(Method.BasicQosOk, (await wire.CallAsync(1, Method.BasicQos, w =>
        {
            w.WriteLong(0);
            w.WriteShort(1);
            w.WriteBit(true); // global: RabbitMQ's channel-wide limit
        })).Method);
        wire.Send(1, Method.BasicConsume, w => ConsumeArgs(w, q1, "g1"));
        wire.Send(1, Method.BasicConsume, w => ConsumeArgs(w, q2, "g2"));
        await wire.FlushAsync();

        // Wait for both consume-oks and the first delivery (however slow the machine) …
        var frames = new List<WireFrame>();
        while (frames.Count(f => f.Method == Method.BasicConsumeOk) < 2 || !frames.Exists(f => f.Method == Method.BasicDeliver))
        {
            frames.Add(await wire.ReadFrameAsync() ?? throw new IOException("the server closed the connection"));
        }

        // … then a round trip: no second delivery may come while the first is unacknowledged.
        frames.AddRange(await ReadUntilQuietAsync(wire));
        var held = frames.Where(f => f.Method == Method.BasicDeliver).ToList();
        Assert.Single(held);
        var reader = new AmqpReader(held[0].Arguments);
        reader.ReadShortString(); // consumer-tag
        var tag = reader.ReadLongLong();
        wire.Send(1, Method.BasicAck, w =>
        {
            w.WriteLongLong(tag);
            w.WriteBit(false);
        });
        await wire.FlushAsync();
        var next = await wire.ReadMethodAsync();
        while (next.Method != Method.BasicDeliver)
        {
            next = await wire.ReadMethodAsync();
        }

        Assert.Equal(Method.BasicDeliver, next.Method);
    }

    [Fact]
    public async Task Spec_Basic_Ack_MultipleWithTag0_AcknowledgesEverythingOutstanding()
    {
        await using var wire = await AmqpWire.OpenOkAsync(Port);
        await wire.OpenChannelAsync(1);
        var queue = await wire.DeclareQueueAsync(1);
        for (var i = 0; i < 3; i++)
        {
            wire.Publish(1, string.Empty, queue, "m"u8.ToArray());
        }

        await wire.FlushAsync();
        for (var i = 0; i < 3; i++)
        {
            await GetAsync(wire, 1, queue);
        }

        wire.Send(1, Method.BasicAck, w =>
        {
            w.WriteLongLong(0);
            w.WriteBit(true); // multiple with tag 0: all outstanding (§basic.ack)
        });
        await wire.FlushAsync();
        wire.Send(1, Method.BasicRecover, w => w.WriteBit(true));
        await wire.FlushAsync();
        Assert.Equal(Method.BasicRecoverOk, (await wire.ReadMethodAsync()).Method);

        // Nothing came back with basic.recover: all three were acknowledged.
        Assert.Equal(Method.BasicGetEmpty, (await wire.CallAsync(1, Method.BasicGet, w => GetArgs(w, queue))).Method);
    }

    [Fact]
    public async Task Spec_4_2_6_2_ContentLargerThanFrameMax_IsSplitIntoBodyFramesWithinIt()
    {
        await using var wire = await AmqpWire.OpenOkAsync(Port, frameMax: 4096);
        await wire.OpenChannelAsync(1);
        var queue = await wire.DeclareQueueAsync(1);
        var body = new byte[10_000];
        Random.Shared.NextBytes(body);

        wire.Send(1, Method.BasicPublish, w =>
        {
            w.WriteShort(0);
            w.WriteShortString(string.Empty);
            w.WriteShortString(queue);
            w.WriteBit(false);
            w.WriteBit(false);
        });
        wire.SendHeader(1, (ulong)body.Length);
        for (var offset = 0; offset < body.Length; offset += 4000)
        {
            wire.SendBody(1, body.AsSpan(offset, Math.Min(4000, body.Length - offset)));
        }

        await wire.FlushAsync();
        await GetOkAsync(wire, 1, queue, noAck: true);
        Assert.Equal(FrameType.Header, (await wire.ReadFrameAsync())!.Value.Type);
        var received = new List<byte>();
        while (received.Count < body.Length)
        {
            var frame = (await wire.ReadFrameAsync())!.Value;
            Assert.Equal(FrameType.Body, frame.Type);
            Assert.True(frame.Payload.Length + 8 <= 4096, $"a body frame of {frame.Payload.Length + 8} bytes exceeds frame-max 4096");
            received.AddRange(frame.Payload);
        }

        Assert.Equal(body, received.ToArray());
    }

    [Theory]
    [InlineData(Method.TxCommit)]
    [InlineData(Method.TxRollback)]
    public async Task Spec_Tx_CommitOrRollback_OnANonTransactedChannel_Is406(uint method)
    {
        await using var wire = await AmqpWire.OpenOkAsync(Port);
        await wire.OpenChannelAsync(1);

        wire.Send(1, method);
        await wire.FlushAsync();

        await AssertChannelErrorAsync(wire, 1, ReplyCode.PreconditionFailed);
    }

    [Fact]
    public async Task Spec_Basic_Publish_ToAnInternalExchange_Is403()
    {
        await using var wire = await AmqpWire.OpenOkAsync(Port);
        await wire.OpenChannelAsync(1);
        var exchange = Unique("internal");
        Assert.Equal(Method.ExchangeDeclareOk, (await wire.CallAsync(1, Method.ExchangeDeclare, w =>
        {
            w.WriteShort(0);
            w.WriteShortString(exchange);
            w.WriteShortString("fanout");
            w.WriteBit(false);
            w.WriteBit(false);
            w.WriteBit(true); // auto-delete
            w.WriteBit(true); // internal
            w.WriteBit(false);
            w.WriteTable(null);
        })).Method);

        wire.Publish(1, exchange, "k", "x"u8.ToArray());
        await wire.FlushAsync();

        await AssertChannelErrorAsync(wire, 1, ReplyCode.AccessRefused);
    }

    private static void BindArgs(FrameWriter w, string queue, string exchange, string key)
    {
        w.WriteShort(0);
        w.WriteShortString(queue);
        w.WriteShortString(exchange);
        w.WriteShortString(key);
        w.WriteBit(false);
        w.WriteTable(null);
    }

    /// <summary>basic.get retried on get-empty for up to 10 s; returns get-ok (its content is still to be read).</summary>
    private static async Task<WireFrame> GetOkAsync(AmqpWire wire, ushort channel, string queue, bool noAck = false)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        var ok = await wire.CallAsync(channel, Method.BasicGet, w => GetArgs(w, queue, noAck));
        while (ok.Method == Method.BasicGetEmpty && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
            ok = await wire.CallAsync(channel, Method.BasicGet, w => GetArgs(w, queue, noAck));
        }

        Assert.Equal(Method.BasicGetOk, ok.Method);
        return ok;
    }

    /// <summary>basic.get (acknowledgement expected) with its content read; returns the delivery tag.</summary>
    private static async Task<ulong> GetAsync(AmqpWire wire, ushort channel, string queue)
    {
        var ok = await GetOkAsync(wire, channel, queue);
        await wire.ReadFrameAsync(); // header
        await wire.ReadFrameAsync(); // body
        return new AmqpReader(ok.Arguments).ReadLongLong();
    }

    private static async Task<string> GetBodyAsync(AmqpWire wire, ushort channel, string queue)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            var reply = await wire.CallAsync(channel, Method.BasicGet, w => GetArgs(w, queue, noAck: true));
            if (reply.Method == Method.BasicGetOk)
            {
                await wire.ReadFrameAsync(); // header
                var body = await wire.ReadFrameAsync();
                return Encoding.UTF8.GetString(body!.Value.Payload);
            }

            Assert.True(DateTime.UtcNow < deadline, "no message within 10 s");
            await Task.Delay(50);
        }
    }

    /// <summary>Frames that arrive until the connection has been quiet for a moment (a basic.qos round trip marks the end).</summary>
    private static async Task<List<WireFrame>> ReadUntilQuietAsync(AmqpWire wire)
    {
        // A round trip on the same channel: everything the server meant to send before it is in.
        await Task.Delay(300);
        wire.Send(1, Method.ExchangeDeclare, w =>
        {
            w.WriteShort(0);
            w.WriteShortString("amq.direct");
            w.WriteShortString("direct");
            w.WriteBit(true); // passive: changes nothing
            w.WriteBit(false);
            w.WriteBit(false);
            w.WriteBit(false);
            w.WriteBit(false);
            w.WriteTable(null);
        });
        await wire.FlushAsync();
        var frames = new List<WireFrame>();
        while (true)
        {
            var frame = await wire.ReadFrameAsync() ?? throw new IOException("the server closed the connection");
            if (frame.Method == Method.ExchangeDeclareOk)
            {
                return frames;
            }

            frames.Add(frame);
        }
    }

    private static void GetArgs(FrameWriter w, string queue, bool noAck = false)
    {
        w.WriteShort(0);
        w.WriteShortString(queue);
        w.WriteBit(noAck);
    }

    private static void ConsumeArgs(FrameWriter w, string queue, string tag, bool exclusive = false)
    {
        w.WriteShort(0);
        w.WriteShortString(queue);
        w.WriteShortString(tag);
        w.WriteBit(false); // no-local
        w.WriteBit(false); // no-ack
        w.WriteBit(exclusive);
        w.WriteBit(false); // no-wait
        w.WriteTable(null);
    }

    private static void ExchangeDeclareArgs(FrameWriter w, string name, string type, bool autoDelete = true)
    {
        w.WriteShort(0);
        w.WriteShortString(name);
        w.WriteShortString(type);
        w.WriteBit(false); // passive
        w.WriteBit(false); // durable
        w.WriteBit(autoDelete);
        w.WriteBit(false); // internal
        w.WriteBit(false); // no-wait
        w.WriteTable(null);
    }
}
