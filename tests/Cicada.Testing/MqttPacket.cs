using System.Buffers.Binary;
using System.Text;

namespace Cicada.Testing;

/// <summary>MQTT 3.1.1 §2.2.1 control packet types.</summary>
public enum PacketType
{
    Reserved0 = 0,
    Connect = 1,
    ConnAck = 2,
    Publish = 3,
    PubAck = 4,
    PubRec = 5,
    PubRel = 6,
    PubComp = 7,
    Subscribe = 8,
    SubAck = 9,
    Unsubscribe = 10,
    UnsubAck = 11,
    PingReq = 12,
    PingResp = 13,
    Disconnect = 14,
    Reserved15 = 15,
}

/// <summary>
/// One packet read off the wire by <see cref="RawMqttClient"/>: the first fixed-header byte and the
/// bytes after the remaining length. Accessors decode the fields the tests look at; they are
/// deliberately strict so that a broker sending a malformed packet fails the test.
/// </summary>
public sealed class MqttPacket(byte header, byte[] body)
{
    public byte Header { get; } = header;

    public byte[] Body { get; } = body;

    public PacketType Type => (PacketType)(Header >> 4);

    public int Flags => Header & 0x0F;

    // PUBLISH fixed-header flags (MQTT 3.1.1 §3.3.1).
    public bool Dup => (Flags & 0x08) != 0;

    public int QoS => (Flags >> 1) & 0x03;

    public bool Retain => (Flags & 0x01) != 0;

    /// <summary>CONNACK §3.2.2.2: bit 0 of the acknowledge flags.</summary>
    public bool SessionPresent
    {
        get
        {
            Expect(PacketType.ConnAck);
            return (Body[0] & 0x01) != 0;
        }
    }

    /// <summary>CONNACK §3.2.2.3 return code.</summary>
    public byte ReturnCode
    {
        get
        {
            Expect(PacketType.ConnAck);
            return Body[1];
        }
    }

    public string Topic
    {
        get
        {
            Expect(PacketType.Publish);
            var length = BinaryPrimitives.ReadUInt16BigEndian(Body);
            return Encoding.UTF8.GetString(Body, 2, length);
        }
    }

    /// <summary>
    /// The packet identifier: for PUBLISH it follows the topic (QoS &gt; 0 only); for every
    /// acknowledgement and SUBACK/UNSUBACK it is the first two bytes of the variable header.
    /// </summary>
    public ushort PacketId
    {
        get
        {
            if (Type == PacketType.Publish)
            {
                if (QoS == 0)
                {
                    throw new InvalidOperationException("A QoS 0 PUBLISH has no packet identifier (MQTT 3.1.1 §3.3.2.2).");
                }

                var topicLength = BinaryPrimitives.ReadUInt16BigEndian(Body);
                return BinaryPrimitives.ReadUInt16BigEndian(Body.AsSpan(2 + topicLength));
            }

            return BinaryPrimitives.ReadUInt16BigEndian(Body);
        }
    }

    public byte[] Payload
    {
        get
        {
            Expect(PacketType.Publish);
            var start = 2 + BinaryPrimitives.ReadUInt16BigEndian(Body) + (QoS > 0 ? 2 : 0);
            return Body[start..];
        }
    }

    public string PayloadText => Encoding.UTF8.GetString(Payload);

    /// <summary>SUBACK §3.9.3 return codes, one per requested filter.</summary>
    public byte[] SubAckReturnCodes
    {
        get
        {
            Expect(PacketType.SubAck);
            return Body[2..];
        }
    }

    public override string ToString() => Type == PacketType.Publish
        ? $"PUBLISH(topic={Topic}, qos={QoS}, dup={Dup}, retain={Retain}, payload='{PayloadText}')"
        : $"{Type}(flags=0x{Flags:X}, body={Convert.ToHexString(Body)})";

    private void Expect(PacketType type)
    {
        if (Type != type)
        {
            throw new InvalidOperationException($"Expected {type} but the packet is {this}.");
        }
    }
}
