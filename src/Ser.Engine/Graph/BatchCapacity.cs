namespace Ser.Engine.Graph;

/// <summary>
/// The largest batch an executor plans memory for: at most MaxBatch samples, T &lt;= MaxFrames, and B * T &lt;=
/// MaxPaddedFrames (a frame budget per batch, as the data loader's MaxFramesPerBatch: many short utterances or a few
/// long ones). Buffers are sized from <see cref="RowsAt"/>, the most padded frames (B * T_l) a batch can have at a
/// pooling level.
/// </summary>
internal readonly record struct BatchCapacity(int MaxBatch, int MaxFrames, long MaxPaddedFrames)
{
    public static BatchCapacity Of(int maxBatch, int maxFrames, long maxPaddedFrames = 0) =>
        new(maxBatch, maxFrames, maxPaddedFrames > 0 ? Math.Min(maxPaddedFrames, (long)maxBatch * maxFrames) : (long)maxBatch * maxFrames);

    /// <summary>T_l = ceil(MaxFrames / 2^l).</summary>
    public int FramesAt(int level) => ActivationShape.FramesAt(MaxFrames, level);

    /// <summary>
    /// max over allowed batches of B * ceil(T / 2^l): with B T &lt;= P and B &lt;= MaxBatch that is at most
    /// (P + MaxBatch (2^l - 1)) / 2^l, and never more than MaxBatch * T_l.
    /// </summary>
    public long RowsAt(int level)
    {
        long scale = 1L << level;
        return Math.Min((long)MaxBatch * FramesAt(level), (MaxPaddedFrames + MaxBatch * (scale - 1)) / scale);
    }

    public bool Holds(int batch, int frames) => batch <= MaxBatch && frames <= MaxFrames && (long)batch * frames <= MaxPaddedFrames;
}
