using System.Numerics;
using System.Runtime.CompilerServices;
using Ser.Engine.Tensors;

namespace Ser.Engine.Backends;

/// <summary>
/// The small abstract machine the graph executor runs on: memory (arenas, copies) and the operations the layers need,
/// at the granularity cuDNN/cuBLAS offer them. Public methods check arguments and call a <c>...Core</c> method that a
/// backend implements (CPU here; CUDA mirrors it file for file: CpuConv.cs / CudaConv.cs).
/// <para>Legend: B batch, T frames, F bins, C channels, I LSTM input, H hidden, D dense, K classes.
/// "lengths" are per-sample valid frame counts at the tensor's own time resolution; an operation never reads frames
/// t &gt;= lengths[b] of its input and writes zeros there in its output, except where a method says the padded frames
/// of its output are unspecified (the convolutions, like cuDNN's; a mask follows them).</para>
/// <para>Determinism: implementations must not let results depend on thread scheduling (no racy float reductions).</para>
/// </summary>
internal abstract class Backend<T> : IDisposable where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    public abstract string Name { get; }

    /// <summary>Threads (CPU) or streams (GPU) the backend uses.</summary>
    public abstract int Workers { get; }

    // ---- memory ---------------------------------------------------------------------------------------------------

    public Arena Allocate(long elements, string name)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(elements);
        return AllocateCore(Math.Max(elements, 1), name);
    }

    public void Upload(ReadOnlySpan<float> source, TensorView destination)
    {
        CheckLength(source.Length, destination, nameof(source));
        UploadCore(source, destination);
    }

    public void Upload(ReadOnlySpan<T> source, TensorView destination)
    {
        CheckLength(source.Length, destination, nameof(source));
        UploadCore(source, destination);
    }

    public void Download(TensorView source, Span<T> destination)
    {
        CheckLength(destination.Length, source, nameof(destination));
        DownloadCore(source, destination);
    }

    public void Zero(TensorView tensor) => ZeroCore(tensor);

    public void Copy(TensorView source, TensorView destination)
    {
        if (source.Elements != destination.Elements) throw new ArgumentException($"copy {source.Shape} -> {destination.Shape}");
        CopyCore(source, destination);
    }

    /// <summary>Waits until queued work is done (a no-op on the CPU); the per-layer profiler calls it around layers.</summary>
    public virtual void Synchronize() { }

    /// <summary>
    /// Timing seam of the per-layer profiler (<see cref="Graph.IExecutorObserver"/>): the executor brackets each layer
    /// with <see cref="TimerStart"/> / <see cref="TimerStop"/> and hands the result to the observer. Default: synchronise,
    /// then read the host's high-resolution clock. A GPU backend overrides both to record events on its stream
    /// (cudaEventRecord before/after, cudaEventElapsedTime once the stop event has completed), so a layer's time is
    /// device time without host launch gaps. Returns an opaque start token.
    /// </summary>
    public virtual long TimerStart()
    {
        Synchronize();
        return System.Diagnostics.Stopwatch.GetTimestamp();
    }

    /// <summary>Elapsed time since <paramref name="start"/> (a <see cref="TimerStart"/> token) in Stopwatch ticks.</summary>
    public virtual long TimerStop(long start)
    {
        Synchronize();
        return System.Diagnostics.Stopwatch.GetTimestamp() - start;
    }

    // ---- convolution: x [B, Cin, T, F], w [Cout, Cin, KT, KF], y [B, Cout, T, F] ----------------------------------

    /// <summary>
    /// Workspace elements the three convolution passes need for batches of at most maxBatch samples of at most
    /// maxFrames frames and at most maxRows padded frames in all (B * T).
    /// </summary>
    public long ConvWorkspace(in ConvDesc desc, int maxBatch, int maxFrames, long maxRows) =>
        ConvWorkspaceCore(desc, maxBatch, maxFrames, Math.Min(maxRows, (long)maxBatch * maxFrames));

    /// <summary>
    /// y = conv(x, w) + bias (bias [Cout], or empty for none) on valid frames. Padded frames of y are left unspecified
    /// (as a cuDNN convolution leaves them): the mask that follows zeroes them.
    /// </summary>
    public void ConvForward(in ConvDesc desc, TensorView x, TensorView w, TensorView bias, TensorView y, ReadOnlySpan<int> lengths,
        TensorView workspace)
    {
        CheckConv(desc, x, y, lengths);
        CheckShape(w, new Shape(desc.OutChannels, desc.InChannels, desc.KernelT, desc.KernelF), nameof(w));
        if (!bias.IsEmpty) CheckShape(bias, new Shape(desc.OutChannels), nameof(bias));
        ConvForwardCore(desc, x, w, bias, y, lengths, workspace);
    }

    /// <summary>dx = the gradient w.r.t. the input on valid frames (dy read on valid frames only; padded frames of dx
    /// unspecified).</summary>
    public void ConvBackwardData(in ConvDesc desc, TensorView dy, TensorView w, TensorView dx, ReadOnlySpan<int> lengths, TensorView workspace)
    {
        CheckConv(desc, dx, dy, lengths);
        CheckShape(w, new Shape(desc.OutChannels, desc.InChannels, desc.KernelT, desc.KernelF), nameof(w));
        ConvBackwardDataCore(desc, dy, w, dx, lengths, workspace);
    }

    /// <summary>dw = the gradient w.r.t. the weights (overwritten, not accumulated).</summary>
    public void ConvBackwardFilter(in ConvDesc desc, TensorView x, TensorView dy, TensorView dw, ReadOnlySpan<int> lengths, TensorView workspace)
    {
        CheckConv(desc, x, dy, lengths);
        CheckShape(dw, new Shape(desc.OutChannels, desc.InChannels, desc.KernelT, desc.KernelF), nameof(dw));
        ConvBackwardFilterCore(desc, x, dy, dw, lengths, workspace);
    }

    /// <summary>dbias[c] = sum over valid (b, t, f) of dy (overwritten).</summary>
    public void BiasBackward(TensorView dy, TensorView dbias, ReadOnlySpan<int> lengths, TensorView workspace)
    {
        CheckMaps(dy, lengths, nameof(dy));
        CheckShape(dbias, new Shape(dy.Shape.D1), nameof(dbias));
        BiasBackwardCore(dy, dbias, lengths, workspace);
    }

    public long BiasWorkspace(int channels, int maxBatch) => (long)channels * maxBatch;

    // ---- fused conv block: conv + bias, ReLU, mask, max-pool 2x2 in one pass ----------------------------------------
    // A backend that says FusesConvBlocks never materialises the conv-resolution maps [B, Cout, T, F] in training: the
    // forward pools each pair of output rows as it computes them and saves, per pooled output, a 1-byte code (which of
    // the 2x2 window's positions was its first maximum, or None when the pooled value is <= 0, where the ReLU passes no
    // gradient); the backward expands the pooled gradient through the codes while packing its tiles. Same bits as
    // ConvForward, ReluForward, Mask, PoolForward and their backwards in sequence (for non-NaN activations).

    /// <summary>Code of a pooled output whose value is &lt;= 0: no position of its window gets a gradient.</summary>
    public const byte PoolCodeNone = 4;

    /// <summary>Whether <see cref="ConvBlockForward"/> and <see cref="ConvBlockBackward"/> are implemented.</summary>
    public virtual bool FusesConvBlocks => false;

    /// <summary>Workspace elements of the fused block's passes (bounds as <see cref="ConvWorkspace"/>).</summary>
    public long ConvBlockWorkspace(in ConvDesc desc, int maxBatch, int maxFrames, long maxRows) =>
        ConvBlockWorkspaceCore(desc, maxBatch, maxFrames, Math.Min(maxRows, (long)maxBatch * maxFrames));

    /// <summary>Elements of T that hold the codes of <paramref name="pooledElements"/> pooled outputs (one byte each).</summary>
    public static long PoolCodeElements(long pooledElements) => (pooledElements + Unsafe.SizeOf<T>() - 1) / Unsafe.SizeOf<T>();

    /// <summary>
    /// pooled [B, Cout, ceil(T/2), ceil(F/2)] = pool(mask(relu(conv(x, w) + bias))) (x's lengths; padded frames of pooled
    /// are zeros, as <see cref="PoolForward"/> writes them) and codes (one byte per pooled output, in
    /// <see cref="PoolCodeElements"/> elements) for <see cref="ConvBlockBackward"/>.
    /// </summary>
    public void ConvBlockForward(in ConvDesc desc, TensorView x, TensorView w, TensorView bias, TensorView pooled, TensorView codes,
        ReadOnlySpan<int> lengths, TensorView workspace)
    {
        CheckConvBlock(desc, x, w, pooled, nameof(pooled), codes, lengths);
        CheckShape(bias, new Shape(desc.OutChannels), nameof(bias));
        ConvBlockForwardCore(desc, x, w, bias, pooled, codes, lengths, workspace);
    }

    /// <summary>
    /// From dPooled (the gradient of the block's output) and the forward's codes: dw and dbias (overwritten) and, unless
    /// empty, dx (valid frames; padded frames unspecified, as <see cref="ConvBackwardData"/>).
    /// </summary>
    public void ConvBlockBackward(in ConvDesc desc, TensorView x, TensorView w, TensorView dPooled, TensorView codes, TensorView dw,
        TensorView dbias, TensorView dx, ReadOnlySpan<int> lengths, TensorView workspace)
    {
        CheckConvBlock(desc, x, w, dPooled, nameof(dPooled), codes, lengths);
        CheckShape(dw, w.Shape, nameof(dw));
        CheckShape(dbias, new Shape(desc.OutChannels), nameof(dbias));
        if (!dx.IsEmpty) CheckShape(dx, x.Shape, nameof(dx));
        ConvBlockBackwardCore(desc, x, w, dPooled, codes, dw, dbias, dx, lengths, workspace);
    }

    /// <summary>The block's input, weights, block-output-shaped tensor (pooled or its gradient) and codes.</summary>
    static void CheckConvBlock(in ConvDesc desc, TensorView x, TensorView w, TensorView pooled, string pooledName, TensorView codes,
        ReadOnlySpan<int> lengths)
    {
        CheckMaps(x, lengths, nameof(x));
        var s = x.Shape;
        if (s.D1 != desc.InChannels || s.D3 != desc.Bins) throw new ArgumentException($"conv input {s} does not match {desc}");
        CheckShape(w, new Shape(desc.OutChannels, desc.InChannels, desc.KernelT, desc.KernelF), nameof(w));
        CheckShape(pooled, new Shape(s.D0, desc.OutChannels, (s.D2 + 1) / 2, (s.D3 + 1) / 2), pooledName);
        CheckCodes(codes, pooled);
    }

    static void CheckCodes(TensorView codes, TensorView pooled)
    {
        if (codes.IsEmpty || codes.Elements < PoolCodeElements(pooled.Elements))
            throw new ArgumentException(
                $"codes hold {(codes.IsEmpty ? 0 : codes.Elements)} elements, {pooled.Shape} needs {PoolCodeElements(pooled.Elements)}");
    }

    // ---- element-wise ---------------------------------------------------------------------------------------------

    /// <summary>In place x = max(x, 0). Maps [B, C, T, F] with lengths (valid frames only), or [B, N] with empty lengths.</summary>
    public void ReluForward(TensorView x, ReadOnlySpan<int> lengths)
    {
        CheckOptionalMaps(x, lengths, nameof(x));
        ReluForwardCore(x, lengths);
    }

    /// <summary>In place dy *= (y &gt; 0), y the ReLU's output.</summary>
    public void ReluBackward(TensorView y, TensorView dy, ReadOnlySpan<int> lengths)
    {
        CheckOptionalMaps(y, lengths, nameof(y));
        CheckShape(dy, y.Shape, nameof(dy));
        ReluBackwardCore(y, dy, lengths);
    }

    /// <summary>In place: zero every frame t &gt;= lengths[b] of maps [B, C, T, F].</summary>
    public void Mask(TensorView x, ReadOnlySpan<int> lengths)
    {
        CheckMaps(x, lengths, nameof(x));
        MaskCore(x, lengths);
    }

    // ---- pooling: 2x2 stride 2, ceil mode, over valid frames only ------------------------------------------------

    /// <summary>x [B, C, T, F] (input lengths) -> y [B, C, ceil(T/2), ceil(F/2)].</summary>
    public void PoolForward(TensorView x, TensorView y, ReadOnlySpan<int> lengths)
    {
        CheckPool(x, y, lengths);
        PoolForwardCore(x, y, lengths);
    }

    /// <summary>dx = dy routed to each window's first maximum (PyTorch's tie rule); zeros elsewhere.</summary>
    public void PoolBackward(TensorView x, TensorView y, TensorView dy, TensorView dx, ReadOnlySpan<int> lengths)
    {
        CheckPool(x, y, lengths);
        CheckShape(dy, y.Shape, nameof(dy));
        CheckShape(dx, x.Shape, nameof(dx));
        PoolBackwardCore(x, y, dy, dx, lengths);
    }

    // ---- reshape maps <-> sequence: [B, C, T, F] <-> [B, T, C*F], feature index c*F + f --------------------------

    public void MapsToSequence(TensorView maps, TensorView sequence, ReadOnlySpan<int> lengths)
    {
        CheckMaps(maps, lengths, nameof(maps));
        var m = maps.Shape;
        CheckShape(sequence, new Shape(m.D0, m.D2, m.D1 * m.D3), nameof(sequence));
        MapsToSequenceCore(maps, sequence, lengths);
    }

    public void SequenceToMaps(TensorView sequence, TensorView maps, ReadOnlySpan<int> lengths)
    {
        CheckMaps(maps, lengths, nameof(maps));
        var m = maps.Shape;
        CheckShape(sequence, new Shape(m.D0, m.D2, m.D1 * m.D3), nameof(sequence));
        SequenceToMapsCore(sequence, maps, lengths);
    }

    // ---- bidirectional LSTM over [B, T, I] with per-sample lengths ------------------------------------------------

    /// <summary>
    /// Saved forward state (gates, cells, hidden) the backward pass needs, for sequences [B, T, I] with B &lt;= maxBatch,
    /// T &lt;= maxFrames and B * T &lt;= maxRows; opaque to callers (cuDNN's reserve space). <paramref name="training"/>
    /// false: for forwards that no backward follows (an inference executor), which may need less.
    /// </summary>
    public long LstmReserve(in LstmDesc desc, int maxBatch, int maxFrames, long maxRows, bool training) =>
        LstmReserveCore(desc, maxBatch, maxFrames, Math.Min(maxRows, (long)maxBatch * maxFrames), training);

    /// <summary>Scratch for one LSTM call, same bounds and mode as <see cref="LstmReserve"/>.</summary>
    public long LstmWorkspace(in LstmDesc desc, int maxBatch, int maxFrames, long maxRows, bool training) =>
        LstmWorkspaceCore(desc, maxBatch, maxFrames, Math.Min(maxRows, (long)maxBatch * maxFrames), training);

    /// <summary>
    /// output [B, 2H] = concat(forward h at t = V_b - 1, backward h after its step t = 0); the backward direction
    /// starts at the sample's own last valid step. c and h start at zero. <paramref name="training"/>: save what
    /// <see cref="LstmBackward"/> needs in the reserve (sized with the same flag); false only where no backward follows.
    /// </summary>
    public void LstmForward(in LstmDesc desc, TensorView sequence, in LstmParams weights, TensorView output,
        TensorView reserve, TensorView workspace, ReadOnlySpan<int> lengths, bool training)
    {
        CheckSequence(desc, sequence, lengths);
        CheckLstmParams(desc, weights);
        CheckShape(output, new Shape(sequence.Shape.D0, 2 * desc.Hidden), nameof(output));
        LstmForwardCore(desc, sequence, weights, output, reserve, workspace, lengths, training);
    }

    /// <summary>Gradients w.r.t. the sequence (dSequence, may be empty to skip) and the weights (overwritten).</summary>
    public void LstmBackward(in LstmDesc desc, TensorView sequence, in LstmParams weights, TensorView reserve,
        TensorView dOutput, TensorView dSequence, in LstmParams dWeights, TensorView workspace, ReadOnlySpan<int> lengths)
    {
        CheckSequence(desc, sequence, lengths);
        CheckLstmParams(desc, weights);
        CheckLstmParams(desc, dWeights);
        CheckShape(dOutput, new Shape(sequence.Shape.D0, 2 * desc.Hidden), nameof(dOutput));
        if (!dSequence.IsEmpty) CheckShape(dSequence, sequence.Shape, nameof(dSequence));
        LstmBackwardCore(desc, sequence, weights, reserve, dOutput, dSequence, dWeights, workspace, lengths);
    }

    // ---- dense: x [B, In], w [Out, In], b [Out], y [B, Out] -------------------------------------------------------

    public void DenseForward(TensorView x, TensorView w, TensorView bias, TensorView y)
    {
        CheckDense(x, w, bias, y);
        DenseForwardCore(x, w, bias, y);
    }

    /// <summary>dw, dbias overwritten; dx (empty to skip) overwritten.</summary>
    public void DenseBackward(TensorView x, TensorView w, TensorView dy, TensorView dx, TensorView dw, TensorView dbias)
    {
        CheckDense(x, w, dbias, dy);
        CheckShape(dw, w.Shape, nameof(dw));
        if (!dx.IsEmpty) CheckShape(dx, x.Shape, nameof(dx));
        DenseBackwardCore(x, w, dy, dx, dw, dbias);
    }

    // ---- dropout (inverted: kept values scaled by 1/(1-p)) --------------------------------------------------------

    /// <summary>y = x * mask, mask[i] in {0, 1/(1-p)} from a counter-based hash of (seed, i): reproducible anywhere.</summary>
    public void DropoutForward(TensorView x, TensorView y, TensorView mask, double p, ulong seed)
    {
        if (p is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(p), "dropout probability must be in [0, 1)");
        CheckShape(y, x.Shape, nameof(y));
        CheckShape(mask, x.Shape, nameof(mask));
        DropoutForwardCore(x, y, mask, p, seed);
    }

    public void DropoutBackward(TensorView dy, TensorView mask, TensorView dx)
    {
        CheckShape(mask, dy.Shape, nameof(mask));
        CheckShape(dx, dy.Shape, nameof(dx));
        DropoutBackwardCore(dy, mask, dx);
    }

    // ---- loss -----------------------------------------------------------------------------------------------------

    /// <summary>
    /// loss = sum_b w_b CE_b / N with CE_b the softmax cross-entropy of logits [B, K] and label y_b and N the
    /// <paramref name="normalizer"/> (the caller's: a constant, or sum_b w_b); dlogits [B, K] = (w_b / N)
    /// (softmax_b - onehot(y_b)). perSample (optional, length B) receives CE_b.
    /// </summary>
    public double SoftmaxCrossEntropy(TensorView logits, ReadOnlySpan<int> labels, ReadOnlySpan<double> weights, double normalizer,
        TensorView dlogits, Span<double> perSample = default)
    {
        int b = logits.Shape.D0, k = logits.Shape.D1;
        if (logits.Shape.Rank != 2) throw new ArgumentException("logits must be [B, K]");
        if (labels.Length != b || weights.Length != b) throw new ArgumentException($"labels/weights must have B = {b} entries");
        if (!perSample.IsEmpty && perSample.Length != b) throw new ArgumentException($"perSample must have B = {b} entries");
        foreach (int y in labels)
            if ((uint)y >= (uint)k) throw new ArgumentOutOfRangeException(nameof(labels), $"label {y} outside 0..{k - 1}");
        if (!dlogits.IsEmpty) CheckShape(dlogits, logits.Shape, nameof(dlogits));
        if (!(normalizer > 0) || double.IsInfinity(normalizer))
            throw new ArgumentOutOfRangeException(nameof(normalizer), normalizer, "the loss normaliser must be positive and finite");
        return SoftmaxCrossEntropyCore(logits, labels, weights, normalizer, dlogits, perSample);
    }

    // ---- optimizer ------------------------------------------------------------------------------------------------

    /// <summary>Sum of squares, reduced in a fixed order (deterministic), in double.</summary>
    public double SumOfSquares(TensorView t) => SumOfSquaresCore(t);

    public void Scale(TensorView t, double factor) => ScaleCore(t, factor);

    /// <summary>One Adam(W) update of param from grad with first/second moments m, v (all the same shape).</summary>
    public void AdamUpdate(TensorView param, TensorView grad, TensorView m, TensorView v, in AdamStep step)
    {
        CheckShape(grad, param.Shape, nameof(grad));
        CheckShape(m, param.Shape, nameof(m));
        CheckShape(v, param.Shape, nameof(v));
        AdamUpdateCore(param, grad, m, v, step);
    }

    // ---- what a backend implements ---------------------------------------------------------------------------------

    protected abstract Arena AllocateCore(long elements, string name);
    protected abstract void UploadCore(ReadOnlySpan<float> source, TensorView destination);
    protected abstract void UploadCore(ReadOnlySpan<T> source, TensorView destination);
    protected abstract void DownloadCore(TensorView source, Span<T> destination);
    protected abstract void ZeroCore(TensorView tensor);
    protected abstract void CopyCore(TensorView source, TensorView destination);

    protected abstract long ConvWorkspaceCore(in ConvDesc desc, int maxBatch, int maxFrames, long maxRows);
    protected abstract void ConvForwardCore(in ConvDesc desc, TensorView x, TensorView w, TensorView bias, TensorView y,
        ReadOnlySpan<int> lengths, TensorView workspace);
    protected abstract void ConvBackwardDataCore(in ConvDesc desc, TensorView dy, TensorView w, TensorView dx, ReadOnlySpan<int> lengths, TensorView workspace);
    protected abstract void ConvBackwardFilterCore(in ConvDesc desc, TensorView x, TensorView dy, TensorView dw, ReadOnlySpan<int> lengths, TensorView workspace);
    protected abstract void BiasBackwardCore(TensorView dy, TensorView dbias, ReadOnlySpan<int> lengths, TensorView workspace);

    protected virtual long ConvBlockWorkspaceCore(in ConvDesc desc, int maxBatch, int maxFrames, long maxRows) => 0;
    protected virtual void ConvBlockForwardCore(in ConvDesc desc, TensorView x, TensorView w, TensorView bias, TensorView pooled,
        TensorView codes, ReadOnlySpan<int> lengths, TensorView workspace) => throw NoFusedBlock();
    protected virtual void ConvBlockBackwardCore(in ConvDesc desc, TensorView x, TensorView w, TensorView dPooled, TensorView codes,
        TensorView dw, TensorView dbias, TensorView dx, ReadOnlySpan<int> lengths, TensorView workspace) => throw NoFusedBlock();
    NotSupportedException NoFusedBlock() => new($"the {Name} backend runs conv, relu, mask and pool as separate layers");

    protected abstract void ReluForwardCore(TensorView x, ReadOnlySpan<int> lengths);
    protected abstract void ReluBackwardCore(TensorView y, TensorView dy, ReadOnlySpan<int> lengths);
    protected abstract void MaskCore(TensorView x, ReadOnlySpan<int> lengths);

    protected abstract void PoolForwardCore(TensorView x, TensorView y, ReadOnlySpan<int> lengths);
    protected abstract void PoolBackwardCore(TensorView x, TensorView y, TensorView dy, TensorView dx, ReadOnlySpan<int> lengths);

    protected abstract void MapsToSequenceCore(TensorView maps, TensorView sequence, ReadOnlySpan<int> lengths);
    protected abstract void SequenceToMapsCore(TensorView sequence, TensorView maps, ReadOnlySpan<int> lengths);

    protected abstract long LstmReserveCore(in LstmDesc desc, int maxBatch, int maxFrames, long maxRows, bool training);
    protected abstract long LstmWorkspaceCore(in LstmDesc desc, int maxBatch, int maxFrames, long maxRows, bool training);
    protected abstract void LstmForwardCore(in LstmDesc desc, TensorView sequence, in LstmParams weights, TensorView output,
        TensorView reserve, TensorView workspace, ReadOnlySpan<int> lengths, bool training);
    protected abstract void LstmBackwardCore(in LstmDesc desc, TensorView sequence, in LstmParams weights, TensorView reserve,
        TensorView dOutput, TensorView dSequence, in LstmParams dWeights, TensorView workspace, ReadOnlySpan<int> lengths);

    protected abstract void DenseForwardCore(TensorView x, TensorView w, TensorView bias, TensorView y);
    protected abstract void DenseBackwardCore(TensorView x, TensorView w, TensorView dy, TensorView dx, TensorView dw, TensorView dbias);

    protected abstract void DropoutForwardCore(TensorView x, TensorView y, TensorView mask, double p, ulong seed);
    protected abstract void DropoutBackwardCore(TensorView dy, TensorView mask, TensorView dx);

    protected abstract double SoftmaxCrossEntropyCore(TensorView logits, ReadOnlySpan<int> labels, ReadOnlySpan<double> weights, double normalizer,
        TensorView dlogits, Span<double> perSample);

    protected abstract double SumOfSquaresCore(TensorView t);
    protected abstract void ScaleCore(TensorView t, double factor);
    protected abstract void AdamUpdateCore(TensorView param, TensorView grad, TensorView m, TensorView v, in AdamStep step);

    public abstract void Dispose();

    // ---- argument checks -------------------------------------------------------------------------------------------

    static void CheckLength(int length, TensorView t, string name)
    {
        if (length != t.Elements) throw new ArgumentException($"{name} has {length} elements, tensor {t.Shape} has {t.Elements}", name);
    }

    static void CheckShape(TensorView t, Shape expected, string name)
    {
        if (t.IsEmpty || t.Shape != expected) throw new ArgumentException($"{name} has shape {t.Shape}, expected {expected}", name);
    }

    static void CheckMaps(TensorView t, ReadOnlySpan<int> lengths, string name)
    {
        if (t.IsEmpty || t.Shape.Rank != 4) throw new ArgumentException($"{name} must be maps [B, C, T, F], got {t.Shape}", name);
        CheckLengths(lengths, t.Shape.D0, t.Shape.D2, name);
    }

    static void CheckOptionalMaps(TensorView t, ReadOnlySpan<int> lengths, string name)
    {
        if (t.Shape.Rank == 4) CheckMaps(t, lengths, name);
        else if (!lengths.IsEmpty) throw new ArgumentException($"{name}: lengths apply to maps [B, C, T, F] only", name);
    }

    static void CheckLengths(ReadOnlySpan<int> lengths, int batch, int frames, string name)
    {
        if (lengths.Length != batch) throw new ArgumentException($"{name}: {lengths.Length} lengths for batch {batch}", name);
        foreach (int v in lengths)
            if (v < 1 || v > frames) throw new ArgumentOutOfRangeException(name, $"{name}: length {v} outside 1..{frames}");
    }

    static void CheckConv(in ConvDesc d, TensorView x, TensorView y, ReadOnlySpan<int> lengths)
    {
        CheckMaps(x, lengths, nameof(x));
        var s = x.Shape;
        if (s.D1 != d.InChannels || s.D3 != d.Bins) throw new ArgumentException($"conv input {s} does not match {d}");
        CheckShape(y, new Shape(s.D0, d.OutChannels, s.D2, s.D3), nameof(y));
    }

    static void CheckPool(TensorView x, TensorView y, ReadOnlySpan<int> lengths)
    {
        CheckMaps(x, lengths, nameof(x));
        var s = x.Shape;
        CheckShape(y, new Shape(s.D0, s.D1, (s.D2 + 1) / 2, (s.D3 + 1) / 2), nameof(y));
    }

    static void CheckSequence(in LstmDesc d, TensorView seq, ReadOnlySpan<int> lengths)
    {
        if (seq.IsEmpty || seq.Shape.Rank != 3 || seq.Shape.D2 != d.InputSize)
            throw new ArgumentException($"sequence must be [B, T, {d.InputSize}], got {seq.Shape}");
        CheckLengths(lengths, seq.Shape.D0, seq.Shape.D1, "sequence");
    }

    static void CheckLstmParams(in LstmDesc d, in LstmParams p)
    {
        for (int dir = 0; dir < 2; dir++)
        {
            CheckShape(p.Ih(dir), new Shape(d.Gates, d.InputSize), "w_ih");
            CheckShape(p.Hh(dir), new Shape(d.Gates, d.Hidden), "w_hh");
            CheckShape(p.Bias(dir), new Shape(d.Gates), "bias");
        }
    }

    static void CheckDense(TensorView x, TensorView w, TensorView bias, TensorView y)
    {
        if (x.Shape.Rank != 2 || w.Shape.Rank != 2) throw new ArgumentException($"dense: x {x.Shape}, w {w.Shape} must be rank 2");
        if (w.Shape.D1 != x.Shape.D1) throw new ArgumentException($"dense: w {w.Shape} does not take x {x.Shape}");
        CheckShape(bias, new Shape(w.Shape.D0), nameof(bias));
        CheckShape(y, new Shape(x.Shape.D0, w.Shape.D0), nameof(y));
    }
}
