using Ser.Engine.Backends.Cuda;
using Ser.Engine.Features;

namespace Ser.Native.Tests;

/// <summary>
/// The cuFFT front end against a double-precision direct DFT and against the CPU front end.
/// Tolerance: |Δ| ≤ 2e-3 dB on every bin within 50 dB of its frame's peak (weaker bins carry
/// relatively more FFT rounding); everything past a sample's frames is exactly 0. Skip without a GPU.
/// Legend: B batch, T frames, F = 400 bins.
/// </summary>
[Collection("Gpu")]
public class CudaFrontEndTests
{
    const double ToleranceDb = 2e-3;
    const double StrictRangeDb = 50;

    // Unsorted on purpose, with the edge cases: exactly one window, shorter than a window, empty, hop remainders.
    static readonly int[] Lengths = [16_000 + 37, 640, 500, 0, 640 * 3 + 161, 48_000, 4_000];

    static float[][] Batch() => Lengths.Select((l, i) => TestSignals.Voice(l, 100 + i)).ToArray();

    /// <summary>The definition, in double: dB of |DFT_1600(window · frame)|^2 for bins 0..399, [T, F].</summary>
    static double[] ReferenceDb(float[] pcm)
    {
        int frames = CudaFrontEnd.FrameCount(pcm.Length);
        var cos = new double[FrontEnd.DftSize];
        var sin = new double[FrontEnd.DftSize];
        for (int m = 0; m < cos.Length; m++)
        {
            cos[m] = Math.Cos(2 * Math.PI * m / FrontEnd.DftSize);
            sin[m] = Math.Sin(2 * Math.PI * m / FrontEnd.DftSize);
        }
        var db = new double[frames * FrontEnd.Bins];
        var x = new double[FrontEnd.WindowLength];
        for (int t = 0; t < frames; t++)
        {
            for (int n = 0; n < x.Length; n++)
            {
                int at = t * FrontEnd.Hop + n;
                double w = 0.54 - 0.46 * Math.Cos(2 * Math.PI * n / (FrontEnd.WindowLength - 1));
                x[n] = at < pcm.Length ? pcm[at] * w : 0;
            }
            for (int k = 0; k < FrontEnd.Bins; k++)
            {
                double re = 0, im = 0;
                for (int n = 0; n < x.Length; n++)
                {
                    int m = k * n % FrontEnd.DftSize;
                    re += x[n] * cos[m];
                    im -= x[n] * sin[m];
                }
                db[t * FrontEnd.Bins + k] = 10 * Math.Log10(Math.Max(re * re + im * im, 1e-10));
            }
        }
        return db;
    }

    /// <summary>Compares sample b of a [B, T, F] GPU output with a [T_b, F] expectation; returns the worst strict |Δ|.</summary>
    static double CompareSample(float[] gpu, int b, int frames, IReadOnlyList<double> expected, string what)
    {
        int sampleFrames = expected.Count / FrontEnd.Bins;
        double worst = 0;
        for (int t = 0; t < frames; t++)
        {
            int row = (b * frames + t) * FrontEnd.Bins;
            if (t >= sampleFrames)
            {
                for (int f = 0; f < FrontEnd.Bins; f++)
                    Assert.True(gpu[row + f] == 0, $"{what}: sample {b} frame {t} is past its {sampleFrames} frames but not zero");
                continue;
            }
            double peak = double.MinValue;
            for (int f = 0; f < FrontEnd.Bins; f++)
                peak = Math.Max(peak, expected[t * FrontEnd.Bins + f]);
            for (int f = 0; f < FrontEnd.Bins; f++)
            {
                double want = expected[t * FrontEnd.Bins + f], got = gpu[row + f];
                Assert.True(double.IsFinite(got) && got >= -100.0001, $"{what}: sample {b} frame {t} bin {f} = {got}");
                if (want >= peak - StrictRangeDb)
                {
                    double delta = Math.Abs(got - want);
                    worst = Math.Max(worst, delta);
                    Assert.True(delta <= ToleranceDb, $"{what}: sample {b} frame {t} bin {f}: GPU {got} dB, expected {want} dB (peak {peak})");
                }
            }
        }
        return worst;
    }

