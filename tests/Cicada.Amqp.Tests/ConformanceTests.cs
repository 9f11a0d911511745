using System.Text;
using Cicada.Amqp.Protocol;

namespace Cicada.Amqp.Tests;

/// <summary>
/// The AMQP 0-9-1 specification's server-side rules (amqp0-9-1.xml <c>&lt;rule&gt;</c>s and the
/// §4.2 framing rules) on the wire, with a raw client: connection negotiation, the channel state
/// machine, content framing and the error codes a RabbitMQ client expects. Named
/// Spec_{class}_{rule}; docs/conformance-amqp.md maps every rule to its test.
/// </summary>
public sealed partial class ConformanceTests(ServerFixture fixture) : IClassFixture<ServerFixture>
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
    public async Task Spec_4_2_7_Heartbeat_SilentPeer_IsDisconnected_AfterTwoIntervals()
    {
        await using var wire = await AmqpWire.OpenOkAsync(Port, heartbeat: 1);

        // A peer that sends nothing (not even heartbeats) for two intervals is gone: the socket
        // closes, no close handshake. Whatever the server sends meanwhile (its own heartbeats,
        // on channel 0 — PI Connection_Heartbeats_KeepAnIdleConnectionOpen relies on them) is read past.
        var sawOtherThanHeartbeat = false;
        var closed = false;
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline && !closed)
        {
            WireFrame? frame;
            try
            {
                frame = await wire.ReadFrameAsync(deadline - DateTime.UtcNow);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            closed = frame is null;
            sawOtherThanHeartbeat |= frame is { } f && (f.Type != FrameType.Heartbeat || f.Channel != 0);
        }

        Assert.True(closed, "a silent client was not disconnected within 10 s");
        Assert.False(sawOtherThanHeartbeat, "the server sent something other than channel-0 heartbeats to an idle client");
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
}
