using Cicada.Core;

namespace Cicada.Storage.Sqlite;

/// <summary>
/// The <c>properties</c> column: a compact binary form of <see cref="MessageProperties"/>, written
/// by the callers (not the writer thread) and null when a message has no properties.
/// </summary>
/// <remarks>
/// Layout: format byte (1), flag byte, then present fields in this order: content type,
/// response topic (7-bit length + UTF-8), correlation data (7-bit length + bytes), user
/// properties (7-bit count, then name/value strings). The format byte lets a later version
/// add fields without a schema migration.
/// </remarks>
internal static class MessagePropertiesCodec
{
    private const byte Format = 1;

    [Flags]
    private enum Fields : byte
    {
        None = 0,
        ContentType = 1,
        ResponseTopic = 2,
        CorrelationData = 4,
        HasPayloadIsUtf8 = 8,
        PayloadIsUtf8 = 16,
        UserProperties = 32,
    }

    public static byte[]? Encode(MessageProperties? properties)
    {
        if (properties is null)
        {
            return null;
        }

        var fields = Fields.None;
        if (properties.ContentType is not null) fields |= Fields.ContentType;
        if (properties.ResponseTopic is not null) fields |= Fields.ResponseTopic;
        if (!properties.CorrelationData.IsEmpty) fields |= Fields.CorrelationData;
        if (properties.PayloadIsUtf8 is { } utf8) fields |= Fields.HasPayloadIsUtf8 | (utf8 ? Fields.PayloadIsUtf8 : Fields.None);
        if (properties.UserProperties is not null) fields |= Fields.UserProperties;

        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream))
        {
            writer.Write(Format);
            writer.Write((byte)fields);
            if (properties.ContentType is { } contentType) writer.Write(contentType);
            if (properties.ResponseTopic is { } responseTopic) writer.Write(responseTopic);
            if (!properties.CorrelationData.IsEmpty)
            {
                writer.Write7BitEncodedInt(properties.CorrelationData.Length);
                writer.Write(properties.CorrelationData.Span);
            }

            if (properties.UserProperties is { } userProperties)
            {
                writer.Write7BitEncodedInt(userProperties.Count);
                foreach (var (name, value) in userProperties)
                {
                    writer.Write(name);
                    writer.Write(value);
                }
            }
        }

        return stream.ToArray();
    }

    public static MessageProperties? Decode(byte[]? blob)
    {
        if (blob is null)
        {
            return null;
        }

        using var reader = new BinaryReader(new MemoryStream(blob, writable: false));
        var format = reader.ReadByte();
        if (format != Format)
        {
            throw new InvalidDataException($"Unknown message properties format {format}.");
        }

        var fields = (Fields)reader.ReadByte();
        var contentType = fields.HasFlag(Fields.ContentType) ? reader.ReadString() : null;
        var responseTopic = fields.HasFlag(Fields.ResponseTopic) ? reader.ReadString() : null;
        var correlation = fields.HasFlag(Fields.CorrelationData)
            ? reader.ReadBytes(reader.Read7BitEncodedInt())
            : null;
        bool? payloadIsUtf8 = fields.HasFlag(Fields.HasPayloadIsUtf8) ? fields.HasFlag(Fields.PayloadIsUtf8) : null;
        List<KeyValuePair<string, string>>? userProperties = null;
        if (fields.HasFlag(Fields.UserProperties))
        {
            var count = reader.Read7BitEncodedInt();
            userProperties = new List<KeyValuePair<string, string>>(count);
            for (var i = 0; i < count; i++)
            {
                var name = reader.ReadString();
                userProperties.Add(new(name, reader.ReadString()));
            }
        }

        return new MessageProperties
        {
            ContentType = contentType,
            ResponseTopic = responseTopic,
            CorrelationData = correlation,
            PayloadIsUtf8 = payloadIsUtf8,
            UserProperties = userProperties,
        };
    }
}
