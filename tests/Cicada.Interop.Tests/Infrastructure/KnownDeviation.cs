namespace Cicada.Interop.Tests.Infrastructure;

/// <summary>
/// The suite follows the spec, not a reference broker. Where Debian's mosquitto (2.0.11) is known
/// to deviate, the affected test is skipped on mosquitto only, with the reason in the skip message.
/// Needs <c>[SkippableFact]</c> / <c>[SkippableTheory]</c>.
/// </summary>
public static class KnownDeviation
{
    public static void SkipOnMosquitto(string reason) =>
        Skip.If(BrokerProcess.IsMosquitto, $"mosquitto 2.0.11 deviates from MQTT 3.1.1 here: {reason}");

    public static void CicadaOnly(string reason) =>
        Skip.If(BrokerProcess.IsMosquitto, $"Cicada-only: {reason}");
}
