using System.Text;
using Cicada.Coap.Protocol;
using Cicada.Core;

namespace Cicada.Coap.Tests;

/// <summary>RFC 7959 block-wise transfers: Block1 uploads, Block2 downloads, Size1/Size2.</summary>
public sealed class BlockwiseTests
{
    private static byte[] Body(int length) => Enumerable.Range(0, length).Select(i => (byte)('a' + i % 26)).ToArray();

    private static CoapMessage Block1(CoapHarness coap, string path, byte[] body, uint number, int szx)
    {
        var size = 1 << (szx + 4);
        var offset = (int)number * size;
        var length = Math.Min(size, body.Length - offset);
        var request = CoapHarness.Request(CoapType.Confirmable, CoapCode.Put, coap.NextId(), path);
        request.AddUInt(CoapOptionNumber.Block1, new BlockOption(number, offset + length < body.Length, szx).Encode());
        request.Payload = body.AsMemory(offset, length);
        return request;
    }

    [Fact]
    public async Task RFC7959_2_3_Block1_Continues231_ThenPublishesTheWholeBody()
    {
        await using var coap = await CoapHarness.StartAsync();
        var body = Body(200); // 64-byte blocks: 0..3
        var subscriber = CoreSubscriber.Subscribe(coap.Broker, "up/load");
        var codes = new List<byte>();
        CoapMessage last = null!;
        for (uint n = 0; n < 4; n++)
        {
            last = await coap.ExchangeAsync(Block1(coap, "ps/up/load", body, n, 2));
            codes.Add(last.Code);
            if (n < 3)
            {
                Assert.Empty(await subscriber.CollectAsync(50)); // nothing published before the last block
            }
        }

        Assert.Equal([CoapCode.Continue, CoapCode.Continue, CoapCode.Continue, CoapCode.Created], codes);
        Assert.True(BlockOption.TryDecode(last.GetUInt(CoapOptionNumber.Block1)!.Value, out var echoed));
        Assert.Equal(new BlockOption(3, false, 2), echoed);
        Assert.Equal(body, coap.Broker.Retained.Get("up/load")!.Payload.ToArray());
        Assert.Single(await subscriber.CollectAsync());
    }

    [Fact]
    public async Task RFC7959_2_9_2_Block1_OutOfSequence_Is408()
    {
        await using var coap = await CoapHarness.StartAsync();
        var body = Body(200);

        await coap.ExchangeAsync(Block1(coap, "ps/gap", body, 0, 2));
        var skipped = await coap.ExchangeAsync(Block1(coap, "ps/gap", body, 2, 2));
        var withoutStart = await coap.ExchangeAsync(Block1(coap, "ps/nostart", body, 1, 2));

        Assert.Equal(CoapCode.RequestEntityIncomplete, skipped.Code);
        Assert.Equal(CoapCode.RequestEntityIncomplete, withoutStart.Code);
        Assert.Null(coap.Broker.Retained.Get("gap"));
    }

    [Fact]
    public async Task RFC7959_2_9_3_TooLarge_Is413_WithSize1()
    {
        await using var coap = await CoapHarness.StartAsync(configure: o => o.MaxBodySize = 100);
        var announced = Block1(coap, "ps/big", Body(300), 0, 2);
        announced.AddUInt(CoapOptionNumber.Size1, 300); // RFC 7959 §4: the client announces the size

        var response = await coap.ExchangeAsync(announced);
        var direct = CoapHarness.Request(CoapType.Confirmable, CoapCode.Put, coap.NextId(), "ps/big");
        direct.Payload = Body(150);
        var tooBig = await coap.ExchangeAsync(direct);

        Assert.Equal(CoapCode.RequestEntityTooLarge, response.Code);
        Assert.Equal(100u, response.GetUInt(CoapOptionNumber.Size1));
        Assert.Equal(CoapCode.RequestEntityTooLarge, tooBig.Code);
    }

    [Fact]
    public async Task RFC7959_2_4_Block2_SlicesALargeValue_WithSize2OnTheFirstBlock()
    {
        await using var coap = await CoapHarness.StartAsync();
        var body = Body(2500);
        await coap.Broker.PublishAsync(new Message("down/big", body, QoS.AtMostOnce, true));
        var received = new List<byte>();
        uint number = 0;
        var more = true;
        uint? size2 = null;
        while (more)
        {
            var request = CoapHarness.Request(CoapType.Confirmable, CoapCode.Get, coap.NextId(), "ps/down/big");
            if (number > 0)
            {
                request.AddUInt(CoapOptionNumber.Block2, new BlockOption(number, false, 6).Encode());
            }

            var response = await coap.ExchangeAsync(request);
            Assert.Equal(CoapCode.Content, response.Code);
            Assert.True(BlockOption.TryDecode(response.GetUInt(CoapOptionNumber.Block2)!.Value, out var block));
            Assert.Equal(number, block.Number);
            size2 ??= response.GetUInt(CoapOptionNumber.Size2);
            received.AddRange(response.Payload.ToArray());
            more = block.More;
            number++;
        }

        Assert.Equal(3u, number); // 1024 + 1024 + 452, unasked: our preferred 1024-byte blocks
        Assert.Equal(2500u, size2);
        Assert.Equal(body, received.ToArray());
    }

    [Fact]
    public async Task RFC7959_2_4_Block2_EarlyNegotiation_SmallerBlocksAsked()
    {
        await using var coap = await CoapHarness.StartAsync();
        await coap.Broker.PublishAsync(new Message("small/blocks", Body(100), QoS.AtMostOnce, true));
        var request = CoapHarness.Request(CoapType.Confirmable, CoapCode.Get, coap.NextId(), "ps/small/blocks");
        request.AddUInt(CoapOptionNumber.Block2, new BlockOption(0, false, 1).Encode()); // 32 bytes

        var response = await coap.ExchangeAsync(request);

        Assert.True(BlockOption.TryDecode(response.GetUInt(CoapOptionNumber.Block2)!.Value, out var block));
        Assert.Equal(new BlockOption(0, true, 1), block);
        Assert.Equal(32, response.Payload.Length);
    }

    [Fact]
    public async Task RFC7959_3_4_LargeNotification_SendsFirstBlock_RestByGet()
    {
        await using var coap = await CoapHarness.StartAsync();
        var register = CoapHarness.Request(CoapType.NonConfirmable, CoapCode.Get, coap.NextId(), "ps/n/big");
        register.AddUInt(CoapOptionNumber.Observe, 0);
        register.AddUInt(CoapOptionNumber.Block2, new BlockOption(0, false, 2).Encode()); // 64-byte blocks
        await coap.ExchangeAsync(register);
        var body = Body(150);

        await coap.Broker.PublishAsync(new Message("n/big", body, QoS.AtMostOnce, false)); // not retained
        var notification = await coap.ReceiveAsync();
        var rest = new List<byte>(notification.Payload.ToArray());
        for (uint n = 1; n <= 2; n++)
        {
            var get = CoapHarness.Request(CoapType.Confirmable, CoapCode.Get, coap.NextId(), "ps/n/big");
            get.AddUInt(CoapOptionNumber.Block2, new BlockOption(n, false, 2).Encode());
            rest.AddRange((await coap.ExchangeAsync(get)).Payload.ToArray());
        }

        Assert.True(BlockOption.TryDecode(notification.GetUInt(CoapOptionNumber.Block2)!.Value, out var first));
        Assert.Equal(new BlockOption(0, true, 2), first);
        Assert.Equal(150u, notification.GetUInt(CoapOptionNumber.Size2));
        Assert.Equal(body, rest.ToArray()); // the same representation, though nothing is retained
    }
}
