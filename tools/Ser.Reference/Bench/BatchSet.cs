using Ser.Engine;
using Ser.Engine.Data;

namespace Ser.Reference.Bench;

/// <summary>
/// Utterance-length distributions of the benchmark, in frames (100 per second, the front end's 10 ms hop):
///   lognormal: IEMOCAP-like, median 3.5 s, sigma 0.6 (ln seconds), clipped to 1..12 s (the engine's `sertool bench` uses
///              the same law);
///   uniform:   uniform 1..12 s.
/// The PyTorch script draws the same laws (or reads these exact lengths from a harness JSON).
/// </summary>
public static class LengthDistributions
{
    public static IReadOnlyList<string> Names { get; } = ["lognormal", "uniform"];

    public static int[] Draw(string name, int count, int seed)
    {
        var rng = new Random(seed);
        var frames = new int[count];
        for (int i = 0; i < count; i++)
        {
            double seconds = name switch
            {
                "lognormal" => Math.Clamp(3.5 * Math.Exp(0.6 * Gaussian(rng)), 1.0, 12.0),
                "uniform" => 1.0 + 11.0 * rng.NextDouble(),
                _ => throw new SerException($"unknown length distribution '{name}' (expected {string.Join(" or ", Names)})"),
            };
            frames[i] = (int)Math.Round(seconds * 100);
        }
        return frames;
    }

    static double Gaussian(Random rng) =>
        Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()); // Box-Muller
}

/// <summary>One benchmark batch: lengths in frames, features [B,T,F] ~ N(0,1)-ish on valid frames and zero on padding, labels.</summary>
public sealed class BenchBatch
{
    public BenchBatch(string distribution, int[] lengths, int bins, int classes, int seed)
    {
        Distribution = distribution;
        Lengths = lengths;
        Frames = lengths.Max();
        var rng = new Random(seed);
        Engine = new Batch(lengths.Length, Frames, bins) { Count = lengths.Length, Frames = Frames };
        for (int b = 0; b < lengths.Length; b++)
        {
            Engine.Lengths[b] = lengths[b];
            Engine.Labels[b] = rng.Next(classes);
            Engine.Indices[b] = b;
            var sample = Engine.Sample(b);                                    // [T, F]
            for (int j = 0; j < lengths[b] * bins; j++) sample[j] = (float)(2 * rng.NextDouble() - 1) * 1.7f; // unit variance
        }
        Labels = Engine.Labels[..lengths.Length];
    }

    public string Distribution { get; }
    public int[] Lengths { get; }
    public int[] Labels { get; }
    public int Frames { get; }
    public int Count => Lengths.Length;
    public double AudioSeconds => Lengths.Sum() / 100.0;
    /// <summary>The engine's view; <see cref="Batch.Features"/> is exactly [B,T,F] (capacity = count), shared with torch.</summary>
    public Batch Engine { get; }
    public float[] Features => Engine.Features;
}
