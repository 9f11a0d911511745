using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Cicada.Mqtt.Protocol.V5;

/// <summary>Reads and writes MQTT 5 property blocks (§2.2.2).</summary>
internal static class PropertyCodec
{
    /// <summary>
    /// Reads a property block (length then properties), checking that each property may appear
    /// in <paramref name="context"/> and appears once where only once is allowed (§2.2.2.2).
    /// Returns null for an empty block.
    /// </summary>
    public static MqttProperties? Read(ref MqttReader reader, PropertyContext context)
    {
        var length = reader.ReadVarInt();
        if (length == 0)
        {
            return null;
        }

        var block = reader.Slice(length);
        var p = new MqttProperties();
        while (!block.End)
        {
            // The identifier is a Variable Byte Integer (§2.2.2.2): one above 0xFF must not alias a one-byte one.
            var raw = block.ReadVarInt();
            var id = raw <= byte.MaxValue ? (PropertyId)raw : ThrowHelper.Protocol<PropertyId>("MQTT-2.2.2-2", $"Property 0x{raw:X} is not defined");
            if ((MqttProperties.AllowedIn(id) & context) == 0)
            {
                ThrowHelper.Protocol("MQTT-2.2.2-2", $"Property 0x{(int)id:X2} is not valid in {context}");
            }

            switch (id)
            {
                case PropertyId.PayloadFormatIndicator:
                    p.PayloadFormatIndicator = Once(p.PayloadFormatIndicator, Flag(ref block, id), id);
                    break;
                case PropertyId.MessageExpiryInterval:
                    p.MessageExpiryInterval = Once(p.MessageExpiryInterval, block.ReadUInt32(), id);
                    break;
                case PropertyId.ContentType:
                    p.ContentType = Once(p.ContentType, block.ReadString(), id);
                    break;
                case PropertyId.ResponseTopic:
                    p.ResponseTopic = Once(p.ResponseTopic, block.ReadString(), id);
                    break;
                case PropertyId.CorrelationData:
                    p.CorrelationData = Once(p.CorrelationData, block.ReadBinary().ToArray(), id);
                    break;
                case PropertyId.SubscriptionIdentifier:
                    var subId = block.ReadVarInt();
                    if (subId == 0)
                    {
                        ThrowHelper.ProtocolError("MQTT-3.8.2.1.2", "Subscription Identifier 0");
                    }

                    if (context == PropertyContext.Subscribe && p.SubscriptionIdentifiers is not null)
                    {
                        ThrowHelper.ProtocolError("MQTT-3.8.2.1.2", "Subscription Identifier given twice");
                    }

                    (p.SubscriptionIdentifiers ??= []).Add(subId);
                    break;
                case PropertyId.SessionExpiryInterval:
                    p.SessionExpiryInterval = Once(p.SessionExpiryInterval, block.ReadUInt32(), id);
                    break;
                case PropertyId.AuthenticationMethod:
                    p.AuthenticationMethod = Once(p.AuthenticationMethod, block.ReadString(), id);
                    break;
                case PropertyId.AuthenticationData:
                    p.AuthenticationData = Once(p.AuthenticationData, block.ReadBinary().ToArray(), id);
                    break;
                case PropertyId.RequestProblemInformation:
                    p.RequestProblemInformation = Once(p.RequestProblemInformation, Flag(ref block, id), id);
                    break;
                case PropertyId.WillDelayInterval:
                    p.WillDelayInterval = Once(p.WillDelayInterval, block.ReadUInt32(), id);
                    break;
                case PropertyId.RequestResponseInformation:
                    p.RequestResponseInformation = Once(p.RequestResponseInformation, Flag(ref block, id), id);
                    break;
                case PropertyId.ServerReference:
                    p.ServerReference = Once(p.ServerReference, block.ReadString(), id);
                    break;
                case PropertyId.ReasonString:
                    p.ReasonString = Once(p.ReasonString, block.ReadString(), id);
                    break;
                case PropertyId.ReceiveMaximum:
                    p.ReceiveMaximum = Once(p.ReceiveMaximum, NonZero(block.ReadUInt16(), id), id);
                    break;
                case PropertyId.TopicAliasMaximum:
                    p.TopicAliasMaximum = Once(p.TopicAliasMaximum, block.ReadUInt16(), id);
                    break;
                case PropertyId.TopicAlias:
                    p.TopicAlias = Once(p.TopicAlias, block.ReadUInt16(), id);
                    break;
                case PropertyId.UserProperty:
                    var key = block.ReadString();
                    (p.UserProperties ??= []).Add(new(key, block.ReadString()));
                    break;
                case PropertyId.MaximumPacketSize:
                    p.MaximumPacketSize = Once(p.MaximumPacketSize, NonZero(block.ReadUInt32(), id), id);
                    break;
                // Sent by a server only (CONNACK, §3.2.2.3): read when Cicada is the client (a bridge);
                // the context check above still refuses them from clients.
                case PropertyId.AssignedClientIdentifier:
                    p.AssignedClientIdentifier = Once(p.AssignedClientIdentifier, block.ReadString(), id);
                    break;
                case PropertyId.ServerKeepAlive:
                    p.ServerKeepAlive = Once(p.ServerKeepAlive, block.ReadUInt16(), id);
                    break;
                case PropertyId.ResponseInformation:
                    p.ResponseInformation = Once(p.ResponseInformation, block.ReadString(), id);
                    break;
                case PropertyId.MaximumQos:
                    p.MaximumQos = Once(p.MaximumQos, Flag(ref block, id), id);
                    break;
                case PropertyId.RetainAvailable:
                    p.RetainAvailable = Once(p.RetainAvailable, Flag(ref block, id), id);
                    break;
                case PropertyId.WildcardSubscriptionAvailable:
                    p.WildcardSubscriptionAvailable = Once(p.WildcardSubscriptionAvailable, Flag(ref block, id), id);
                    break;
                case PropertyId.SubscriptionIdentifierAvailable:
                    p.SubscriptionIdentifierAvailable = Once(p.SubscriptionIdentifierAvailable, Flag(ref block, id), id);
                    break;
                case PropertyId.SharedSubscriptionAvailable:
                    p.SharedSubscriptionAvailable = Once(p.SharedSubscriptionAvailable, Flag(ref block, id), id);
                    break;
                default:
                    ThrowHelper.Protocol("MQTT-2.2.2-2", $"Property 0x{(int)id:X2} is not valid from a client");
                    break;
            }
        }

        return p;
    }

