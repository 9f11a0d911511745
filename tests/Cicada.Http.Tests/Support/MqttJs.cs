using System.Text.Json;

namespace Cicada.Http.Tests.Support;

/// <summary>MQTT.js (npm <c>mqtt</c>) driven through <c>js/scenario.mjs</c>; installed once into js/node_modules.</summary>
internal static class MqttJs
{
    private static readonly Lazy<string?> InstallError = new(Install);

    private static string? Install()
    {
        var result = Tools.Run("bash", [Path.Combine(Repo.JsDirectory, "install.sh")], TimeSpan.FromMinutes(3));
        return result.ExitCode == 0 ? null : $"npm install of mqtt failed ({result.ExitCode}): {result.Error}{result.Output}";
    }

    public static void EnsureInstalled()
    {
        if (InstallError.Value is { } error)
        {
            Assert.Fail(error);
        }
    }

    /// <summary>Runs one scenario to its end; returns its JSON result.</summary>
    public static JsonElement Run(string url, string scenario, string prefix, params string[] extra)
    {
        EnsureInstalled();
        var result = Tools.Run("node", ["scenario.mjs", url, scenario, prefix, .. extra], TimeSpan.FromSeconds(40), Repo.JsDirectory);
        var line = result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault();
        Assert.True(result.ExitCode == 0 && line is not null, $"MQTT.js {scenario} failed ({result.ExitCode}): {result.Output}\n{result.Error}");
        return JsonDocument.Parse(line).RootElement.Clone();
    }

    /// <summary>Starts a scenario that runs on (listen, hold); wait for its "ready"/"connected" line.</summary>
    public static RunningTool Start(string url, string scenario, string prefix, params string[] extra)
    {
        EnsureInstalled();
        return Tools.Start("node", ["scenario.mjs", url, scenario, prefix, .. extra], Repo.JsDirectory);
    }
}
