using System.Numerics.Tensors;
using Ser.Engine.Data;
using Ser.Engine.Features;
using Ser.Engine.Metrics;
using Ser.Engine.Training;

namespace Ser.Engine.Experiments;

/// <summary>
/// One split of a fold (train, validation or test utterances) as the model sees it: samples cut into batches. In variable
/// mode a sample is a whole utterance (the data layer's length-bucketed <see cref="BatchLoader"/>); in fixed mode a
/// 3 s piece (<see cref="FixedLengthPieces"/>). Either way every sample belongs to one utterance of the split
/// (<see cref="Owner"/>), so evaluation can average a fixed-length utterance's pieces and leave a variable-length one alone.
/// Features are normalised with the fold's training statistics while batches are filled.
/// </summary>
internal abstract class SplitFeeder
{
    protected SplitFeeder(FeatureCache cache, int[] utterances)
    {
        Cache = cache;
        Utterances = utterances;
    }

    protected FeatureCache Cache { get; }
    /// <summary>Cache items (corpus indices) of the split's utterances; "utterance u" below means Utterances[u].</summary>
    public int[] Utterances { get; }
    public abstract int SampleCount { get; }
    /// <summary>Most frames of any batch (the executor's memory plan).</summary>
    public abstract int MaxFrames { get; }
    public abstract int BatchSize { get; }

    /// <summary>The batches of one epoch (training order from a seed; evaluation order without).</summary>
    public abstract IReadOnlyList<int[]> Epoch(int? seed);
    public abstract Batch CreateBatch();
    public abstract void Fill(Batch batch, ReadOnlySpan<int> members);
    /// <summary>Starts paging in the features of a batch that comes next (see <see cref="FeatureCache.Prefetch"/>).</summary>
    public void Prefetch(int[] members) => Cache.Prefetch(ItemsOf(members));
    /// <summary>Cache items behind batch members.</summary>
    protected virtual int[] ItemsOf(int[] members) => members;
    /// <summary>Position (0..Utterances.Length-1) of the utterance a batch member (a <see cref="Batch.Indices"/> value) belongs to.</summary>
    public abstract int Owner(int member);
    /// <summary>Samples per class (the loss weights' n_c: utterances in variable mode, pieces in fixed mode).</summary>
    public abstract float[] ClassCounts(int classes);
    /// <summary>Every sample's input length in frames (what the loss's 1/length sees) and label.</summary>
    public abstract IEnumerable<(int Frames, int Label)> Samples();

    public static SplitFeeder Create(LengthMode mode, FeatureCache cache, int[] utterances, FeatureStats stats, int batchSize,
        FixedSplit split = FixedSplit.Pieces) =>
        mode == LengthMode.Fixed
            ? new FixedFeeder(cache, utterances, stats, batchSize, split)
            : new VariableFeeder(cache, utterances, stats, batchSize);

    /// <summary>
    /// Forward passes over the whole split (no dropout): each utterance's posterior (the mean of its samples' softmax),
    /// the confusion matrix of argmax predictions, and the mean cross-entropy of the utterance posteriors.
    /// </summary>
    public SplitScores Evaluate(Executor executor, IReadOnlyList<string> labels, CancellationToken cancel = default)
    {
        int k = labels.Count;
        var samplePosteriors = new float[SampleCount * k];   // [N, K] softmax of every sample, in evaluation order
        var owner = new int[SampleCount];                    // [N] utterance position of each sample
        var batch = CreateBatch();
        var logits = new float[batch.Capacity * k];          // [B, K]
        int n = 0;
        var batches = Epoch(null);
        for (int i = 0; i < batches.Count; i++)
        {
            var members = batches[i];
            cancel.ThrowIfCancellationRequested();
            if (i + 1 < batches.Count) Prefetch(batches[i + 1]);
            Fill(batch, members);
            executor.Evaluate(batch, default, logits);
            for (int b = 0; b < batch.Count; b++, n++)
            {
                Executor.Softmax(logits.AsSpan(b * k, k), samplePosteriors.AsSpan(n * k, k));
                owner[n] = Owner(batch.Indices[b]);
            }
        }
        var posteriors = FixedLengthPieces.AveragePosteriors(samplePosteriors, owner, Utterances.Length, k);   // [U, K]
        var confusion = new ConfusionMatrix(labels);
        double loss = 0;
        for (int u = 0; u < Utterances.Length; u++)
        {
            var row = posteriors.AsSpan(u * k, k);
            int label = Cache.Label(Utterances[u]);
            confusion.Add(label, TensorPrimitives.IndexOfMax<float>(row));
            loss -= Math.Log(Math.Max(row[label], 1e-12f));
        }
        return new SplitScores(confusion, loss / Utterances.Length, posteriors);
    }

    /// <summary>[U] class of each utterance of the split, in <see cref="Utterances"/> order (the rows of <see cref="SplitScores.Posteriors"/>).</summary>
    public int[] Labels() => Array.ConvertAll(Utterances, Cache.Label);

