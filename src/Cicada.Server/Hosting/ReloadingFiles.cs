namespace Cicada.Server.Hosting;

/// <summary>
/// A value loaded from files and loaded again when one of them changes (modification time or
/// length), checked on use at most once per <see cref="CheckInterval"/>: a TLS handshake asks for
/// the certificate, so a renewed certificate is picked up by the next handshake without a watcher
/// thread or a restart. A reload that fails (a half-written file, a key that does not match) keeps
/// the previous value and is retried when the files change again.
/// </summary>
public sealed class ReloadingFiles<T>
    where T : class
{
    private readonly string[] _paths;
    private readonly Func<T> _load;
    private readonly Lock _lock = new();
    private readonly TimeProvider _time;
    private T? _value;
    private string _stamp = string.Empty;
    private long _nextCheck;

    public ReloadingFiles(string[] paths, Func<T> load, TimeProvider? time = null)
    {
        _paths = paths;
        _load = load;
        _time = time ?? TimeProvider.System;
    }

    public static TimeSpan CheckInterval { get; } = TimeSpan.FromSeconds(1);

    /// <summary>Raised after every successful (re)load, the first included.</summary>
    public event Action<T>? Reloaded;

    /// <summary>Raised when changed files could not be loaded (the previous value stays).</summary>
    public event Action<string>? ReloadFailed;

    /// <summary>How many times the value was loaded.</summary>
    public int Loads { get; private set; }

    public T Current
    {
        get
        {
            var now = _time.GetTimestamp();
            if (_value is { } value && now < Volatile.Read(ref _nextCheck))
                return value;
            lock (_lock)
            {
                _nextCheck = now + (long)(CheckInterval.TotalSeconds * _time.TimestampFrequency);
                var stamp = Stamp();
                if (_value is not null && stamp == _stamp)
                    return _value;
                try
                {
                    var loaded = _load();
                    _value = loaded;
                    _stamp = stamp;
                    Loads++;
                    Reloaded?.Invoke(loaded);
                }
                catch (Exception ex) when (_value is not null && ex is IOException or System.Security.Cryptography.CryptographicException
                    or UnauthorizedAccessException or ArgumentException)
                {
                    // Remember the bad stamp: retry only when the files change again.
                    _stamp = stamp;
                    ReloadFailed?.Invoke(ex.Message);
                }

                return _value;
            }
        }
    }

    /// <summary>
    /// Loads the files now, changed or not (SIGHUP). The outcome is returned rather than raised as
    /// <see cref="Reloaded"/>/<see cref="ReloadFailed"/>, so the caller logs it once, with its
    /// trigger. A failure keeps the previous value: <paramref name="current"/> is then still <paramref name="previous"/>.
    /// </summary>
    public bool Reload(out T? previous, out T? current, out string? error)
    {
        lock (_lock)
        {
            previous = _value;
            current = _value;
            var stamp = Stamp();
            try
            {
                _value = current = _load();
                _stamp = stamp;
                Loads++;
                error = null;
                return true;
            }
            catch (Exception ex) when (ex is IOException or System.Security.Cryptography.CryptographicException
                or UnauthorizedAccessException or ArgumentException)
            {
                _stamp = stamp;
                error = ex.Message;
                return false;
            }
            finally
            {
                _nextCheck = _time.GetTimestamp() + (long)(CheckInterval.TotalSeconds * _time.TimestampFrequency);
            }
        }
    }

    /// <summary>Forgets when it last looked, so the next <see cref="Current"/> checks the files (tests).</summary>
    public void CheckNow() => Volatile.Write(ref _nextCheck, 0);

    private string Stamp() => string.Join('|', _paths.Select(p =>
    {
        var info = new FileInfo(p);
        return info.Exists ? $"{info.LastWriteTimeUtc.Ticks}:{info.Length}" : "-";
    }));
}
