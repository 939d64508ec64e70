using Ser.Engine.Data;

namespace Ser.Engine.Tests.Training;

/// <summary>
/// Class-dependent structured random features (stand-in for the synthetic corpus): class c carries extra energy in its
/// own frequency band, switching on and off at a class-specific rate, over noise.
/// </summary>
internal static class SyntheticBatches
{
    public static float[] Utterance(Random r, int label, int frames, int bins, int classes)
    {
        var x = new float[frames * bins];
        int band = bins / classes, lo = label * band;
        int period = 4 + 3 * label;
        for (int t = 0; t < frames; t++)
        for (int f = 0; f < bins; f++)
        {
            double v = (r.NextDouble() * 2 - 1) * 0.7;
            if (f >= lo && f < lo + band && (t / period) % 2 == 0) v += 1.5;
            x[t * bins + f] = (float)v;
        }
        return x;
    }

    /// <summary>Fills a batch from (features, label) utterances, padded to the longest; padding left at zero.</summary>
    public static Batch Make(IReadOnlyList<(float[] Features, int Label)> items, int bins)
    {
        int frames = items.Max(i => i.Features.Length / bins);
        var batch = new Batch(items.Count, frames, bins) { Count = items.Count, Frames = frames };
        for (int b = 0; b < items.Count; b++)
        {
            items[b].Features.CopyTo(batch.Features.AsSpan(b * frames * bins));
            batch.Lengths[b] = items[b].Features.Length / bins;
            batch.Labels[b] = items[b].Label;
            batch.Indices[b] = b;
        }
        return batch;
    }

    public static List<(float[] Features, int Label)> Set(int seed, int count, int bins, int classes, int minFrames, int maxFrames)
    {
        var r = new Random(seed);
        return Enumerable.Range(0, count)
            .Select(i => (Utterance(r, i % classes, r.Next(minFrames, maxFrames + 1), bins, classes), i % classes))
            .ToList();
    }
}
