using Ser.Engine.Features;

namespace Ser.Engine.Data;

/// <summary>How items are grouped into batches.</summary>
/// <param name="BatchSize">Most samples per batch (B).</param>
/// <param name="MaxFramesPerBatch">If &gt; 0, a batch also stops growing before B × T (padded frames) would exceed this,
/// so batches of long utterances hold fewer samples; an item longer than the cap gets a batch of its own.</param>
/// <param name="BucketBatches">Training only: neighbouring items in length order are grouped into buckets of this many
/// batches and shuffled inside the bucket, so batch composition changes between epochs while padding stays small.</param>
public sealed record BatchOptions(int BatchSize = 16, int MaxFramesPerBatch = 0, int BucketBatches = 4)
{
    public void Validate()
    {
        if (BatchSize < 1) throw new SerException($"batch size must be at least 1 (got {BatchSize})");
        if (MaxFramesPerBatch < 0) throw new SerException($"frames per batch must be 0 (no cap) or positive (got {MaxFramesPerBatch})");
        if (BucketBatches < 1) throw new SerException($"bucket size must be at least 1 batch (got {BucketBatches})");
    }
}

/// <summary>
/// Cuts a list of items (cache indices) into length-sorted batches and fills reusable <see cref="Batch"/> buffers.
///
/// Evaluation order (<c>seed</c> null): items sorted by length, longest first (ties by index), cut into consecutive
/// batches; always the same. Training order (a seed): items sorted by length with random tie-breaks, grouped into buckets
/// of <see cref="BatchOptions.BucketBatches"/> batches, shuffled inside each bucket, cut into batches, and the batch order
/// shuffled; all from the seed, so the same seed gives the same epoch. Within a batch samples are sorted longest first
/// (the order packed-sequence RNN APIs expect). Every item is in exactly one batch per epoch.
/// </summary>
public sealed class BatchLoader
{
    readonly FeatureCache _cache;
    readonly FeatureStats? _stats;
    readonly int[] _items;
    float[]? _scratch;   // a float16 store's converted item

    /// <param name="stats">Normalisation applied while filling (the training split's); null leaves raw dB.</param>
    public BatchLoader(FeatureCache cache, IReadOnlyList<int> items, BatchOptions options, FeatureStats? stats)
    {
        options.Validate();
        if (items.Count == 0)
            throw new SerException("no items to batch");
        foreach (int i in items)
            if ((uint)i >= (uint)cache.Count)
                throw new ArgumentOutOfRangeException(nameof(items), $"item {i} is not in the cache (0..{cache.Count - 1})");
        if (stats is not null && (stats.Mean.Length != cache.Bins || stats.Std.Length != cache.Bins))
            throw new ArgumentException($"feature stats have {stats.Mean.Length} bins, features {cache.Bins}");
        _cache = cache;
        _items = items.ToArray();
        Options = options;
        _stats = stats;
        MaxFrames = _items.Max(cache.Frames);
    }

    public BatchOptions Options { get; }
    public int ItemCount => _items.Length;
    /// <summary>The longest item (T of the largest batch).</summary>
    public int MaxFrames { get; }

    /// <summary>The batches of one epoch, each a list of cache indices sorted longest first.</summary>
    public IReadOnlyList<int[]> Epoch(int? seed = null)
    {
        var order = (int[])_items.Clone();
        List<int[]> batches;
        if (seed is null)
        {
            Array.Sort(order, (a, b) => _cache.Frames(b) != _cache.Frames(a) ? _cache.Frames(b).CompareTo(_cache.Frames(a)) : a.CompareTo(b));
            batches = Cut(order);
        }
        else
        {
            var rng = new Rng((ulong)seed.Value * 0x2545F4914F6CDD1DUL + 0x9E37UL);
            var tie = new ulong[order.Length];
            for (int i = 0; i < tie.Length; i++) tie[i] = rng.NextULong();
            var keyed = order.Select((item, i) => (item, tie[i])).ToArray();
            Array.Sort(keyed, (a, b) => _cache.Frames(b.item) != _cache.Frames(a.item)
                ? _cache.Frames(b.item).CompareTo(_cache.Frames(a.item)) : a.Item2.CompareTo(b.Item2));
            order = keyed.Select(k => k.item).ToArray();

            int bucket = Options.BucketBatches * Options.BatchSize;
            for (int start = 0; start < order.Length; start += bucket)
            {
                var slice = new ArraySegment<int>(order, start, Math.Min(bucket, order.Length - start));
                rng.Shuffle(slice);
            }
            batches = Cut(order);
            foreach (var b in batches)
                Array.Sort(b, (x, y) => _cache.Frames(y) != _cache.Frames(x) ? _cache.Frames(y).CompareTo(_cache.Frames(x)) : x.CompareTo(y));
            rng.Shuffle(batches);
        }
        return batches;
    }

    // Consecutive runs of at most BatchSize items whose padded size Count × max(T) stays under the frame cap.
    List<int[]> Cut(int[] order)
    {
        var batches = new List<int[]>();
        var current = new List<int>();
        int longest = 0;
        foreach (int item in order)
        {
            int t = Math.Max(longest, _cache.Frames(item));
            bool full = current.Count == Options.BatchSize
                        || (Options.MaxFramesPerBatch > 0 && current.Count > 0 && (current.Count + 1) * t > Options.MaxFramesPerBatch);
            if (full)
            {
                batches.Add([.. current]);
                current.Clear();
                t = _cache.Frames(item);
            }
            current.Add(item);
            longest = t;
        }
        if (current.Count > 0)
            batches.Add([.. current]);
        return batches;
    }

    /// <summary>A batch sized for any batch this loader makes (allocate once, reuse every step).</summary>
    public Batch CreateBatch()
    {
        int capacity = Math.Min(Options.BatchSize, _items.Length);
        int padded = capacity * MaxFrames;
        if (Options.MaxFramesPerBatch > 0)
            padded = Math.Min(padded, Math.Max(Options.MaxFramesPerBatch, MaxFrames));
        return new Batch(capacity, MaxFrames, _cache.Bins, padded);
    }

    /// <summary>
    /// Fills <paramref name="batch"/> with the given items (one entry of <see cref="Epoch"/>): features normalised with the
    /// loader's stats, zero beyond each sample's length; Lengths, Labels and Indices (cache indices). Allocates nothing.
    /// </summary>
    public void Fill(Batch batch, ReadOnlySpan<int> members)
    {
        if (members.Length == 0 || members.Length > batch.Capacity)
            throw new ArgumentException($"{members.Length} samples do not fit a batch of capacity {batch.Capacity}");
        if (batch.Bins != _cache.Bins)
            throw new ArgumentException($"batch has {batch.Bins} bins, features {_cache.Bins}");
        int frames = 0;
        foreach (int item in members)
            frames = Math.Max(frames, _cache.Frames(item));
        if (frames > batch.FrameCapacity || members.Length * frames > batch.MaxPaddedFrames)
            throw new ArgumentException($"{members.Length} samples × {frames} frames exceed the batch's buffers");

        int f = _cache.Bins;
        batch.Count = members.Length;
        batch.Frames = frames;
        for (int b = 0; b < members.Length; b++)
        {
            int item = members[b];
            int t = _cache.Frames(item);
            var dst = batch.Sample(b);                 // [T, F]
            var valid = dst[..(t * f)];
            _cache.Features(item, ref _scratch).CopyTo(valid);
            _stats?.Normalize(valid);
            dst[(t * f)..].Clear();                    // padding is exactly zero
            batch.Lengths[b] = t;
            batch.Labels[b] = _cache.Label(item);
            batch.Indices[b] = item;
        }
    }
}
