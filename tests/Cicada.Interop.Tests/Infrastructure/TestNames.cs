namespace Cicada.Interop.Tests.Infrastructure;

/// <summary>
/// Unique topics and client ids, so tests can share one broker per class without seeing each
/// other's messages or sessions. Client ids stay within the 23 characters MQTT 3.1 allows.
/// </summary>
public static class TestNames
{
    public static string Topic(string name) => $"it/{Unique()}/{name}";

    public static string ClientId(string prefix = "c")
    {
        var id = $"{prefix}-{Unique()}";
        return id.Length <= 23 ? id : id[..23];
    }

    private static string Unique() => Guid.NewGuid().ToString("N")[..12];
}