    [Fact]
    public void Gpu_front_end_matches_a_double_precision_dft()
    {
        Assert.SkipUnless(Gpu.Available, Gpu.Reason);
        var pcm = Batch();
        using var frontEnd = new CudaFrontEnd(Gpu.Device);
        float[] gpu = frontEnd.Compute(pcm, out int frames);

        Assert.Equal(Lengths.Max(CudaFrontEnd.FrameCount), frames);
        Assert.Equal(Lengths.Length * frames * FrontEnd.Bins, gpu.Length);
        for (int b = 0; b < pcm.Length; b++)
            CompareSample(gpu, b, frames, ReferenceDb(pcm[b]), "vs DFT");
        // The empty sample is one frame of silence: the -100 dB floor everywhere.
        Assert.All(gpu.AsSpan(3 * frames * FrontEnd.Bins, FrontEnd.Bins).ToArray(), v => Assert.Equal(-100f, v, 1e-4f));
    }

    [Fact]
    public void Gpu_front_end_matches_the_cpu_front_end()
    {
        Assert.SkipUnless(Gpu.Available, Gpu.Reason);
        var pcm = Batch().Where(p => p.Length > 0).ToArray();
        // No try/catch: an unimplemented CPU front end is a failure here, not a skip.
        float[][] cpu = pcm.Select(p => FrontEnd.Compute(p)).ToArray();
        using var frontEnd = new CudaFrontEnd(Gpu.Device);
        float[] gpu = frontEnd.Compute(pcm, out int frames);
        for (int b = 0; b < pcm.Length; b++)
        {
            Assert.Equal(CudaFrontEnd.FrameCount(pcm[b].Length) * FrontEnd.Bins, cpu[b].Length);
            CompareSample(gpu, b, frames, cpu[b].Select(v => (double)v).ToArray(), "vs CPU");
        }
    }

    [Fact]
    public void Normalisation_uses_the_given_per_bin_mean_and_std()
    {
        Assert.SkipUnless(Gpu.Available, Gpu.Reason);
        var pcm = Batch();
        var r = new Random(5);
        var stats = new FeatureStats(
            Enumerable.Range(0, FrontEnd.Bins).Select(_ => (float)(-60 + 40 * r.NextDouble())).ToArray(),
            Enumerable.Range(0, FrontEnd.Bins).Select(_ => (float)(5 + 20 * r.NextDouble())).ToArray());
        using var raw = new CudaFrontEnd(Gpu.Device);
        using var normalised = new CudaFrontEnd(Gpu.Device, stats);
        float[] db = raw.Compute(pcm, out int frames);
        float[] z = normalised.Compute(pcm, out _);

        for (int b = 0; b < pcm.Length; b++)
            for (int t = 0; t < frames; t++)
                for (int f = 0; f < FrontEnd.Bins; f++)
                {
                    int i = (b * frames + t) * FrontEnd.Bins + f;
                    float want = t < CudaFrontEnd.FrameCount(Lengths[b]) ? (db[i] - stats.Mean[f]) / stats.Std[f] : 0f;
                    Assert.True(Math.Abs(z[i] - want) <= 1e-5, $"sample {b} frame {t} bin {f}: {z[i]} vs {want}");
                }
    }

    [Fact]
    public void Small_chunks_give_the_same_features_as_one_chunk()
    {
        Assert.SkipUnless(Gpu.Available, Gpu.Reason);
        var pcm = Batch();
        int totalFrames = Lengths.Sum(CudaFrontEnd.FrameCount);
        Assert.True(totalFrames > 256, "the batch must span several 256-frame chunks");
        using var whole = new CudaFrontEnd(Gpu.Device);
        using var chunked = new CudaFrontEnd(Gpu.Device, maxChunkFrames: 256);
        float[] a = whole.Compute(pcm, out int frames);
        float[] b = chunked.Compute(pcm, out _);
        // Different plan sizes may take different cuFFT algorithms: same tolerance as against the DFT.
        for (int s = 0; s < pcm.Length; s++)
        {
            int sampleFrames = CudaFrontEnd.FrameCount(Lengths[s]);
            var expected = a.AsSpan(s * frames * FrontEnd.Bins, sampleFrames * FrontEnd.Bins).ToArray().Select(v => (double)v).ToArray();
            CompareSample(b, s, frames, expected, "chunked vs whole");
        }
    }

    [Fact]
    public void Bad_arguments_are_refused_before_any_gpu_work()
    {
        Assert.SkipUnless(Gpu.Available, Gpu.Reason);
        using var frontEnd = new CudaFrontEnd(Gpu.Device);
        Assert.Throws<ArgumentException>(() => frontEnd.Compute(0, [], 0, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => frontEnd.Compute(0, [16_000], 0, 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CudaFrontEnd(Gpu.Device, maxChunkFrames: 1000));
    }
}
