using System.Buffers.Binary;
using System.Text;

namespace Cicada.Coap.Protocol;

/// <summary>One option: its number and its raw value (RFC 7252 §3.1, §3.2).</summary>
public readonly record struct CoapOption(ushort Number, ReadOnlyMemory<byte> Value)
{
    public uint UIntValue => CoapMessage.ReadUInt(Value.Span);

    public string StringValue => Encoding.UTF8.GetString(Value.Span);
}

/// <summary>
/// A CoAP message (RFC 7252 §3): header, token, options kept sorted by number (the order the
/// delta encoding needs, §3.1), payload.
/// </summary>
public sealed class CoapMessage
{
    public const int MaxTokenLength = 8;

    private readonly List<CoapOption> _options = [];

    public CoapType Type { get; set; }
    public byte Code { get; set; }
    public ushort MessageId { get; set; }
    public ReadOnlyMemory<byte> Token { get; set; }
    public ReadOnlyMemory<byte> Payload { get; set; }

    public IReadOnlyList<CoapOption> Options => _options;

    public bool IsEmpty => Code == CoapCode.Empty;

    /// <summary>Inserts after any option of the same number, so repeated options keep their order (§5.4.5).</summary>
    public CoapMessage Add(ushort number, ReadOnlyMemory<byte> value)
    {
        var i = _options.Count;
        while (i > 0 && _options[i - 1].Number > number)
        {
            i--;
        }

        _options.Insert(i, new CoapOption(number, value));
        return this;
    }

    public CoapMessage Add(ushort number, string value) => Add(number, Encoding.UTF8.GetBytes(value));

    /// <summary>Adds a uint option in its shortest form: 0 is the empty value (§3.2).</summary>
    public CoapMessage AddUInt(ushort number, uint value) => Add(number, EncodeUInt(value));

    public void Remove(ushort number) => _options.RemoveAll(o => o.Number == number);

    public bool Has(ushort number) => _options.Exists(o => o.Number == number);

    public bool TryGet(ushort number, out CoapOption option)
    {
        foreach (var o in _options)
        {
            if (o.Number == number)
            {
                option = o;
                return true;
            }
        }

        option = default;
        return false;
    }

    public uint? GetUInt(ushort number) => TryGet(number, out var o) ? o.UIntValue : null;

    public IEnumerable<CoapOption> All(ushort number) => _options.Where(o => o.Number == number);

    public IEnumerable<string> Strings(ushort number) => All(number).Select(o => o.StringValue);

    public static byte[] EncodeUInt(uint value)
    {
        var length = value switch
        {
            0 => 0,
            <= 0xFF => 1,
            <= 0xFFFF => 2,
            <= 0xFFFFFF => 3,
            _ => 4,
        };
        var bytes = new byte[length];
        for (var i = length - 1; i >= 0; i--)
        {
            bytes[i] = (byte)value;
            value >>= 8;
        }

        return bytes;
    }

    /// <summary>Big-endian unsigned value; leading zero bytes are allowed on input (§3.2).</summary>
    public static uint ReadUInt(ReadOnlySpan<byte> value)
    {
        if (value.Length == 4)
        {
            return BinaryPrimitives.ReadUInt32BigEndian(value);
        }

        uint result = 0;
        foreach (var b in value)
        {
            result = result << 8 | b;
        }

        return result;
    }

    /// <summary>A response to <paramref name="request"/>: same token (§5.3.2); type and id are set by the message layer.</summary>
    public static CoapMessage ResponseTo(CoapMessage request, byte code) => new()
    {
        Type = CoapType.Acknowledgement,
        Code = code,
        MessageId = request.MessageId,
        Token = request.Token,
    };

    public override string ToString() =>
        $"{Type} {CoapCode.Format(Code)} mid={MessageId} token={Convert.ToHexString(Token.Span)} options={_options.Count} payload={Payload.Length}";
}
