using System.Numerics.Tensors;

namespace Ser.Engine.Features;

/// <summary>
/// Per-bin mean/std of the training split (stored in the checkpoint), used for z-normalisation.
/// Legend: T frames, F bins. A std below <see cref="StdFloor"/> (a bin that never varied, e.g. silence only)
/// is treated as StdFloor, so normalising never divides by zero.
/// </summary>
public sealed class FeatureStats
{
    public const float StdFloor = 1e-3f;

    readonly float[] _invStd;   // [F] 1 / max(std, floor)

    public FeatureStats(float[] mean, float[] std)
    {
        ArgumentNullException.ThrowIfNull(mean);
        ArgumentNullException.ThrowIfNull(std);
        if (mean.Length == 0 || mean.Length != std.Length)
            throw new ArgumentException($"mean has {mean.Length} bins and std {std.Length}; they must match and be non-empty");
        for (int f = 0; f < mean.Length; f++)
            if (!float.IsFinite(mean[f]) || !float.IsFinite(std[f]) || std[f] < 0)
                throw new ArgumentException($"bin {f}: mean {mean[f]} / std {std[f]} is not a valid statistic");
        Mean = mean;
        Std = std;
        _invStd = new float[std.Length];
        for (int f = 0; f < std.Length; f++)
            _invStd[f] = 1f / Math.Max(std[f], StdFloor);
    }

    public float[] Mean { get; }   // [F]
    public float[] Std { get; }    // [F]
    public int Bins => Mean.Length;

    /// <summary>In place: x[t, f] = (x[t, f] - Mean[f]) / max(Std[f], StdFloor), for frames [T, F].</summary>
    public void Normalize(Span<float> frames)
    {
        int bins = Mean.Length;
        if (frames.Length % bins != 0)
            throw new ArgumentException($"{frames.Length} values are not whole frames of {bins} bins", nameof(frames));
        for (int start = 0; start < frames.Length; start += bins)
        {
            var row = frames.Slice(start, bins);
            TensorPrimitives.Subtract(row, Mean, row);
            TensorPrimitives.Multiply(row, _invStd, row);
        }
    }

    public static FeatureStats Identity { get; } = new(new float[FrontEnd.Bins], Enumerable.Repeat(1f, FrontEnd.Bins).ToArray());
}

/// <summary>
/// One streaming pass over [T, F] frame blocks. Each block's mean and squared deviations are taken in
/// float64 around the block's own mean, then merged into the running totals (Chan, Golub and LeVeque's
/// pairwise update), which stays accurate when |mean| ≫ std — as with dB values near -100.
/// Std is the population std (divide by the frame count).
/// </summary>
public sealed class FeatureStatsAccumulator
{
    readonly int _bins;
    long _count;
    readonly double[] _mean;        // [F] running mean
    readonly double[] _m2;          // [F] running Σ (x - mean)²
    readonly double[] _blockMean;   // [F] scratch
    readonly double[] _blockM2;     // [F] scratch

    public FeatureStatsAccumulator() : this(FrontEnd.Bins) { }

    public FeatureStatsAccumulator(int bins)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bins, 1);
        _bins = bins;
        _mean = new double[bins];
        _m2 = new double[bins];
        _blockMean = new double[bins];
        _blockM2 = new double[bins];
    }

    /// <summary>Frames added so far.</summary>
    public long Frames => _count;

    public void Add(ReadOnlySpan<float> frames)
    {
        if (frames.Length % _bins != 0)
            throw new ArgumentException($"{frames.Length} values are not whole frames of {_bins} bins", nameof(frames));
        int n = frames.Length / _bins;
        if (n == 0)
            return;

        Array.Clear(_blockMean);
        Array.Clear(_blockM2);
        for (int t = 0; t < n; t++)
        {
            var row = frames.Slice(t * _bins, _bins);
            for (int f = 0; f < _bins; f++)
                _blockMean[f] += row[f];
        }
        for (int f = 0; f < _bins; f++)
            _blockMean[f] /= n;
        for (int t = 0; t < n; t++)
        {
            var row = frames.Slice(t * _bins, _bins);
            for (int f = 0; f < _bins; f++)
            {
                double d = row[f] - _blockMean[f];
                _blockM2[f] += d * d;
            }
        }

        long total = _count + n;
        double weight = (double)n / total;
        double cross = (double)_count * n / total;
        for (int f = 0; f < _bins; f++)
        {
            double delta = _blockMean[f] - _mean[f];
            _mean[f] += delta * weight;
            _m2[f] += _blockM2[f] + delta * delta * cross;
        }
        _count = total;
    }

    public FeatureStats Finish()
    {
        if (_count == 0)
            throw new SerException("feature statistics: no frames were added (empty training split?)");
        var mean = new float[_bins];
        var std = new float[_bins];
        for (int f = 0; f < _bins; f++)
        {
            mean[f] = (float)_mean[f];
            std[f] = (float)Math.Sqrt(_m2[f] / _count);
            if (!float.IsFinite(mean[f]) || !float.IsFinite(std[f]))
                throw new SerException($"feature statistics: bin {f} is not finite (the features contain NaN or infinity)");
        }
        return new FeatureStats(mean, std);
    }
}
