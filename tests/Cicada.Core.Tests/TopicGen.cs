using CsCheck;

namespace Cicada.Core.Tests;

/// <summary>
/// Generators for topic names and filters over a small alphabet, so random filters and topics
/// actually collide: empty levels, '$' names (MQTT-4.7.2-1), '+' anywhere, '#' only last.
/// </summary>
internal static class TopicGen
{
    private static readonly Gen<string> NameLevel = Gen.OneOfConst("a", "b", "", "$s");

    private static readonly Gen<string> FilterLevel = Gen.OneOfConst("a", "b", "", "$s", "+");

    /// <summary>1..4 levels.</summary>
    public static readonly Gen<string> Topic = NameLevel.Array[1, 4].Select(levels => string.Join('/', levels));

    /// <summary>0..4 levels then an optional '#' ("#" alone when there are no levels).</summary>
    public static readonly Gen<string> Filter = Gen.Select(FilterLevel.Array[0, 4], Gen.Bool, (levels, hash) =>
        levels.Length == 0 ? "#" : hash ? string.Join('/', levels) + "/#" : string.Join('/', levels));
}
