using System.Text;
using Cicada.Amqp.Protocol;

namespace Cicada.Amqp.Tests;

/// <summary>AMQP 0-9-1 rules of the exchange and queue classes.</summary>
public sealed partial class ConformanceTests
{
    // ---- exchange / queue rules ----

    [Fact]
    public async Task Spec_Exchange_Declare_UnknownType_Is503()
    {
        await using var wire = await AmqpWire.OpenOkAsync(Port);
        await wire.OpenChannelAsync(1);

        wire.Send(1, Method.ExchangeDeclare, w => ExchangeDeclareArgs(w, Unique("ex"), "no-such-type"));
        await wire.FlushAsync();

        await AssertConnectionErrorAsync(wire, ReplyCode.CommandInvalid);
    }

    [Fact]
    public async Task Spec_Exchange_Delete_ABuiltInExchange_Is403()
    {
        await using var wire = await AmqpWire.OpenOkAsync(Port);
        await wire.OpenChannelAsync(1);

        wire.Send(1, Method.ExchangeDelete, w =>
        {
            w.WriteShort(0);
            w.WriteShortString("amq.topic");
            w.WriteBit(false);
            w.WriteBit(false);
        });
        await wire.FlushAsync();

        await AssertChannelErrorAsync(wire, 1, ReplyCode.AccessRefused);
    }

    [Fact]
    public async Task Spec_Exchange_Delete_IfUnused_WithABinding_Is406()
    {
        await using var wire = await AmqpWire.OpenOkAsync(Port);
        await wire.OpenChannelAsync(1);
        var exchange = Unique("bound");
        Assert.Equal(Method.ExchangeDeclareOk, (await wire.CallAsync(1, Method.ExchangeDeclare, w => ExchangeDeclareArgs(w, exchange, "direct", autoDelete: false))).Method);
        var queue = await wire.DeclareQueueAsync(1);
        Assert.Equal(Method.QueueBindOk, (await wire.CallAsync(1, Method.QueueBind, w =>
        {
            w.WriteShort(0);
            w.WriteShortString(queue);
            w.WriteShortString(exchange);
            w.WriteShortString("k");
            w.WriteBit(false);
            w.WriteTable(null);
        })).Method);

        wire.Send(1, Method.ExchangeDelete, w =>
        {
            w.WriteShort(0);
            w.WriteShortString(exchange);
            w.WriteBit(true); // if-unused
            w.WriteBit(false);
        });
        await wire.FlushAsync();

        await AssertChannelErrorAsync(wire, 1, ReplyCode.PreconditionFailed);
    }

    [Fact]
    public async Task Spec_Queue_Declare_ReservedAmqPrefix_Is403()
    {
        await using var wire = await AmqpWire.OpenOkAsync(Port);
        await wire.OpenChannelAsync(1);

        wire.Send(1, Method.QueueDeclare, w =>
        {
            w.WriteShort(0);
            w.WriteShortString("amq." + Unique("mine"));
            w.WriteBit(false);
            w.WriteBit(false);
            w.WriteBit(false);
            w.WriteBit(false);
            w.WriteBit(false);
            w.WriteTable(null);
        });
        await wire.FlushAsync();

        await AssertChannelErrorAsync(wire, 1, ReplyCode.AccessRefused);
    }

    [Fact]
    public async Task Spec_Queue_Declare_InequivalentRedeclaration_Is406()
    {
        await using var wire = await AmqpWire.OpenOkAsync(Port);
        await wire.OpenChannelAsync(1);
        var queue = await wire.DeclareQueueAsync(1, Unique("q"));

        wire.Send(1, Method.QueueDeclare, w =>
        {
            w.WriteShort(0);
            w.WriteShortString(queue);
            w.WriteBit(false);
            w.WriteBit(true); // durable, unlike the first declaration
            w.WriteBit(true);
            w.WriteBit(true);
            w.WriteBit(false);
            w.WriteTable(null);
        });
        await wire.FlushAsync();

        await AssertChannelErrorAsync(wire, 1, ReplyCode.PreconditionFailed);
    }

    [Fact]
    public async Task Spec_Queue_ExclusiveQueue_ConsumedFromAnotherConnection_Is405()
    {
        await using var owner = await AmqpWire.OpenOkAsync(Port);
        await owner.OpenChannelAsync(1);
        var queue = await owner.DeclareQueueAsync(1);
        await using var other = await AmqpWire.OpenOkAsync(Port);
        await other.OpenChannelAsync(1);

        other.Send(1, Method.BasicConsume, w => ConsumeArgs(w, queue, "other"));
        await other.FlushAsync();

        await AssertChannelErrorAsync(other, 1, ReplyCode.ResourceLocked);
    }

