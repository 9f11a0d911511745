namespace Cicada.Mqtt.Tests;

/// <summary>MQTT 5 property blocks (§2.2.2) from <see cref="V5Props"/>, written by the tests themselves so a test
/// compares the production codec against the spec's table rather than against itself.</summary>
internal static class PacketBuilderV5Extensions
{
    public static PacketBuilder Props(this PacketBuilder builder, V5Props props) => builder.Bytes(props.Block());

    /// <summary>An empty property block (length 0).</summary>
    public static PacketBuilder NoProps(this PacketBuilder builder) => builder.Bytes(0x00);
}
