using Ser.Engine.Features;

namespace Ser.Engine.Tests.Features;

public class FeatureStatsTests
{
    const int F = 16;

    /// <summary>dB-like data: per-bin offset around -60 and per-bin spread, so |mean| ≫ std in some bins.</summary>
    static float[] Frames(int count, int seed)
    {
        var r = new Random(seed);
        var x = new float[count * F];
        for (int t = 0; t < count; t++)
            for (int f = 0; f < F; f++)
                x[t * F + f] = (float)(-60 + 3 * f + (0.01 + f) * (r.NextDouble() * 2 - 1));
        return x;
    }

    static (double[] Mean, double[] Std) TwoPass(float[] x)
    {
        int n = x.Length / F;
        var mean = new double[F];
        var std = new double[F];
        for (int i = 0; i < x.Length; i++) mean[i % F] += x[i];
        for (int f = 0; f < F; f++) mean[f] /= n;
        for (int i = 0; i < x.Length; i++) std[i % F] += (x[i] - mean[i % F]) * (x[i] - mean[i % F]);
        for (int f = 0; f < F; f++) std[f] = Math.Sqrt(std[f] / n);
        return (mean, std);
    }

    [Fact]
    public void Accumulator_equals_two_pass_mean_and_std_whatever_the_chunking()
    {
        var x = Frames(5000, 1);
        var (mean, std) = TwoPass(x);
        var r = new Random(2);
        var acc = new FeatureStatsAccumulator(F);
        int t = 0;
        while (t < 5000)
        {
            int n = Math.Min(r.Next(0, 300), 5000 - t);   // includes empty chunks and single frames
            acc.Add(x.AsSpan(t * F, n * F));
            t += n;
        }
        Assert.Equal(5000, acc.Frames);
        var stats = acc.Finish();
        for (int f = 0; f < F; f++)
        {
            Assert.True(Math.Abs(stats.Mean[f] - mean[f]) <= 1e-5 * Math.Max(1, Math.Abs(mean[f])), $"mean {f}");
            Assert.True(Math.Abs(stats.Std[f] - std[f]) <= 1e-5 * std[f], $"std {f}: {stats.Std[f]} vs {std[f]}");
        }
    }

    [Fact]
    public void Normalize_gives_zero_mean_unit_std_per_bin()
    {
        var x = Frames(2000, 3);
        var acc = new FeatureStatsAccumulator(F);
        acc.Add(x);
        var stats = acc.Finish();
        stats.Normalize(x);
        var (mean, std) = TwoPass(x);
        for (int f = 0; f < F; f++)
        {
            // float32 subtraction loses ~|mean| * 2^-24 per value, magnified by 1/std after scaling
            double tolerance = 1e-5 + 1e-6 * Math.Abs(stats.Mean[f]) / stats.Std[f];
            Assert.InRange(mean[f], -tolerance, tolerance);
            Assert.InRange(std[f], 1 - tolerance, 1 + tolerance);
        }
    }

    [Fact]
    public void A_constant_bin_is_guarded_by_the_std_floor()
    {
        var acc = new FeatureStatsAccumulator(2);
        acc.Add([-100f, 1f, -100f, 3f]);
        var stats = acc.Finish();
        Assert.Equal(0f, stats.Std[0]);
        float[] frames = [-100f, 2f, -99f, 4f];
        stats.Normalize(frames);
        Assert.All(frames, v => Assert.True(float.IsFinite(v)));
        Assert.Equal([0f, 0f, 1f / FeatureStats.StdFloor, 2f], frames);
    }

    [Fact]
    public void Misuse_is_refused()
    {
        Assert.Throws<SerException>(() => new FeatureStatsAccumulator(F).Finish());
        Assert.Throws<ArgumentException>(() => new FeatureStatsAccumulator(F).Add(new float[F + 1]));
        Assert.Throws<ArgumentException>(() => FeatureStats.Identity.Normalize(new float[FrontEnd.Bins - 1]));
        Assert.Throws<ArgumentException>(() => new FeatureStats([0f], [1f, 1f]));
    }

    [Fact]
    public void Identity_leaves_features_unchanged()
    {
        var x = Enumerable.Range(0, 2 * FrontEnd.Bins).Select(i => (float)i).ToArray();
        var y = (float[])x.Clone();
        FeatureStats.Identity.Normalize(y);
        Assert.Equal(x, y);
    }
}
