using System.Diagnostics;
using System.Text;

namespace Cicada.Testing;

public sealed record ToolResult(int ExitCode, string Output, string Error);

public static class Tools
{
    /// <summary>Runs a program to completion (killed after <paramref name="timeout"/>).</summary>
    public static ToolResult Run(string fileName, IEnumerable<string> args, TimeSpan? timeout = null, string? workingDirectory = null, byte[]? input = null)
    {
        var psi = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = input is not null,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var arg in args)
        {
            psi.ArgumentList.Add(arg);
        }

        using var process = Process.Start(psi)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (input is not null)
        {
            process.StandardInput.BaseStream.Write(input);
            process.StandardInput.Close();
        }

        if (!process.WaitForExit(timeout ?? TimeSpan.FromSeconds(30)))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            return new ToolResult(-1, output.Result, error.Result + $"\n(killed after {timeout})");
        }

        process.WaitForExit();
        return new ToolResult(process.ExitCode, output.Result, error.Result);
    }

    /// <summary>curl with <c>-s</c>, printing the status code on the last line (<c>-w</c>).</summary>
    public static (int Status, string Body, string Headers) Curl(params string[] args)
    {
        var headers = Path.GetTempFileName();
        try
        {
            var result = Run("curl", ["-s", "-S", "--max-time", "15", "-D", headers, "-w", "\n%{http_code}", .. args]);
            Assert.True(result.ExitCode == 0, $"curl failed ({result.ExitCode}): {result.Error}");
            var cut = result.Output.LastIndexOf('\n');
            return (int.Parse(result.Output[(cut + 1)..], System.Globalization.CultureInfo.InvariantCulture), result.Output[..cut],
                File.ReadAllText(headers));
        }
        finally
        {
            File.Delete(headers);
        }
    }

    /// <summary>Starts a long-running program whose output is collected as it comes.</summary>
    public static RunningTool Start(string fileName, IEnumerable<string> args, string? workingDirectory = null) =>
        new(fileName, args, workingDirectory);
}

/// <summary>A started program (mosquitto_sub, a node listener); killed on dispose.</summary>
public sealed class RunningTool : IDisposable
{
    private readonly StringBuilder _output = new();

    public RunningTool(string fileName, IEnumerable<string> args, string? workingDirectory)
    {
        var psi = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var arg in args)
        {
            psi.ArgumentList.Add(arg);
        }

        Process = Process.Start(psi)!;
        Process.OutputDataReceived += (_, e) => Append(e.Data);
        Process.ErrorDataReceived += (_, e) => Append(e.Data);
        Process.BeginOutputReadLine();
        Process.BeginErrorReadLine();
    }

    public Process Process { get; }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }

    /// <summary>Polls until <paramref name="condition"/> holds on the output, or the time is up.</summary>
    public async Task<bool> WaitForAsync(Func<string, bool> condition, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(15));
        while (DateTime.UtcNow < deadline)
        {
            if (condition(Output))
            {
                return true;
            }

            await Task.Delay(50);
        }

        return condition(Output);
    }

    public void Dispose()
    {
        try
        {
            if (!Process.HasExited)
            {
                Process.Kill(entireProcessTree: true);
                Process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
        }

        Process.Dispose();
    }
}
