using Ser.Engine.Features;

namespace Ser.Engine.Data;

/// <summary>
/// Every item's front-end features, computed once: raw dB spectrograms [T_i, F] (not normalised, so one cache serves
/// every fold; each fold's <see cref="FeatureStats"/> is applied when a batch is filled). Legend: N items, T frames, F bins.
/// Items are utterances, or pieces of them (the fixed-length baseline) built with <see cref="FromArrays"/>.
/// </summary>
public sealed class FeatureCache
{
    readonly float[][] _features;   // [N][T_i * F]
    readonly int[] _frames;         // [N] T_i
    readonly int[] _labels;         // [N] class index

    FeatureCache(float[][] features, int[] frames, int[] labels, int bins)
    {
        _features = features;
        _frames = frames;
        _labels = labels;
        Bins = bins;
    }

    public int Count => _features.Length;
    public int Bins { get; }
    public int Frames(int item) => _frames[item];
    public int Label(int item) => _labels[item];
    /// <summary>[T, F] raw dB of one item.</summary>
    public ReadOnlySpan<float> Features(int item) => _features[item];
    public int MaxFrames => _frames.Length == 0 ? 0 : _frames.Max();

    /// <summary>
    /// Computes every utterance's features with <paramref name="frontEnd"/> (default <see cref="FrontEnd.Compute(ReadOnlySpan{float})"/>)
    /// in parallel; a custom front end returns [T, <paramref name="bins"/>]. The result does not depend on the degree of
    /// parallelism. <paramref name="progress"/> is called (from worker threads) with the count done so far.
    /// </summary>
    public static FeatureCache Compute(Corpus corpus, Func<float[], float[]>? frontEnd = null, int bins = FrontEnd.Bins,
        int maxParallelism = -1, Action<int>? progress = null)
    {
        // Parallel over utterances, so each front-end call stays on its own thread.
        frontEnd ??= pcm =>
        {
            var dst = new float[FrontEnd.FrameCount(pcm.Length) * FrontEnd.Bins];   // [T, F]
            FrontEnd.Compute(pcm, dst, maxDegreeOfParallelism: 1);
            return dst;
        };
        int n = corpus.Count;
        var features = new float[n][];
        int done = 0;
        Parallel.For(0, n, new ParallelOptions { MaxDegreeOfParallelism = maxParallelism }, i =>
        {
            features[i] = frontEnd(corpus[i].Audio.Load());
            int d = Interlocked.Increment(ref done);
            progress?.Invoke(d);
        });
        return FromArrays(features, corpus.LabelIndices(), bins);
    }

    /// <summary>Wraps precomputed [T_i, F] arrays (kept, not copied).</summary>
    public static FeatureCache FromArrays(float[][] features, int[] labels, int bins = FrontEnd.Bins)
    {
        if (features.Length != labels.Length)
            throw new ArgumentException($"{features.Length} feature arrays but {labels.Length} labels");
        var frames = new int[features.Length];
        for (int i = 0; i < features.Length; i++)
        {
            if (features[i].Length == 0 || features[i].Length % bins != 0)
                throw new ArgumentException($"item {i}: {features[i].Length} values is not a whole number (≥ 1) of {bins}-bin frames");
            frames[i] = features[i].Length / bins;
        }
        return new FeatureCache(features, frames, labels, bins);
    }

    /// <summary>Per-bin mean/std over every frame of the given items (the training split).</summary>
    public FeatureStats Statistics(IEnumerable<int> items)
    {
        var acc = new FeatureStatsAccumulator(Bins);
        foreach (int i in items)
            acc.Add(_features[i]);
        return acc.Finish();
    }
}
