using Cicada.Bridge.Tests.Infrastructure;

namespace Cicada.Bridge.Tests;

/// <summary>The real cicada refuses a bad <c>Bridges</c> section before it starts anything (exit code 2, the key named).</summary>
public sealed class ConfigurationProcessTests
{
    [Fact]
    public async Task BadBridge_ExitsWithCode2_NamingTheKey()
    {
        var directory = Directory.CreateTempSubdirectory("cicada-bridge-config-").FullName;
        try
        {
            var config = Path.Combine(directory, "cicada.json");
            await File.WriteAllTextAsync(config, """
                { "Bridges": [ { "Name": "cloud", "Address": "localhost:1883", "Topics": [ { "Pattern": "a/#", "Direction": "sideways" } ] } ] }
                """);

            await using var cicada = ExternalProcess.Start("dotnet",
                [Repository.ServerDll, "--mqtt", "off", "--http", "off", "--coap", "off", "--amqp", "off", "--storage", "memory", "--config", config]);

            Assert.Equal(2, (await cicada.WaitForExitAsync(Timeouts.Wait)).ExitCode);
            Assert.Contains(cicada.Lines, l => l.Contains("Bridges:0:Topics:0:Direction: 'sideways' is not in, out or both", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