    [Fact]
    public async Task Spec_Queue_Delete_IfUnused_WithAConsumer_Is406()
    {
        await using var wire = await AmqpWire.OpenOkAsync(Port);
        await wire.OpenChannelAsync(1);
        var queue = await wire.DeclareQueueAsync(1);
        Assert.Equal(Method.BasicConsumeOk, (await wire.CallAsync(1, Method.BasicConsume, w => ConsumeArgs(w, queue, "c1"))).Method);
        await wire.OpenChannelAsync(2);

        wire.Send(2, Method.QueueDelete, w =>
        {
            w.WriteShort(0);
            w.WriteShortString(queue);
            w.WriteBit(true); // if-unused
            w.WriteBit(false);
            w.WriteBit(false);
        });
        await wire.FlushAsync();

        await AssertChannelErrorAsync(wire, 2, ReplyCode.PreconditionFailed);
    }

    [Fact]
    public async Task Spec_Queue_Bind_EmptyQueueAndRoutingKey_MeanTheLastQueueAndItsName()
    {
        await using var wire = await AmqpWire.OpenOkAsync(Port);
        await wire.OpenChannelAsync(1);
        var queue = await wire.DeclareQueueAsync(1);

        var ok = await wire.CallAsync(1, Method.QueueBind, w => BindArgs(w, string.Empty, "amq.direct", string.Empty));
        wire.Publish(1, "amq.direct", queue, "by-name"u8.ToArray());
        await wire.FlushAsync();

        Assert.Equal(Method.QueueBindOk, ok.Method);
        Assert.Equal("by-name", await GetBodyAsync(wire, 1, queue));
    }

    [Fact]
    public async Task Spec_Queue_Bind_NoQueueNamedOrDeclared_Is404ChannelError()
    {
        await using var wire = await AmqpWire.OpenOkAsync(Port);
        await wire.OpenChannelAsync(1);

        wire.Send(1, Method.QueueBind, w => BindArgs(w, string.Empty, "amq.direct", "k"));
        await wire.FlushAsync();

        await AssertChannelErrorAsync(wire, 1, ReplyCode.NotFound);
        wire.Send(1, Method.ChannelCloseOk);
        await wire.OpenChannelAsync(1); // the connection lives on
    }

    [Fact]
    public async Task Spec_Queue_Bind_SeveralMatchingBindings_DeliverOneCopy()
    {
        await using var wire = await AmqpWire.OpenOkAsync(Port);
        await wire.OpenChannelAsync(1);
        var queue = await wire.DeclareQueueAsync(1);
        var prefix = Unique("uniq");
        foreach (var key in new[] { prefix + ".*", prefix + ".#", "#.b", prefix + ".b" })
        {
            Assert.Equal(Method.QueueBindOk, (await wire.CallAsync(1, Method.QueueBind, w => BindArgs(w, queue, "amq.topic", key))).Method);
        }

        // §queue.bind duplicates: the same binding twice is no error.
        Assert.Equal(Method.QueueBindOk, (await wire.CallAsync(1, Method.QueueBind, w => BindArgs(w, queue, "amq.topic", prefix + ".b"))).Method);
        wire.Publish(1, "amq.topic", prefix + ".b", "once"u8.ToArray());
        wire.Publish(1, string.Empty, queue, "marker"u8.ToArray());
        await wire.FlushAsync();

        Assert.Equal("once", await GetBodyAsync(wire, 1, queue));
        Assert.Equal("marker", await GetBodyAsync(wire, 1, queue));
        Assert.Equal(Method.BasicGetEmpty, (await wire.CallAsync(1, Method.BasicGet, w => GetArgs(w, queue))).Method);
    }

