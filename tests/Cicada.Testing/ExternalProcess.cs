using System.Diagnostics;
using System.Text;

namespace Cicada.Testing;

public sealed record ProcessResult(int ExitCode, IReadOnlyList<string> StandardOutput, string StandardError)
{
    public override string ToString()
        => $"exit code {ExitCode}\n--- stdout ---\n{string.Join('\n', StandardOutput)}\n--- stderr ---\n{StandardError}";
}

/// <summary>
/// A child process (broker, mosquitto_pub/sub, python) whose output is captured line by line, so a
/// test can wait for a line ("subscribed", a message) instead of sleeping. Disposing kills it.
/// Inherited <c>CICADA_*</c> variables are dropped: a setting in the developer's shell would change
/// what is under test. Settings a test wants are passed in <c>environment</c>.
/// </summary>
public sealed class ExternalProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<string> _stdout = [];
    private readonly List<string> _lines = [];
    private readonly StringBuilder _stderr = new();
    private readonly Lock _gate = new();
    private readonly TaskCompletionSource _stdoutClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _stderrClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ExternalProcess(Process process) => _process = process;

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public static ExternalProcess Start(string fileName, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        var startInfo = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        foreach (var key in startInfo.Environment.Keys.Where(k => k.StartsWith("CICADA_", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            startInfo.Environment.Remove(key);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            startInfo.Environment[key] = value;
        }

        var process = new Process { StartInfo = startInfo, EnableRaisingEvents = true };
        var external = new ExternalProcess(process);
        process.OutputDataReceived += (_, e) => external.OnLine(e.Data, isStdout: true);
        process.ErrorDataReceived += (_, e) => external.OnLine(e.Data, isStdout: false);
        if (!process.Start())
        {
            throw new InvalidOperationException($"Could not start {fileName}.");
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return external;
    }

    /// <summary>Runs a process to completion; fails the test if it outlives the timeout.</summary>
    public static async Task<ProcessResult> RunAsync(string fileName, IEnumerable<string> arguments, TimeSpan? timeout = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        await using var process = Start(fileName, arguments, environment);
        return await process.WaitForExitAsync(timeout ?? Timeouts.ExternalClient);
    }

    public IReadOnlyList<string> StandardOutputLines
    {
        get
        {
            lock (_gate)
            {
                return [.. _stdout];
            }
        }
    }

    /// <summary>Every line of stdout and stderr, in the order they arrived.</summary>
    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_gate)
            {
                return [.. _lines];
            }
        }
    }

    public string AllOutput
    {
        get
        {
            lock (_gate)
            {
                return $"--- stdout ---\n{string.Join('\n', _stdout)}\n--- stderr ---\n{_stderr}";
            }
        }
    }

    /// <summary>Waits for a stdout line matching <paramref name="predicate"/> and returns it.</summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> predicate, TimeSpan timeout, string description) =>
        (await WaitAsync(_stdout, predicate, 1, timeout, description))[0];

    /// <summary>Waits until <paramref name="count"/> lines of stdout or stderr match and returns them.</summary>
    public Task<IReadOnlyList<string>> WaitForLinesAsync(Func<string, bool> predicate, int count, TimeSpan timeout, string description) =>
        WaitAsync(_lines, predicate, count, timeout, description);

    private async Task<IReadOnlyList<string>> WaitAsync(List<string> lines, Func<string, bool> predicate, int count, TimeSpan timeout, string description)
    {
        using var cts = new CancellationTokenSource(timeout);
        var index = 0;
        var found = new List<string>();
        while (true)
        {
            Task changed;
            bool closed;
            lock (_gate)
            {
                // Read before scanning: the close is recorded after the last line, under the same lock.
                closed = _stdoutClosed.Task.IsCompleted && (lines == _stdout || _stderrClosed.Task.IsCompleted);
                for (; index < lines.Count; index++)
                {
                    if (predicate(lines[index]))
                    {
                        found.Add(lines[index]);
                        if (found.Count == count)
                        {
                            return found;
                        }
                    }
                }

                changed = _changed.Task;
            }

            if (closed)
            {
                throw new InvalidOperationException($"The process exited before printing {description}.\n{AllOutput}");
            }

            try
            {
                await changed.WaitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"No {description} within {timeout}.\n{AllOutput}");
            }
        }
    }

    public async Task<ProcessResult> WaitForExitAsync(TimeSpan timeout)
    {
        try
        {
            await _process.WaitForExitAsync().WaitAsync(timeout);
            await Task.WhenAll(_stdoutClosed.Task, _stderrClosed.Task).WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            Kill();
            throw new TimeoutException($"{_process.StartInfo.FileName} did not exit within {timeout}.\n{AllOutput}");
        }

        lock (_gate)
        {
            return new ProcessResult(_process.ExitCode, [.. _stdout], _stderr.ToString());
        }
    }

    /// <summary>SIGKILL: the process gets no chance to say goodbye (no DISCONNECT, no flush).</summary>
    public void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    /// <summary>SIGTERM: asks for a graceful shutdown (brokers flush their state on it).</summary>
    public async Task TerminateAsync(TimeSpan timeout)
    {
        if (_process.HasExited)
        {
            return;
        }

        var result = await RunAsync("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)], timeout);
        Assert.True(result.ExitCode == 0, $"kill -TERM failed: {result}");
        await WaitForExitAsync(timeout);
    }

    public async ValueTask DisposeAsync()
    {
        Kill();
        try
        {
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (TimeoutException)
        {
        }

        _process.Dispose();
    }

    private void OnLine(string? line, bool isStdout)
    {
        TaskCompletionSource changed;
        lock (_gate)
        {
            if (line is null)
            {
                (isStdout ? _stdoutClosed : _stderrClosed).TrySetResult();
            }
            else
            {
                _lines.Add(line);
                if (isStdout)
                {
                    _stdout.Add(line);
                }
                else
                {
                    _stderr.AppendLine(line);
                }
            }

            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.TrySetResult();
    }
}
