using Cicada.Core;

namespace Cicada.Storage.Sqlite.Tests;

/// <summary>Messages with every field set, and field-by-field comparison (stores may return copies).</summary>
internal static class StoreAssert
{
    public static Message FullMessage(string topic, string payload = "23.5", QoS qos = QoS.ExactlyOnce, bool retain = true) => new(
        topic,
        System.Text.Encoding.UTF8.GetBytes(payload),
        qos,
        retain,
        new MessageProperties
        {
            ContentType = "application/json; charset=ü",
            ResponseTopic = "reply/" + topic,
            CorrelationData = new byte[] { 0, 1, 2, 255 },
            PayloadIsUtf8 = false,
            UserProperties = [new("unit", "°C"), new("unit", "again"), new("", "")],
        },
        originClientId: "sensor-1",
        expiresAt: new DateTimeOffset(2031, 5, 6, 7, 8, 9, TimeSpan.FromHours(2)).AddTicks(1234567));

    public static Message BareMessage(string topic, string payload = "on", QoS qos = QoS.AtLeastOnce) =>
        new(topic, System.Text.Encoding.UTF8.GetBytes(payload), qos, retain: false);

    public static void SameMessage(Message expected, Message actual)
    {
        Assert.Equal(expected.Topic, actual.Topic);
        Assert.Equal(expected.Payload.ToArray(), actual.Payload.ToArray());
        Assert.Equal(expected.Qos, actual.Qos);
        Assert.Equal(expected.Retain, actual.Retain);
        Assert.Equal(expected.OriginClientId, actual.OriginClientId);

        // DateTimeOffset equality compares instants: the offset itself need not survive.
        Assert.Equal(expected.ExpiresAt, actual.ExpiresAt);
        if (expected.Properties is null)
        {
            Assert.Null(actual.Properties);
            return;
        }

        var e = expected.Properties;
        var a = Assert.IsType<MessageProperties>(actual.Properties);
        Assert.Equal(e.ContentType, a.ContentType);
        Assert.Equal(e.ResponseTopic, a.ResponseTopic);
        Assert.Equal(e.CorrelationData.ToArray(), a.CorrelationData.ToArray());
        Assert.Equal(e.PayloadIsUtf8, a.PayloadIsUtf8);
        if (e.UserProperties is null)
        {
            Assert.Null(a.UserProperties);
        }
        else
        {
            Assert.NotNull(a.UserProperties);
            Assert.Equal(e.UserProperties, a.UserProperties);
        }
    }
}
