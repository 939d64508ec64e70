using System.Numerics.Tensors;
using Ser.Engine.Data.Store;
using Ser.Engine.Features;

namespace Ser.Engine.Data;

/// <summary>
/// Every item's front-end features, computed once: raw dB spectrograms [T_i, F] (not normalised, so one cache serves
/// every fold; each fold's <see cref="FeatureStats"/> is applied when a batch is filled). Legend: N items, T frames, F bins.
/// Items are utterances, or pieces of them (the fixed-length baseline) built with <see cref="FromArrays"/>.
/// Backed either by arrays in memory (<see cref="Compute"/>, <see cref="FromArrays"/>) or by a memory-mapped feature
/// store (<see cref="FromStore"/>): then the features are the page cache's, not the process's, and a float32 store's
/// spans are views into the mapped file (the same numbers as in memory, so training gives the same results).
/// </summary>
public sealed class FeatureCache : IDisposable
{
    readonly float[][]? _features;   // [N][T_i * F], or null when mapped
    readonly StoredFeatures? _store;
    readonly int[] _frames;          // [N] T_i
    readonly int[] _labels;          // [N] class index
    Task _prefetch = Task.CompletedTask;

    FeatureCache(float[][]? features, StoredFeatures? store, int[] frames, int[] labels, int bins)
    {
        _features = features;
        _store = store;
        _frames = frames;
        _labels = labels;
        Bins = bins;
    }

    public int Count => _frames.Length;
    public int Bins { get; }
    public int Frames(int item) => _frames[item];
    public int Label(int item) => _labels[item];
    public int MaxFrames => _frames.Length == 0 ? 0 : _frames.Max();
    /// <summary>Where the features live, in words (for the log).</summary>
    public string Source => _store is null ? "in memory" : $"mapped from {_store.Path}, {(_store.Precision == FeaturePrecision.Float16 ? "float16" : "float32")}";

    /// <summary>[T, F] raw dB of one item: a view (in memory, or into a float32 store), or a new array (float16 store).</summary>
    public ReadOnlySpan<float> Features(int item)
    {
        if (_store is { Precision: FeaturePrecision.Float16 })
        {
            var dst = new float[_frames[item] * Bins];
            TensorPrimitives.ConvertToSingle(_store.Float16(item), dst);
            return dst;
        }
        return _features is not null ? _features[item] : _store!.Float32(item);
    }

    /// <summary>[T, F] raw dB of one item: a view where the features are float32 already, else converted into
    /// <paramref name="scratch"/> (grown as needed; reuse it across calls so a float16 store does not allocate per item).</summary>
    public ReadOnlySpan<float> Features(int item, ref float[]? scratch)
    {
        if (_features is not null) return _features[item];
        if (_store!.Precision == FeaturePrecision.Float32) return _store.Float32(item);
        var half = _store.Float16(item);
        if (scratch is null || scratch.Length < half.Length) scratch = new float[half.Length];
        var dst = scratch.AsSpan(0, half.Length);
        TensorPrimitives.ConvertToSingle(half, dst);
        return dst;
    }

    /// <summary>Pages the items' features in on a background thread (a mapped store; nothing otherwise), so the next batch
    /// does not wait on the disk. At most one prefetch runs at a time; a request while one runs is dropped.</summary>
    public void Prefetch(int[] items)
    {
        if (_store is null || !_prefetch.IsCompleted) return;
        var store = _store;
        _prefetch = Task.Run(() => store.Touch(items));
    }

    public void Dispose()
    {
        _prefetch.Wait();   // the prefetch reads the mapping
        _store?.Dispose();
    }

    /// <summary>Wraps a mapped store (owned: disposed with the cache); <paramref name="labels"/> [N] class indices.</summary>
    public static FeatureCache FromStore(StoredFeatures store, int[] labels)
    {
        if (labels.Length != store.Count) throw new ArgumentException($"{store.Count} stored items but {labels.Length} labels");
        return new FeatureCache(null, store, store.Frames, labels, store.Bins);
    }

    /// <summary>One utterance's default front-end features [T, F] (single-threaded: callers parallelise over utterances).</summary>
    internal static float[] ComputeOne(float[] pcm)
    {
        var dst = new float[FrontEnd.FrameCount(pcm.Length) * FrontEnd.Bins];   // [T, F]
        FrontEnd.Compute(pcm, dst, maxDegreeOfParallelism: 1);
        return dst;
    }

    /// <summary>
    /// Computes every utterance's features with <paramref name="frontEnd"/> (default <see cref="FrontEnd.Compute(ReadOnlySpan{float})"/>)
    /// in parallel; a custom front end returns [T, <paramref name="bins"/>]. The result does not depend on the degree of
    /// parallelism. <paramref name="progress"/> is called (from worker threads) with the count done so far.
    /// </summary>
    public static FeatureCache Compute(Corpus corpus, Func<float[], float[]>? frontEnd = null, int bins = FrontEnd.Bins,
        int maxParallelism = -1, Action<int>? progress = null)
    {
        // Parallel over utterances, so each front-end call stays on its own thread.
        frontEnd ??= ComputeOne;
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
        return new FeatureCache(features, null, frames, labels, bins);
    }

    /// <summary>Per-bin mean/std over every frame of the given items (the training split).</summary>
    public FeatureStats Statistics(IEnumerable<int> items)
    {
        var acc = new FeatureStatsAccumulator(Bins);
        float[]? scratch = null;
        foreach (int i in items)
            acc.Add(Features(i, ref scratch));
        return acc.Finish();
    }
}
