
namespace Cicada.Fault.Tests.Infrastructure;

/// <summary>
/// A size-limited tmpfs (<c>mount -t tmpfs -o size=…</c>) as a data folder, so a test can make the
/// disk full with a filler file and give the space back by deleting it. Needs root (the sandbox and
/// CI run as root); <see cref="TryCreateAsync"/> returns null where mounting is not allowed.
/// </summary>
public sealed class SmallDisk : IAsyncDisposable
{
    private readonly string _filler;

    private SmallDisk(string path)
    {
        Path = path;
        _filler = System.IO.Path.Combine(path, "filler");
    }

    public string Path { get; }

    public static async Task<SmallDisk?> TryCreateAsync(int megabytes)
    {
        var path = Directory.CreateTempSubdirectory("cicada-disk-").FullName;
        var result = await ExternalProcess.RunAsync("mount", ["-t", "tmpfs", "-o", $"size={megabytes}m", "tmpfs", path]);
        if (result.ExitCode != 0)
        {
            Directory.Delete(path);
            return null;
        }

        return new SmallDisk(path);
    }

    /// <summary>Writes a filler file until the file system reports no space left (ENOSPC).</summary>
    public long Fill()
    {
        var chunk = new byte[4096];
        long written = 0;
        using var stream = new FileStream(_filler, FileMode.Append, FileAccess.Write, FileShare.None, 1);
        try
        {
            while (true)
            {
                stream.Write(chunk);
                written += chunk.Length;
            }
        }
        catch (IOException)
        {
        }

        return written;
    }

    public void Free() => File.Delete(_filler);

    public async ValueTask DisposeAsync()
    {
        await ExternalProcess.RunAsync("umount", ["-l", Path]);
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
