namespace Cicada.Testing;

/// <summary>Where the test assembly finds the repository and the <c>cicada</c> server it builds.</summary>
public static class Repository
{
    /// <summary>The first ancestor of the test assembly holding <c>Cicada.slnx</c>.</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>Debug or Release: whichever the test assembly itself was built with (…/bin/&lt;Configuration&gt;/net10.0/).</summary>
    public static string Configuration { get; } = FindConfiguration();

    /// <summary>The framework-dependent server built next to the tests (run it with <see cref="DotnetHost"/>).</summary>
    public static string ServerDll { get; } = Path.Combine(Root, "src", "Cicada.Server", "bin", Configuration, "net10.0", "Cicada.Server.dll");

    /// <summary>The dotnet that runs the tests (<c>DOTNET_HOST_PATH</c>), so scripts/test can swap in its Native AOT shim.</summary>
    public static string DotnetHost =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Cicada.slnx")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No Cicada.slnx above {AppContext.BaseDirectory}.");
    }

    private static string FindConfiguration()
    {
        var parts = AppContext.BaseDirectory.Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries);
        var bin = Array.LastIndexOf(parts, "bin");
        return bin >= 0 && bin + 1 < parts.Length ? parts[bin + 1] : "Debug";
    }
}
