using Cicada.Coap.Protocol;
using Cicada.Fuzz.Tests.Engine;

namespace Cicada.Fuzz.Tests;

/// <summary>
/// The CoAP message codec (RFC 7252 §3) and the option readers the server applies to a request
/// (uint options §3.2, Block1/Block2 RFC 7959 §2.2), fed with mutated real coap-client datagrams.
/// The decoder answers every datagram with a status (Ok / Ignore / FormatError → RST, §4.2): no
/// exception at all may escape, and every decoded message must re-encode to bytes that decode to
/// the same message.
/// </summary>
public sealed class CoapCodecFuzzTests
{
    [Fact]
    public void Coap_Decoder_NeverThrows_AndDecodedMessagesRoundTrip() =>
        FuzzRun.Run("coap", Corpus.Load("coap"), DecodeDatagram, _ => false);

    /// <summary>RFC 7252 §3: every captured request decodes, and encode(decode(x)) is x byte for byte.</summary>
    [Fact]
    public void Coap_CapturedRequests_ReEncodeByteForByte()
    {
        foreach (var datagram in Corpus.Load("coap"))
        {
            var status = CoapCodec.TryDecode(datagram, out var message, out var error);
            Assert.True(status == CoapDecodeStatus.Ok, error);
            Assert.Equal(datagram, CoapCodec.Encode(message));
        }
    }

    private static void DecodeDatagram(byte[] datagram)
    {
        if (CoapCodec.TryDecode(datagram, out var message, out _) != CoapDecodeStatus.Ok)
        {
            return;
        }

        foreach (var option in message.Options)
        {
            // What the request path reads from options of any length (RFC 7252 §3.2 uint, §5.10 strings).
            _ = option.UIntValue;
            _ = option.StringValue;
            if (option.Number is CoapOptionNumber.Block1 or CoapOptionNumber.Block2)
            {
                if (BlockOption.TryDecode(option.UIntValue, out var block))
                {
                    _ = block.Offset;
                    _ = block.Size;
                }
            }
        }

        var again = CoapCodec.Encode(message);
        Assert.Equal(CoapDecodeStatus.Ok, CoapCodec.TryDecode(again, out var decoded, out var error));
        Assert.True(error.Length == 0, error);
        Assert.Equal(message.Type, decoded.Type);
        Assert.Equal(message.Code, decoded.Code);
        Assert.Equal(message.MessageId, decoded.MessageId);
        Assert.True(message.Token.Span.SequenceEqual(decoded.Token.Span), "token");
        Assert.True(message.Payload.Span.SequenceEqual(decoded.Payload.Span), "payload");
        Assert.Equal(message.Options.Count, decoded.Options.Count);

        // Compared without xUnit's array equality, whose allocations would count against the codec's budget.
        for (var i = 0; i < message.Options.Count; i++)
        {
            if (message.Options[i].Number != decoded.Options[i].Number || !message.Options[i].Value.Span.SequenceEqual(decoded.Options[i].Value.Span))
            {
                Assert.Fail($"option {i} differs after re-encoding");
            }
        }
    }
}
