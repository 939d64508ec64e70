namespace Ser.Engine.Data;

/// <summary>
/// A length-sorted batch padded to its longest sample. Legend: B batch, T frames, F = 400 bins.
/// Features beyond a sample's valid length are zero; models must never read them.
/// Buffers may be sized for a larger capacity and reused between batches (no per-step allocation).
/// </summary>
public sealed class Batch
{
    public Batch(int capacity, int maxFrames, int bins)
        : this(capacity, maxFrames, bins, capacity * maxFrames)
    {
    }

    /// <summary>
    /// Sizes <see cref="Features"/> for at most <paramref name="maxPaddedFrames"/> = Count × Frames, for batches that are
    /// capped in frames (many short samples or a few long ones) rather than needing Capacity × FrameCapacity.
    /// </summary>
    public Batch(int capacity, int maxFrames, int bins, int maxPaddedFrames)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxFrames, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(bins, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPaddedFrames, maxFrames);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxPaddedFrames, capacity * maxFrames);
        Capacity = capacity;
        FrameCapacity = maxFrames;
        Bins = bins;
        MaxPaddedFrames = maxPaddedFrames;
        Features = new float[(long)maxPaddedFrames * bins];
        Lengths = new int[capacity];
        Labels = new int[capacity];
        Indices = new int[capacity];
    }

    public int Capacity { get; }
    public int FrameCapacity { get; }
    public int Bins { get; }
    /// <summary>The largest Count × Frames that <see cref="Features"/> holds.</summary>
    public int MaxPaddedFrames { get; }

    /// <summary>Samples in use (≤ Capacity).</summary>
    public int Count { get; set; }
    /// <summary>T: the longest valid length in use (≤ FrameCapacity).</summary>
    public int Frames { get; set; }

    /// <summary>[B, T, F] with T = <see cref="Frames"/>, densely packed for the first Count samples.</summary>
    public float[] Features { get; }
    /// <summary>[B] valid frames per sample, each in 1..Frames.</summary>
    public int[] Lengths { get; }
    /// <summary>[B] class index per sample.</summary>
    public int[] Labels { get; }
    /// <summary>[B] index of each sample in its source list (utterance or piece index).</summary>
    public int[] Indices { get; }

    public Span<float> Sample(int b) => Features.AsSpan(b * Frames * Bins, Frames * Bins);
}
