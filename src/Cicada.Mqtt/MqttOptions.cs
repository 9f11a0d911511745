namespace Cicada.Mqtt;

/// <summary>MQTT edge settings (configuration section <c>Mqtt</c>).</summary>
public sealed class MqttOptions
{
    public const string Section = "Mqtt";

    /// <summary><c>HOST:PORT</c> or <c>off</c>.</summary>
    public string Listen { get; set; } = "0.0.0.0:1883";

    /// <summary>Largest packet accepted (fixed header included); MQTT's own ceiling is 268,435,455 + 5.</summary>
    public int MaxPacketSize { get; set; } = 1024 * 1024;
}
