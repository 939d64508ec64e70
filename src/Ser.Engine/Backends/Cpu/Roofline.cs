using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Text.Json.Nodes;

namespace Ser.Engine.Backends.Cpu;

/// <summary>
/// This machine's measured limits, the roof the CPU kernels are judged against:
/// float32 FMA peak of one core per vector width (12 independent register-resident FMA chains, enough to cover FMA
/// latency x FMA ports on current x86 cores; nothing touches memory), and memory bandwidth (a streaming read and a
/// triad a = b + s c over buffers far larger than any L3, split over the given threads). Best of a few repeats.
/// The FMA loop is timed by the process's CPU time (one busy thread), so time the scheduler gives other processes on
/// a shared machine does not lower the peak; bandwidth is wall-clock time.
/// </summary>
public sealed record Roofline(double ScalarGflopsPerCore, double Vector256GflopsPerCore, double? Vector512GflopsPerCore,
    double ReadGBPerSecond, double TriadGBPerSecond, int BandwidthThreads, long BufferBytes)
{
    /// <summary>FMA peak of one core on a path, GFLOP/s (an FMA counts 2 FLOPs).</summary>
    public double PeakPerCore(SimdPath path) => path switch
    {
        SimdPath.Vector512 => Vector512GflopsPerCore ?? Vector256GflopsPerCore,
        SimdPath.Vector256 => Vector256GflopsPerCore,
        _ => ScalarGflopsPerCore,
    };

    public JsonObject ToJson() => new()
    {
        ["fma_gflops_per_core"] = new JsonObject
        {
            ["scalar"] = ScalarGflopsPerCore,
            ["vector256"] = Vector256GflopsPerCore,
            ["vector512"] = Vector512GflopsPerCore,
        },
        ["memory_read_gb_per_s"] = ReadGBPerSecond,
        ["memory_triad_gb_per_s"] = TriadGBPerSecond,
        ["bandwidth_threads"] = BandwidthThreads,
        ["bandwidth_buffer_bytes"] = BufferBytes,
    };

    /// <summary>Measures (about 2 s). threads: workers for the bandwidth runs (0 = all cores).</summary>
    public static Roofline Measure(int threads = 0)
    {
        int workers = threads > 0 ? threads : Environment.ProcessorCount;
        double scalar = Best(() => FmaGflops<V1<float>, float>(20_000_000));
        double v256 = Vector256.IsHardwareAccelerated ? Best(() => FmaGflops<V256<float>, Vector256<float>>(20_000_000)) : scalar;
        double? v512 = Vector512.IsHardwareAccelerated ? Best(() => FmaGflops<V512<float>, Vector512<float>>(20_000_000)) : null;
        const long elements = 64L << 20; // 256 MB of float per buffer
        var (read, triad) = Bandwidth(elements, workers);
        return new Roofline(scalar, v256, v512, read, triad, workers, elements * sizeof(float));
    }

    static double Best(Func<double> run)
    {
        double best = 0;
        for (int i = 0; i < 3; i++) best = Math.Max(best, run());
        return best;
    }

    /// <summary>GFLOP/s of <see cref="FmaChains{S, TV}"/>, timed by the process's CPU time.</summary>
    static double FmaGflops<S, TV>(long iterations) where S : struct, IVectorOps<float, TV> where TV : unmanaged
    {
        var t0 = Environment.CpuUsage.TotalTime;
        Sink = FmaChains<S, TV>(iterations); // keeps the loop alive
        double seconds = (Environment.CpuUsage.TotalTime - t0).TotalSeconds;
        return 2.0 * 12 * S.Lanes * iterations / seconds / 1e9;
    }

    /// <summary>12 independent chains acc = acc * m + c; no call inside, so all of them stay in registers.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static float FmaChains<S, TV>(long iterations) where S : struct, IVectorOps<float, TV> where TV : unmanaged
    {
        // m < 1 keeps every chain bounded (it converges to c / (1 - m)), far from overflow and denormals
        TV m = S.Splat(0.999999f), c = S.Splat(1e-3f);
        TV a0 = S.Splat(1f), a1 = S.Splat(2f), a2 = S.Splat(3f), a3 = S.Splat(4f), a4 = S.Splat(5f), a5 = S.Splat(6f);
        TV a6 = S.Splat(7f), a7 = S.Splat(8f), a8 = S.Splat(9f), a9 = S.Splat(10f), a10 = S.Splat(11f), a11 = S.Splat(12f);
        for (long i = 0; i < iterations; i++)
        {
            a0 = S.MulAdd(a0, m, c); a1 = S.MulAdd(a1, m, c); a2 = S.MulAdd(a2, m, c); a3 = S.MulAdd(a3, m, c);
            a4 = S.MulAdd(a4, m, c); a5 = S.MulAdd(a5, m, c); a6 = S.MulAdd(a6, m, c); a7 = S.MulAdd(a7, m, c);
            a8 = S.MulAdd(a8, m, c); a9 = S.MulAdd(a9, m, c); a10 = S.MulAdd(a10, m, c); a11 = S.MulAdd(a11, m, c);
        }
        var sum = S.Add(S.Add(S.Add(a0, a1), S.Add(a2, a3)), S.Add(S.Add(a4, a5), S.Add(a6, a7)));
        sum = S.Add(sum, S.Add(S.Add(a8, a9), S.Add(a10, a11)));
        return S.Sum(sum);
    }

    static float Sink;

    /// <summary>(read, triad) GB/s over buffers of n floats, each worker streaming its own contiguous part.</summary>
    static unsafe (double Read, double Triad) Bandwidth(long n, int workers)
    {
        var a = new float[n]; var b = new float[n]; var c = new float[n];
        Array.Fill(b, 1f); Array.Fill(c, 2f); Array.Fill(a, 0f); // touch every page before timing
        var options = new ParallelOptions { MaxDegreeOfParallelism = workers };
        long part = n / workers;
        double read = 0, triad = 0;
        for (int rep = 0; rep < 3; rep++)
        {
            var sums = new float[workers];
            long t0 = Stopwatch.GetTimestamp();
            Parallel.For(0, workers, options, w =>
            {
                fixed (float* p = &b[w * part]) sums[w] = Simd<float>.Sum<V256<float>, Vector256<float>>(p, (int)part);
            });
            read = Math.Max(read, n * 4.0 / Stopwatch.GetElapsedTime(t0).TotalSeconds / 1e9);
            Sink = sums.Sum();
            t0 = Stopwatch.GetTimestamp();
            Parallel.For(0, workers, options, w =>
            {
                fixed (float* pa = &a[w * part], pb = &b[w * part], pc = &c[w * part])
                {
                    var s = Vector256.Create(3f);
                    for (long i = 0; i + 8 <= part; i += 8)
                        Vector256.Store(Vector256.Load(pb + i) + s * Vector256.Load(pc + i), pa + i);
                }
            });
            triad = Math.Max(triad, n * 12.0 / Stopwatch.GetElapsedTime(t0).TotalSeconds / 1e9);
        }
        return (read, triad);
    }
}
