namespace Cicada.Amqp;

/// <summary>AMQP edge settings (configuration section <c>Amqp</c>).</summary>
public sealed class AmqpOptions
{
    public const string Section = "Amqp";

    /// <summary><c>HOST:PORT</c> or <c>off</c>.</summary>
    public string Listen { get; set; } = "0.0.0.0:5672";

    /// <summary>Largest frame offered in connection.tune (RabbitMQ's default); the client may lower it.</summary>
    public int FrameMax { get; set; } = 131_072;

    /// <summary>Highest channel number offered in connection.tune.</summary>
    public int ChannelMax { get; set; } = 2047;

    /// <summary>Heartbeat interval offered in connection.tune, in seconds; 0 offers none.</summary>
    public int HeartbeatSeconds { get; set; } = 60;

    /// <summary>Largest message body accepted; a larger one closes the channel with 406 (RabbitMQ's max_message_size).</summary>
    public long MaxMessageSize { get; set; } = 128L * 1024 * 1024;
}
