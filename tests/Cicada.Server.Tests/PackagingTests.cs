using System.Globalization;

namespace Cicada.Server.Tests;

/// <summary>
/// packaging/cicada.service and scripts/install: the unit is valid and hardened, and the install
/// script lays out the files (into a staging root, so the machine running the tests is untouched).
/// </summary>
public sealed class PackagingTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static string Root => ConfigurationValidationTests.RepositoryRoot();

    private static string UnitFile => Path.Combine(Root, "packaging", "cicada.service");

    private static bool HasTool(string name) => Tools.Run("bash", "-c", $"command -v {name}").ExitCode == 0;

    /// <summary>The unit's <c>Key=Value</c> lines (comments skipped; a repeated key keeps every value).</summary>
    private static ILookup<string, string> UnitSettings() =>
        File.ReadAllLines(UnitFile)
            .Where(l => l.Length > 0 && l[0] is not '#' and not ';' and not '[' && l.Contains('=', StringComparison.Ordinal))
            .Select(l => (Key: l[..l.IndexOf('=', StringComparison.Ordinal)], Value: l[(l.IndexOf('=', StringComparison.Ordinal) + 1)..]))
            .ToLookup(p => p.Key, p => p.Value, StringComparer.Ordinal);

    /// <summary>
    /// The unit with ExecStart pointing at an executable that exists here: verify checks that the
    /// binary exists, and the tests must not install one in /usr/local/bin.
    /// </summary>
    private string UnitWithExistingBinary()
    {
        var unit = _dir.File("cicada.service");
        File.WriteAllText(unit, File.ReadAllText(UnitFile).Replace("ExecStart=/usr/local/bin/cicada", "ExecStart=/bin/sh", StringComparison.Ordinal));
        return unit;
    }

    [SkippableFact]
    public void SystemdUnit_PassesSystemdAnalyzeVerify_WithoutAWarning()
    {
        Skip.IfNot(HasTool("systemd-analyze"), "systemd-analyze is not installed here");

        var (code, output, error) = Tools.Run("systemd-analyze", "verify", UnitWithExistingBinary());

        Assert.True(code == 0, $"systemd-analyze verify exited {code}: {output}{error}");
        // Unknown keys and unparsable values are only warnings (exit 0): none is allowed.
        Assert.Equal(string.Empty, error.Trim());
    }

    [SkippableFact]
    public void SystemdUnit_ExposureScore_IsLow()
    {
        Skip.IfNot(HasTool("systemd-analyze"), "systemd-analyze is not installed here");

        var (code, output, error) = Tools.Run("systemd-analyze", "security", "--offline=yes", "--no-pager", UnitWithExistingBinary());

        Assert.True(code == 0, $"systemd-analyze security exited {code}: {error}");
        var marker = "Overall exposure level for cicada.service: ";
        var at = output.IndexOf(marker, StringComparison.Ordinal);
        Assert.True(at >= 0, output);
        var score = double.Parse(output[(at + marker.Length)..].Split(' ')[0], CultureInfo.InvariantCulture);
        // 0 = fully locked down, 10 = unprotected; systemd calls below 2 "OK". A service that
        // needs only the network and one folder should stay there.
        Assert.True(score < 2.0, $"exposure {score}:\n{output}");
    }

    [Fact]
    public void SystemdUnit_IsHardened_NotifiesReadiness_AndGrantsNoCapabilityByDefault()
    {
        var unit = UnitSettings();

        Assert.Equal(["notify"], unit["Type"]);
        Assert.Equal(["cicada"], unit["User"]);
        Assert.Equal(["/usr/local/bin/cicada --config /etc/cicada/cicada.json"], unit["ExecStart"]);
        Assert.Equal(["strict"], unit["ProtectSystem"]);
        Assert.Equal(["/var/lib/cicada"], unit["ReadWritePaths"]);
        Assert.Equal(["yes"], unit["NoNewPrivileges"]);
        Assert.Equal(["yes"], unit["PrivateTmp"]);
        Assert.Equal(["yes"], unit["ProtectHome"]);
        Assert.Equal([string.Empty], unit["AmbientCapabilities"]);
        Assert.Equal([string.Empty], unit["CapabilityBoundingSet"]);
        // A configuration error (exit 2) is not retried in a loop.
        Assert.Equal(["2"], unit["RestartPreventExitStatus"]);
    }

    private string FakePublished(bool withSqlite = true)
    {
        var from = Path.Combine(_dir.Path, "published");
        Directory.CreateDirectory(from);
        var binary = Path.Combine(from, "cicada");
        File.WriteAllText(binary, "#!/bin/sh\necho 9.9.9+fake\n");
        File.SetUnixFileMode(binary, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        if (withSqlite)
            File.WriteAllText(Path.Combine(from, "libe_sqlite3.so"), "not really");
        return from;
    }

    private (int Code, string Output) Install(string from, string root)
    {
        var (code, output, error) = Tools.Run(Path.Combine(Root, "scripts", "install"), "--from", from, "--root", root);
        return (code, output + error);
    }

    [Fact]
    public void Install_IntoAStagingRoot_LaysOutBinaryConfigDataAndUnit()
    {
        var root = Path.Combine(_dir.Path, "root");

        var (code, output) = Install(FakePublished(), root);

        Assert.True(code == 0, output);
        string At(string path) => Path.Combine(root, path.TrimStart('/'));
        Assert.True(File.Exists(At("/usr/local/lib/cicada/cicada")), output);
        Assert.True(File.Exists(At("/usr/local/lib/cicada/libe_sqlite3.so")), "SQLite's library sits beside the real binary");
        Assert.Equal("../lib/cicada/cicada", new FileInfo(At("/usr/local/bin/cicada")).LinkTarget);
        Assert.True(File.GetUnixFileMode(At("/usr/local/lib/cicada/cicada")).HasFlag(UnixFileMode.OtherExecute));
        Assert.True(Directory.Exists(At("/var/lib/cicada")));
        Assert.False(File.GetUnixFileMode(At("/var/lib/cicada")).HasFlag(UnixFileMode.OtherRead), "the data folder is not world-readable");
        Assert.Equal(File.ReadAllText(Path.Combine(Root, "docs", "cicada.example.json")), File.ReadAllText(At("/etc/cicada/cicada.json")));
        Assert.Equal(File.ReadAllText(UnitFile), File.ReadAllText(At("/etc/systemd/system/cicada.service")));
        Assert.True(File.Exists(At("/usr/local/share/doc/cicada/configuration.md")));
        Assert.False(Directory.Exists(At("/etc/systemd/system/cicada.service.d")), "default ports (>= 1024) need no capability");
        Assert.Contains("9.9.9+fake", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Install_GrantsCapNetBindService_OnlyWhileAPortBelow1024IsConfigured_AndKeepsTheConfig()
    {
        var root = Path.Combine(_dir.Path, "root");
        var from = FakePublished();
        Assert.Equal(0, Install(from, root).Code);
        var config = Path.Combine(root, "etc/cicada/cicada.json");
        var dropIn = Path.Combine(root, "etc/systemd/system/cicada.service.d/low-ports.conf");
        var original = File.ReadAllText(config);

        // The operator moves MQTT to 883 (and a commented-out low port must not count).
        var edited = original.Replace("\"Listen\": \"0.0.0.0:1883\"", "\"Listen\": \"0.0.0.0:883\"", StringComparison.Ordinal)
            + "\n// \"Listen\": \"0.0.0.0:80\"\n";
        Assert.NotEqual(original, edited);
        File.WriteAllText(config, edited);
        var (code, output) = Install(from, root);

        Assert.True(code == 0, output);
        Assert.Equal(edited, File.ReadAllText(config));
        var grant = File.ReadAllText(dropIn);
        Assert.Contains("AmbientCapabilities=CAP_NET_BIND_SERVICE", grant, StringComparison.Ordinal);
        Assert.Contains("CapabilityBoundingSet=CAP_NET_BIND_SERVICE", grant, StringComparison.Ordinal);
        Assert.Contains("883", output, StringComparison.Ordinal);
        Assert.DoesNotContain(" 80 ", output, StringComparison.Ordinal);

        // Back above 1024: the grant goes away on the next install.
        File.WriteAllText(config, original);
        Assert.Equal(0, Install(from, root).Code);
        Assert.False(File.Exists(dropIn));
    }

    [Fact]
    public void Install_WithoutAPublishedBinary_FailsNamingScriptsPublish()
    {
        var empty = Path.Combine(_dir.Path, "empty");
        Directory.CreateDirectory(empty);

        var (code, output) = Install(empty, Path.Combine(_dir.Path, "root"));

        Assert.NotEqual(0, code);
        Assert.Contains("scripts/publish", output, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_dir.Path, "root", "usr")));
    }
}
