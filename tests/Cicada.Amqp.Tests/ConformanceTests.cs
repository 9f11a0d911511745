using System.Text;
using Cicada.Amqp.Protocol;

namespace Cicada.Amqp.Tests;

/// <summary>
/// The AMQP 0-9-1 specification's server-side rules (amqp0-9-1.xml <c>&lt;rule&gt;</c>s and the
/// §4.2 framing rules) on the wire, with a raw client: connection negotiation, the channel state
/// machine, content framing and the error codes a RabbitMQ client expects. Named
/// Spec_{class}_{rule}; docs/conformance-amqp.md maps every rule to its test.
/// </summary>
public sealed class ConformanceTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private int Port => fixture.Server.AmqpPort;

    private static string Unique(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..10];

    private static async Task AssertConnectionErrorAsync(AmqpWire wire, ushort code)
    {
        var close = await wire.ExpectConnectionCloseAsync();
        Assert.True(code == close.ReplyCode, $"expected {code}, got {close.ReplyCode} {close.ReplyText}");
        Assert.True(await wire.ClosedWithinAsync(TimeSpan.FromSeconds(10)), "the socket stayed open after close-ok");
    }

    private static async Task AssertChannelErrorAsync(AmqpWire wire, ushort channel, ushort code)
    {
        var close = await wire.ReadMethodAsync();
        Assert.True(close.Channel == channel && close.Method == Method.ChannelClose,
            $"expected channel.close on {channel}, got method {close.Method:X8} on {close.Channel}");
        Assert.True(code == close.ReplyCode, $"expected {code}, got {close.ReplyCode} {close.ReplyText}");
    }

    // ---- connection: negotiation (§4.2.2, connection.tune/tune-ok, connection.open) ----

    [Fact]
    public async Task Spec_Connection_TuneOk_FrameMaxBelowFrameMinSize_ClosesTheConnection()
    {
        await using var wire = await AmqpWire.OpenAsync(Port, frameMax: 1024);

        await AssertConnectionErrorAsync(wire, ReplyCode.NotAllowed);
    }

    [Fact]
    public async Task Spec_Connection_TuneOk_FrameMaxAboveTheServers_ClosesTheConnection()
    {
        await using var wire = await AmqpWire.OpenAsync(Port, frameMax: 64 * 1024 * 1024);

        await AssertConnectionErrorAsync(wire, ReplyCode.NotAllowed);
    }

    [Fact]
    public async Task Spec_Connection_Open_UnknownVirtualHost_Is530()
    {
        await using var wire = await AmqpWire.OpenAsync(Port, vhost: "/" + Unique("nowhere"));

        await AssertConnectionErrorAsync(wire, ReplyCode.NotAllowed);
    }

    [Fact]
    public async Task Spec_4_2_3_FrameAboveTheNegotiatedFrameMax_Is501()
    {
        await using var wire = await AmqpWire.OpenOkAsync(Port, frameMax: 4096);
        await wire.OpenChannelAsync(1);

        // A 5,000-byte body frame: within the server's offer, above what was agreed.
        wire.Publish(1, string.Empty, "nowhere", new byte[5000]);
        await wire.FlushAsync();

        await AssertConnectionErrorAsync(wire, ReplyCode.FrameError);
    }

    [Fact]
    public async Task Spec_Connection_ChannelAboveTheNegotiatedChannelMax_IsAConnectionError()
    {
        await using var wire = await AmqpWire.OpenOkAsync(Port, channelMax: 2);

        wire.Send(3, Method.ChannelOpen, w => w.WriteShortString(string.Empty));
        await wire.FlushAsync();

        await AssertConnectionErrorAsync(wire, ReplyCode.ChannelError);
    }

    [Fact]
    public async Task Spec_4_2_7_Heartbeat_SilentPeer_IsDisconnected_AfterTwoIntervals_WhileTheServerSendsItsOwn()
    {
        await using var wire = await AmqpWire.OpenOkAsync(Port, heartbeat: 1);

        // §4.2.7: the server sends heartbeats at the agreed interval …
        WireFrame? frame;
        do
        {
            frame = await wire.ReadFrameAsync();
        }
        while (frame is { Type: not FrameType.Heartbeat });

        Assert.NotNull(frame);
        Assert.Equal(0, frame.Value.Channel);

        // … and a peer that sends nothing for two intervals is gone: the socket closes, no handshake.
        Assert.True(await wire.ClosedWithinAsync(TimeSpan.FromSeconds(10)), "a silent client was not disconnected");
    }

    [Fact]
    public async Task Spec_4_2_7_HeartbeatFrame_OnAChannelOtherThan0_Is501()
    {
        await using var wire = await AmqpWire.OpenOkAsync(Port);

        wire.SendRawFrame(FrameType.Heartbeat, 1, []);
        await wire.FlushAsync();

        await AssertConnectionErrorAsync(wire, ReplyCode.FrameError);
    }

    [Fact]
    public async Task Spec_4_2_3_UnknownFrameType_Is501()
    {
        await using var wire = await AmqpWire.OpenOkAsync(Port);

        wire.SendRawFrame(7, 0, [0, 0]);
        await wire.FlushAsync();

        await AssertConnectionErrorAsync(wire, ReplyCode.FrameError);
    }

    [Fact]
    public async Task Spec_Connection_Close_IsAnsweredWithCloseOk_ThenTheSocketCloses()
    {
        await using var wire = await AmqpWire.OpenOkAsync(Port);

        var ok = await wire.CallAsync(0, Method.ConnectionClose, w =>
        {
            w.WriteShort(ReplyCode.Success);
            w.WriteShortString("bye");
            w.WriteShort(0);
            w.WriteShort(0);
        });

        Assert.Equal((0, Method.ConnectionCloseOk), (ok.Channel, ok.Method));
    }

    // ---- channel state machine (§channel, §4.2.4) ----

    [Fact]
    public async Task Spec_Channel_MethodOnAChannelThatIsNotOpen_Is504()
    {
        await using var wire = await AmqpWire.OpenOkAsync(Port);

        wire.Send(5, Method.BasicQos, w =>
        {
            w.WriteLong(0);
            w.WriteShort(10);
            w.WriteBit(false);
        });
        await wire.FlushAsync();

        await AssertConnectionErrorAsync(wire, ReplyCode.ChannelError);
    }

    [Fact]
    public async Task Spec_Channel_OpenOnAnOpenChannel_Is504()
    {
        await using var wire = await AmqpWire.OpenOkAsync(Port);
        await wire.OpenChannelAsync(1);

        wire.Send(1, Method.ChannelOpen, w => w.WriteShortString(string.Empty));
        await wire.FlushAsync();

        await AssertConnectionErrorAsync(wire, ReplyCode.ChannelError);
    }

    [Fact]
    public async Task Spec_Channel_Close_AfterAChannelError_MethodsAreDiscardedUntilCloseOk_ThenTheNumberIsReusable()
    {
        await using var wire = await AmqpWire.OpenOkAsync(Port);
        await wire.OpenChannelAsync(1);

        // basic.ack of a tag never delivered: a channel error (406, §basic.ack delivery-tag).
        wire.Send(1, Method.BasicAck, w =>
        {
            w.WriteLongLong(42);
            w.WriteBit(false);
        });
        await wire.FlushAsync();
        await AssertChannelErrorAsync(wire, 1, ReplyCode.PreconditionFailed);

        // §channel.close: after sending close the server discards methods on the channel until close-ok.
        wire.Send(1, Method.BasicQos, w =>
        {
            w.WriteLong(0);
            w.WriteShort(1);
            w.WriteBit(false);
        });
        wire.Send(1, Method.ChannelCloseOk);
        await wire.OpenChannelAsync(1);

        // The connection and the re-opened channel work.
        var queue = await wire.DeclareQueueAsync(1);
        Assert.StartsWith("amq.gen-", queue, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Spec_Channel_ClientClose_IsAnsweredWithCloseOk()
    {
        await using var wire = await AmqpWire.OpenOkAsync(Port);
        await wire.OpenChannelAsync(2);

        var ok = await wire.CallAsync(2, Method.ChannelClose, w =>
        {
            w.WriteShort(ReplyCode.Success);
            w.WriteShortString(string.Empty);
            w.WriteShort(0);
            w.WriteShort(0);
        });

        Assert.Equal((2, Method.ChannelCloseOk), (ok.Channel, ok.Method));
        await wire.OpenChannelAsync(2);
    }

    [Fact]
    public async Task Spec_Channel_Flow_Inactive_StopsDeliveries_Active_ResumesThem()
    {
        await using var wire = await AmqpWire.OpenOkAsync(Port);
        await wire.OpenChannelAsync(1);
        var queue = await wire.DeclareQueueAsync(1);

        var flowOk = await wire.CallAsync(1, Method.ChannelFlow, w => w.WriteBit(false));
        Assert.Equal(Method.ChannelFlowOk, flowOk.Method);
        Assert.False(new AmqpReader(flowOk.Arguments).ReadBit());
        var consumeOk = await wire.CallAsync(1, Method.BasicConsume, w =>
        {
            w.WriteShort(0);
            w.WriteShortString(queue);
            w.WriteShortString("flow-tag");
            w.WriteBit(false);
            w.WriteBit(true); // no-ack
            w.WriteBit(false);
            w.WriteBit(false);
            w.WriteTable(null);
        });
        Assert.Equal(Method.BasicConsumeOk, consumeOk.Method);
        wire.Publish(1, string.Empty, queue, "held"u8.ToArray());
        await wire.FlushAsync();
        var whileStopped = await ReadUntilQuietAsync(wire);

        var resumed = await wire.CallAsync(1, Method.ChannelFlow, w => w.WriteBit(true));
        var frames = new List<WireFrame> { resumed };
        while (!frames.Exists(f => f.Method == Method.BasicDeliver))
        {
            frames.Add(await wire.ReadMethodAsync());
        }

        Assert.DoesNotContain(whileStopped, f => f.Method == Method.BasicDeliver);
        Assert.Contains(frames, f => f.Method == Method.ChannelFlowOk);
    }

    // ---- content framing (§4.2.6) ----

    [Fact]
    public async Task Spec_4_2_6_ContentHeader_WithoutAPublish_Is505()
    {
        await using var wire = await AmqpWire.OpenOkAsync(Port);
        await wire.OpenChannelAsync(1);

        wire.SendHeader(1, 3);
        await wire.FlushAsync();

        await AssertConnectionErrorAsync(wire, ReplyCode.UnexpectedFrame);
    }

    [Fact]
    public async Task Spec_4_2_6_BodyBeforeTheContentHeader_Is505()
    {
        await using var wire = await AmqpWire.OpenOkAsync(Port);
        await wire.OpenChannelAsync(1);

        wire.Send(1, Method.BasicPublish, w =>
        {
            w.WriteShort(0);
            w.WriteShortString(string.Empty);
            w.WriteShortString("k");
            w.WriteBit(false);
            w.WriteBit(false);
        });
        wire.SendBody(1, "abc"u8);
        await wire.FlushAsync();

        await AssertConnectionErrorAsync(wire, ReplyCode.UnexpectedFrame);
    }

    [Fact]
    public async Task Spec_4_2_6_MethodBetweenAPublishAndItsContent_Is505()
    {
        await using var wire = await AmqpWire.OpenOkAsync(Port);
        await wire.OpenChannelAsync(1);

        wire.Send(1, Method.BasicPublish, w =>
        {
            w.WriteShort(0);
            w.WriteShortString(string.Empty);
            w.WriteShortString("k");
            w.WriteBit(false);
            w.WriteBit(false);
        });
        wire.SendHeader(1, 10);
        wire.Send(1, Method.BasicQos, w =>
        {
            w.WriteLong(0);
            w.WriteShort(1);
            w.WriteBit(false);
        });
        await wire.FlushAsync();

        await AssertConnectionErrorAsync(wire, ReplyCode.UnexpectedFrame);
    }

    [Fact]
    public async Task Spec_4_2_6_ContentOfOneChannel_InterleavedWithAnother_IsAccepted()
    {
        await using var wire = await AmqpWire.OpenOkAsync(Port);
        await wire.OpenChannelAsync(1);
        await wire.OpenChannelAsync(2);
        var queue = await wire.DeclareQueueAsync(1);

        // §4.2.6: content frames of different channels may interleave; per channel they stay in order.
        foreach (var channel in new ushort[] { 1, 2 })
        {
            wire.Send(channel, Method.BasicPublish, w =>
            {
                w.WriteShort(0);
                w.WriteShortString(string.Empty);
                w.WriteShortString(queue);
                w.WriteBit(false);
                w.WriteBit(false);
            });
        }

        wire.SendHeader(1, 2);
        wire.SendHeader(2, 2);
        wire.SendBody(2, "c2"u8);
        wire.SendBody(1, "c1"u8);
        await wire.FlushAsync();

        var bodies = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            bodies.Add(await GetBodyAsync(wire, 1, queue));
        }

        Assert.Equal(["c1", "c2"], bodies.Order(StringComparer.Ordinal));
    }

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
        var again = await wire.CallAsync(1, Method.BasicGet, w => GetArgs(w, queue));

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
        var frames = await ReadUntilQuietAsync(wire);
        var held = frames.Where(f => f.Method == Method.BasicDeliver).ToList();

        Assert.Equal(2, frames.Count(f => f.Method == Method.BasicConsumeOk));
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
        var ok = await wire.CallAsync(1, Method.BasicGet, w => GetArgs(w, queue, noAck: true));
        Assert.Equal(Method.BasicGetOk, ok.Method);
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

    private static void BindArgs(FrameWriter w, string queue, string exchange, string key)
    {
        w.WriteShort(0);
        w.WriteShortString(queue);
        w.WriteShortString(exchange);
        w.WriteShortString(key);
        w.WriteBit(false);
        w.WriteTable(null);
    }

    private static async Task<ulong> GetAsync(AmqpWire wire, ushort channel, string queue)
    {
        var ok = await wire.CallAsync(channel, Method.BasicGet, w => GetArgs(w, queue));
        Assert.Equal(Method.BasicGetOk, ok.Method);
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