    private static T Once<T>(T? existing, T value, PropertyId id)
    {
        if (existing is not null)
        {
            // §2.2.2.2: including a property more than once is a Protocol Error, but for user properties.
            ThrowHelper.ProtocolError("MQTT-2.2.2-2", $"Property 0x{(int)id:X2} appears twice");
        }

        return value;
    }

    private static byte Flag(ref MqttReader reader, PropertyId id)
    {
        var value = reader.ReadByte();
        if (value > 1)
        {
            ThrowHelper.ProtocolError("MQTT-2.2.2-2", $"Property 0x{(int)id:X2} must be 0 or 1, was {value}");
        }

        return value;
    }

    private static T NonZero<T>(T value, PropertyId id)
        where T : System.Numerics.INumber<T>
    {
        if (T.IsZero(value))
        {
            // §3.1.2.11.3 / §3.1.2.11.4: Receive Maximum and Maximum Packet Size of 0 are Protocol Errors.
            ThrowHelper.ProtocolError("MQTT-3.1.2-11", $"Property 0x{(int)id:X2} is 0");
        }

        return value;
    }

    public static int VarIntSize(int value) => MqttEncoder.RemainingLengthSize(value);

    /// <summary>Builds a property block in a reusable buffer: properties are added, then the block is written.</summary>
    public sealed class Builder
    {
        private readonly ArrayBufferWriter<byte> _buffer = new(64);

        public int Length => _buffer.WrittenCount;

        public int EncodedSize => VarIntSize(Length) + Length;

        public Builder Reset()
        {
            _buffer.ResetWrittenCount();
            return this;
        }

        public Builder Byte(PropertyId id, byte value)
        {
            var span = _buffer.GetSpan(2);
            span[0] = (byte)id;
            span[1] = value;
            _buffer.Advance(2);
            return this;
        }

        public Builder UInt16(PropertyId id, ushort value)
        {
            var span = _buffer.GetSpan(3);
            span[0] = (byte)id;
            BinaryPrimitives.WriteUInt16BigEndian(span[1..], value);
            _buffer.Advance(3);
            return this;
        }

        public Builder UInt32(PropertyId id, uint value)
        {
            var span = _buffer.GetSpan(5);
            span[0] = (byte)id;
            BinaryPrimitives.WriteUInt32BigEndian(span[1..], value);
            _buffer.Advance(5);
            return this;
        }

        public Builder VarInt(PropertyId id, int value)
        {
            var span = _buffer.GetSpan(5);
            span[0] = (byte)id;
            _buffer.Advance(1 + MqttEncoder.WriteRemainingLength(span[1..], value));
            return this;
        }

        public Builder String(PropertyId id, string value)
        {
            var count = Encoding.UTF8.GetByteCount(value);
            var span = _buffer.GetSpan(3 + count);
            span[0] = (byte)id;
            BinaryPrimitives.WriteUInt16BigEndian(span[1..], (ushort)count);
            Encoding.UTF8.GetBytes(value, span[3..]);
            _buffer.Advance(3 + count);
            return this;
        }

        public Builder Binary(PropertyId id, ReadOnlySpan<byte> value)
        {
            var span = _buffer.GetSpan(3 + value.Length);
            span[0] = (byte)id;
            BinaryPrimitives.WriteUInt16BigEndian(span[1..], (ushort)value.Length);
            value.CopyTo(span[3..]);
            _buffer.Advance(3 + value.Length);
            return this;
        }

        public Builder Pair(string key, string value)
        {
            String(PropertyId.UserProperty, key);
            var count = Encoding.UTF8.GetByteCount(value);
            var span = _buffer.GetSpan(2 + count);
            BinaryPrimitives.WriteUInt16BigEndian(span, (ushort)count);
            Encoding.UTF8.GetBytes(value, span[2..]);
            _buffer.Advance(2 + count);
            return this;
        }

        /// <summary>Writes the block (length prefix and properties) at the start of <paramref name="destination"/>.</summary>
        public int WriteTo(Span<byte> destination)
        {
            var n = MqttEncoder.WriteRemainingLength(destination, Length);
            _buffer.WrittenSpan.CopyTo(destination[n..]);
            return n + Length;
        }
    }
}
