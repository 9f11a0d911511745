using System.Globalization;

namespace Cicada.Bench;

/// <summary>Resident memory of another process, from Linux's /proc/&lt;pid&gt;/status.</summary>
internal static class ProcessMemory
{
    public static long ReadRssKb(int pid)
    {
        var path = $"/proc/{pid}/status";
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new BenchFailureException($"cannot read {path}: is process {pid} the broker, and is it running? ({e.Message})", e);
        }

        foreach (var line in lines)
        {
            // "VmRSS:     123456 kB" — proc(5).
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                var fields = line["VmRSS:".Length..].Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length == 2 && fields[1] == "kB" && long.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out var kb))
                {
                    return kb;
                }
            }
        }

        throw new BenchFailureException($"no VmRSS line in {path}");
    }
}
