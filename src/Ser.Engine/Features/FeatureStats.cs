namespace Ser.Engine.Features;

/// <summary>CONTRACT STUB (audio agent replaces): per-bin mean/std from the training split.</summary>
public sealed class FeatureStats(float[] mean, float[] std)
{
    public float[] Mean { get; } = mean;   // [F]
    public float[] Std { get; } = std;     // [F]

    /// <summary>In place: x[t, f] = (x[t, f] - Mean[f]) / Std[f].</summary>
    public void Normalize(Span<float> frames) => throw new NotImplementedException();

    public static FeatureStats Identity { get; } = new(new float[FrontEnd.Bins], Enumerable.Repeat(1f, FrontEnd.Bins).ToArray());
}

/// <summary>CONTRACT STUB: one streaming pass over [T, F] frame blocks (numerically stable).</summary>
public sealed class FeatureStatsAccumulator
{
    public void Add(ReadOnlySpan<float> frames) => throw new NotImplementedException();
    public FeatureStats Finish() => throw new NotImplementedException();
}