    [Fact]
    public async Task Spec_Queue_Purge_LeavesUnacknowledgedMessages()
    {
        await using var wire = await AmqpWire.OpenOkAsync(Port);
        await wire.OpenChannelAsync(1);
        var queue = await wire.DeclareQueueAsync(1);
        wire.Publish(1, string.Empty, queue, "held"u8.ToArray());
        await wire.FlushAsync();
        await GetAsync(wire, 1, queue); // delivered, not acknowledged
        wire.Publish(1, string.Empty, queue, "ready1"u8.ToArray());
        wire.Publish(1, string.Empty, queue, "ready2"u8.ToArray());
        await wire.FlushAsync();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        uint ready;
        do
        {
            var declared = await wire.CallAsync(1, Method.QueueDeclare, w =>
            {
                w.WriteShort(0);
                w.WriteShortString(queue);
                w.WriteBit(true); // passive: tells the ready count
                w.WriteBit(false);
                w.WriteBit(false);
                w.WriteBit(false);
                w.WriteBit(false);
                w.WriteTable(null);
            });
            var reader = new AmqpReader(declared.Arguments);
            reader.ReadShortString();
            ready = reader.ReadLong();
        }
        while (ready < 2 && DateTime.UtcNow < deadline);

        var purged = await wire.CallAsync(1, Method.QueuePurge, w =>
        {
            w.WriteShort(0);
            w.WriteShortString(queue);
            w.WriteBit(false);
        });
        Assert.Equal(Method.QueuePurgeOk, purged.Method);
        Assert.Equal(2u, new AmqpReader(purged.Arguments).ReadLong());

        // §queue.purge rule 02: the delivered-but-unacknowledged message survived; recover brings it back.
        Assert.Equal(Method.BasicRecoverOk, (await wire.CallAsync(1, Method.BasicRecover, w => w.WriteBit(true))).Method);
        Assert.Equal("held", await GetBodyAsync(wire, 1, queue));
    }

    [Fact]
    public async Task Spec_Queue_Exclusive_IsDeletedWhenItsConnectionCloses()
    {
        var name = Unique("excl");
        await using (var owner = await AmqpWire.OpenOkAsync(Port))
        {
            await owner.OpenChannelAsync(1);
            await owner.DeclareQueueAsync(1, name, exclusive: true);
            await owner.CallAsync(0, Method.ConnectionClose, w =>
            {
                w.WriteShort(ReplyCode.Success);
                w.WriteShortString(string.Empty);
                w.WriteShort(0);
                w.WriteShort(0);
            });
        }

        await using var other = await AmqpWire.OpenOkAsync(Port);
        Assert.True(await EventuallyGoneAsync(other, name), "the exclusive queue outlived its connection");
    }

    [Fact]
    public async Task Spec_Queue_AutoDelete_GoesWithItsLastConsumer_NotBeforeItHadOne()
    {
        await using var wire = await AmqpWire.OpenOkAsync(Port);
        await wire.OpenChannelAsync(1);
        var name = Unique("auto");
        var ok = await wire.CallAsync(1, Method.QueueDeclare, w =>
        {
            w.WriteShort(0);
            w.WriteShortString(name);
            w.WriteBit(false);
            w.WriteBit(false);
            w.WriteBit(false); // shared
            w.WriteBit(true); // auto-delete
            w.WriteBit(false);
            w.WriteTable(null);
        });
        Assert.Equal(Method.QueueDeclareOk, ok.Method);
        await wire.OpenChannelAsync(2);
        Assert.True(await ExistsAsync(wire, 2, name), "an auto-delete queue that never had a consumer was deleted");

        Assert.Equal(Method.BasicConsumeOk, (await wire.CallAsync(1, Method.BasicConsume, w => ConsumeArgs(w, name, "only"))).Method);
        Assert.Equal(Method.BasicCancelOk, (await wire.CallAsync(1, Method.BasicCancel, w =>
        {
            w.WriteShortString("only");
            w.WriteBit(false);
        })).Method);

        Assert.True(await EventuallyGoneAsync(wire, name), "the auto-delete queue outlived its last consumer");
    }

    /// <summary>Passive queue.declare on a fresh channel: true on declare-ok, false on 404 (the channel is closed properly).</summary>
    private static async Task<bool> ExistsAsync(AmqpWire wire, ushort channel, string name)
    {
        var reply = await wire.CallAsync(channel, Method.QueueDeclare, w =>
        {
            w.WriteShort(0);
            w.WriteShortString(name);
            w.WriteBit(true); // passive
            w.WriteBit(false);
            w.WriteBit(false);
            w.WriteBit(false);
            w.WriteBit(false);
            w.WriteTable(null);
        });
        if (reply.Method == Method.QueueDeclareOk)
        {
            return true;
        }

        Assert.Equal((Method.ChannelClose, ReplyCode.NotFound), (reply.Method, reply.ReplyCode));
        wire.Send(channel, Method.ChannelCloseOk);
        await wire.FlushAsync();
        return false;
    }

    private static async Task<bool> EventuallyGoneAsync(AmqpWire wire, string name)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        for (ushort channel = 100; DateTime.UtcNow < deadline; channel++)
        {
            await wire.OpenChannelAsync(channel);
            if (!await ExistsAsync(wire, channel, name))
            {
                return true;
            }

            await Task.Delay(100);
        }

        return false;
    }
}