    protected float[] CountLabels(IEnumerable<int> items, int classes)
    {
        var counts = new float[classes];
        foreach (int i in items) counts[Cache.Label(i)]++;
        return counts;
    }

    protected Dictionary<int, int> PositionOfItem() => Utterances.Select((item, u) => (item, u)).ToDictionary(p => p.item, p => p.u);
}

/// <summary>Scores of one split: confusion matrix, mean utterance cross-entropy, posteriors [U, K].</summary>
internal sealed record SplitScores(ConfusionMatrix Confusion, double Loss, float[] Posteriors);

/// <summary>Whole utterances, length-sorted and bucketed by the data layer's <see cref="BatchLoader"/>.</summary>
internal sealed class VariableFeeder : SplitFeeder
{
    readonly BatchLoader _loader;
    readonly Dictionary<int, int> _position;

    public VariableFeeder(FeatureCache cache, int[] utterances, FeatureStats stats, int batchSize) : base(cache, utterances)
    {
        _loader = new BatchLoader(cache, utterances, new BatchOptions(batchSize), stats);
        _position = PositionOfItem();
    }

    public override int SampleCount => Utterances.Length;
    public override int MaxFrames => _loader.MaxFrames;
    public override int BatchSize => _loader.Options.BatchSize;
    public override IReadOnlyList<int[]> Epoch(int? seed) => _loader.Epoch(seed);
    public override Batch CreateBatch() => _loader.CreateBatch();
    public override void Fill(Batch batch, ReadOnlySpan<int> members) => _loader.Fill(batch, members);
    public override int Owner(int member) => _position[member];
    public override float[] ClassCounts(int classes) => CountLabels(Utterances, classes);
    public override IEnumerable<(int Frames, int Label)> Samples() => Utterances.Select(u => (Cache.Frames(u), Cache.Label(u)));
}

/// <summary>3 s pieces of every utterance, each a full 300-frame sample (see <see cref="FixedLengthPieces"/>).</summary>
internal sealed class FixedFeeder : SplitFeeder
{
    readonly Piece[] _pieces;
    readonly int[] _owner;        // [pieces] utterance position
    readonly FeatureStats _stats;
    readonly int _batchSize;
    float[]? _scratch;   // a float16 store's converted utterance

    public FixedFeeder(FeatureCache cache, int[] utterances, FeatureStats stats, int batchSize, FixedSplit split) : base(cache, utterances)
    {
        var pieces = new List<Piece>();
        var owner = new List<int>();
        for (int u = 0; u < utterances.Length; u++)
            foreach (var p in FixedLengthPieces.Split(utterances[u], cache.Frames(utterances[u]), FixedLengthPieces.Frames, split))
            {
                pieces.Add(p);
                owner.Add(u);
            }
        _pieces = pieces.ToArray();
        _owner = owner.ToArray();
        _stats = stats;
        _batchSize = Math.Max(1, batchSize);
    }

    public IReadOnlyList<Piece> Pieces => _pieces;
    public override int SampleCount => _pieces.Length;
    public override int MaxFrames => FixedLengthPieces.Frames;
    public override int BatchSize => _batchSize;

    /// <summary>Training: pieces shuffled by the seed, cut into batches. Evaluation: piece order.</summary>
    public override IReadOnlyList<int[]> Epoch(int? seed)
    {
        var order = Enumerable.Range(0, _pieces.Length).ToArray();
        if (seed is { } s)
        {
            var rng = new Rng((ulong)(uint)s * 0x9E3779B97F4A7C15UL + 0x51ECE5UL);
            rng.Shuffle(order);
        }
        return order.Chunk(_batchSize).ToList();
    }

    public override Batch CreateBatch() =>
        new(Math.Min(_batchSize, _pieces.Length), FixedLengthPieces.Frames, Cache.Bins);

    public override void Fill(Batch batch, ReadOnlySpan<int> members)
    {
        if (members.Length == 0 || members.Length > batch.Capacity)
            throw new ArgumentException($"{members.Length} pieces do not fit a batch of capacity {batch.Capacity}");
        int p = FixedLengthPieces.Frames, f = Cache.Bins;
        batch.Count = members.Length;
        batch.Frames = p;
        for (int b = 0; b < members.Length; b++)
        {
            var piece = _pieces[members[b]];
            FixedLengthPieces.Fill(Cache.Features(piece.Item, ref _scratch), f, piece, _stats, batch.Sample(b));   // a view of the utterance
            batch.Lengths[b] = p;                 // the padding is part of the fixed-size input
            batch.Labels[b] = Cache.Label(piece.Item);
            batch.Indices[b] = members[b];
        }
    }

    public override int Owner(int member) => _owner[member];
    protected override int[] ItemsOf(int[] members) => members.Select(m => _pieces[m].Item).Distinct().ToArray();
    public override float[] ClassCounts(int classes) => CountLabels(_pieces.Select(p => p.Item), classes);
    public override IEnumerable<(int Frames, int Label)> Samples() => _pieces.Select(p => (FixedLengthPieces.Frames, Cache.Label(p.Item)));
}
