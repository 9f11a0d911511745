using System.Globalization;

namespace Cicada.Fuzz.Tests.Engine;

/// <summary>
/// Runs one codec's harness over mutated inputs and fails with everything needed to reproduce:
/// codec, seed, iteration and the input in hex.
/// <list type="bullet">
/// <item>By default a fixed seed and a fixed number of iterations: the same inputs on every run,
/// so <c>scripts/test</c> never fails on luck.</item>
/// <item><c>FUZZ_SECONDS=N</c>: run each codec for N seconds with a fresh random seed (a longer
/// local hunt); <c>FUZZ_SEED=S</c> replays a seed a failure printed.</item>
/// </list>
/// A harness fails on an exception other than the codec's own protocol error, on one input taking
/// longer than <see cref="HangAfter"/>, or on an input allocating more than <see cref="AllocationBudget"/>.
/// </summary>
public static class FuzzRun
{
    public static readonly TimeSpan HangAfter = TimeSpan.FromSeconds(10);

    public const int DefaultIterations = 20_000;

    /// <summary>Bytes one input may allocate: room for the decoded copies, not for a length field taken on trust.</summary>
    public static long AllocationBudget(int inputLength) => 1024 * 1024 + 256L * inputLength;

    public static void Run(string codec, IReadOnlyList<byte[]> corpus, Action<byte[]> harness, Func<Exception, bool> isProtocolError,
        int iterations = DefaultIterations)
    {
        Assert.NotEmpty(corpus);
        var seconds = int.TryParse(Environment.GetEnvironmentVariable("FUZZ_SECONDS"), CultureInfo.InvariantCulture, out var s) ? s : 0;
        var seed = int.TryParse(Environment.GetEnvironmentVariable("FUZZ_SEED"), CultureInfo.InvariantCulture, out var given)
            ? given
            : seconds > 0 ? Random.Shared.Next() : StableSeed(codec);

        // Printed up front too: a crash of the whole test host (stack overflow) leaves no assertion message.
        Console.Error.WriteLine($"fuzz {codec}: seed {seed}" + (seconds > 0 ? $", {seconds} s" : $", {iterations} iterations"));

        string? failure = null;
        byte[]? current = null;
        var iteration = 0L;
        var done = false;
        var worker = new Thread(() =>
        {
            var mutator = new Mutator(new Random(seed), corpus);
            var deadline = seconds > 0 ? DateTime.UtcNow.AddSeconds(seconds) : DateTime.MaxValue;

            // The seeds themselves first: every one must decode.
            IEnumerable<byte[]> inputs = corpus;
            foreach (var input in inputs.Concat(Endless(mutator)))
            {
                if (seconds > 0 ? DateTime.UtcNow > deadline : iteration >= iterations + corpus.Count)
                {
                    break;
                }

                Volatile.Write(ref current, input);
                var before = GC.GetAllocatedBytesForCurrentThread();
                try
                {
                    harness(input);
                }
                catch (Exception ex) when (isProtocolError(ex) && iteration >= corpus.Count)
                {
                    // The codec's own error: the expected answer to bad input.
                }
                catch (Exception ex)
                {
                    failure = $"{(iteration < corpus.Count ? "seed input" : "input")} threw {ex}";
                    break;
                }

                var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                if (allocated > AllocationBudget(input.Length))
                {
                    failure = $"input of {input.Length} bytes allocated {allocated} bytes";
                    break;
                }

                Interlocked.Increment(ref iteration);
            }

            Volatile.Write(ref done, true);
        })
        {
            IsBackground = true,
            Name = "fuzz " + codec,
        };
        worker.Start();

        // Watchdog: the worker must keep moving; one input stuck for HangAfter is a hang.
        var lastIteration = -1L;
        var lastProgress = DateTime.UtcNow;
        while (!worker.Join(TimeSpan.FromMilliseconds(200)))
        {
            var now = Interlocked.Read(ref iteration);
            if (now != lastIteration)
            {
                lastIteration = now;
                lastProgress = DateTime.UtcNow;
            }
            else if (DateTime.UtcNow - lastProgress > HangAfter)
            {
                failure = $"input hung for more than {HangAfter.TotalSeconds} s";
                break;
            }
        }

        if (failure is not null)
        {
            var input = Volatile.Read(ref current) ?? [];
            Assert.Fail($"fuzz {codec}: {failure}\n  reproduce: FUZZ_SEED={seed} (iteration {Interlocked.Read(ref iteration)})\n" +
                $"  input ({input.Length} bytes): {Convert.ToHexString(input.AsSpan(0, Math.Min(input.Length, 512)))}{(input.Length > 512 ? "…" : string.Empty)}");
        }

        Assert.True(Volatile.Read(ref done));
    }

    private static IEnumerable<byte[]> Endless(Mutator mutator)
    {
        while (true)
        {
            yield return mutator.Next();
        }
    }

    /// <summary>A seed fixed per codec (string.GetHashCode is randomised per process, so not that).</summary>
    private static int StableSeed(string codec)
    {
        var hash = 17;
        foreach (var c in codec)
        {
            hash = unchecked(hash * 31 + c);
        }

        return hash & int.MaxValue;
    }
}

/// <summary>The checked-in seed packets, captured from real clients by <c>Corpus/capture.py</c>.</summary>
public static class Corpus
{
    public static IReadOnlyList<byte[]> Load(string folder)
    {
        var path = Path.Combine(AppContext.BaseDirectory, "Corpus", folder);
        return [.. Directory.GetFiles(path, "*.bin").Order(StringComparer.Ordinal).Select(File.ReadAllBytes)];
    }
}
