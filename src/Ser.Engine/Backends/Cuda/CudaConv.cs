using System.Numerics;
using Ser.Engine.Tensors;
using Ser.Native;

namespace Ser.Engine.Backends.Cuda;

// Convolution, "same" padding, stride 1, over maps [B, C, T, F] with per-sample valid lengths V_b, through cuDNN's
// (legacy, still present in cuDNN 9) convolution API: forward, backward-data, backward-filter. Bias add and bias
// gradient are our kernels (valid frames only).
//
// Asymmetric padding. PyTorch's "same" for an even kernel k pads (k-1)/2 before and k/2 after; cuDNN pads
// symmetrically. So cuDNN gets pad_before on both sides and an input one row/column longer at the end (the extra
// row/column is the missing zero halo): xp [B, Cin, T + eT, F + eF], eT = KT - 1 - 2 pT (1 for even KT, else 0),
// giving exactly y [B, Cout, T, F] with y[t] = sum_k w[k] x[t + k - pT] - the contract's convolution, written straight
// into y. xp also zeroes frames t >= V_b, so nothing from the padding enters a valid output (the CPU's halo rule).
// Backward-data yields dxp [B, Cin, T + eT, F + eF]; its [T, F] corner is dx. For odd kernels (eT = eF = 0) no copy is
// made: x is masked in place and cuDNN reads x and writes dx directly. dy is masked in place before both backward
// passes (the contract reads dy on valid frames only, so zeroing the rest changes nothing a caller may rely on).
//
// Algorithms: chosen per (layer, pass, batch, frames, workspace) with cudnnGet*Algorithm_v7 (heuristics, no trial
// runs, no device memory) and cached; each call then only looks up the dictionary. Preferred: GEMM-family algorithms
// (FFT/Winograd only with Tf32, see Accurate) that are deterministic, in the heuristics' order.
// Workspace: planned once (ConvWorkspace at the executor's MaxBatch/MaxFrames) as the padded-input copy plus the
// largest workspace of the heuristics' top deterministic candidates at that shape (capped at 1 GiB); at run time the
// best algorithm that fits what is left is taken. Math: CUDNN_FMA_MATH (no TF32) unless Tf32 is on (DEFAULT math,
// which lets cuDNN use TF32 tensor cores on Ampere and later).
internal sealed unsafe partial class CudaBackend<T>
{
    const int MaxAlgos = 16;
    const long ConvWorkspaceCapBytes = 1L << 30;

    enum ConvPass { Forward, BackwardData, BackwardFilter }

    readonly record struct AlgoKey(ConvDesc Desc, ConvPass Pass, int Batch, int Frames, long Available);

    readonly record struct AlgoChoice(int Algo, long Bytes);

    readonly Dictionary<ConvDesc, ConvPlan> _convPlans = new();
    readonly Dictionary<AlgoKey, AlgoChoice> _convAlgos = new();

    /// <summary>cuDNN descriptors of one convolution layer; the tensor descriptors follow the current batch shape.</summary>
    sealed class ConvPlan : IDisposable
    {
        public readonly ConvDesc Desc;
        public readonly int ExtraT, ExtraF;
        public readonly CudnnFilterDescriptor Filter;
        public readonly CudnnConvolutionDescriptor Conv;
        public readonly CudnnTensorDescriptor Input = CudnnTensorDescriptor.Create();  // xp [B, Cin, T + eT, F + eF]
        public readonly CudnnTensorDescriptor Output = CudnnTensorDescriptor.Create(); // y  [B, Cout, T, F]
        int _batch = -1, _frames = -1;

        public ConvPlan(ConvDesc desc, CudnnMathType math)
        {
            Desc = desc;
            ExtraT = desc.KernelT - 1 - 2 * desc.PadT;
            ExtraF = desc.KernelF - 1 - 2 * desc.PadF;
            Filter = CudnnFilterDescriptor.Create4d(desc.OutChannels, desc.InChannels, desc.KernelT, desc.KernelF);
            Conv = CudnnConvolutionDescriptor.Create2d(desc.PadT, desc.PadF, 1, 1, math);
        }

        /// <summary>Whether cuDNN convolves a zero-extended copy of x rather than x itself.</summary>
        public bool Padded => ExtraT != 0 || ExtraF != 0;

        /// <summary>Elements of the extended copy xp (0 when x is used directly).</summary>
        public long PaddedElements(int batch, int frames) =>
            Padded ? (long)batch * Desc.InChannels * (frames + ExtraT) * (Desc.Bins + ExtraF) : 0;

        public void SetShape(int batch, int frames)
        {
            if (batch == _batch && frames == _frames) return;
            if ((long)batch * Math.Max(Desc.InChannels, Desc.OutChannels) * (frames + 1) * (Desc.Bins + 1) > int.MaxValue)
                throw new SerException($"batch {batch} x {frames} frames is too large for one cuDNN convolution (2^31 elements); use a smaller batch");
            Cudnn.Check(CudnnNative.cudnnSetTensor4dDescriptor(Input.Value, CudnnTensorFormat.Nchw, CudnnDataType.Float,
                batch, Desc.InChannels, frames + ExtraT, Desc.Bins + ExtraF));
            Cudnn.Check(CudnnNative.cudnnSetTensor4dDescriptor(Output.Value, CudnnTensorFormat.Nchw, CudnnDataType.Float,
                batch, Desc.OutChannels, frames, Desc.Bins));
            _batch = batch;
            _frames = frames;
        }

        public void Dispose()
        {
            Input.Dispose();
            Output.Dispose();
            Filter.Dispose();
            Conv.Dispose();
        }
    }

    ConvPlan ConvPlanFor(in ConvDesc desc)
    {
        if (_convPlans.TryGetValue(desc, out var plan)) return plan;
        _device.MakeCurrent();
        plan = new ConvPlan(desc, Tf32 ? CudnnMathType.Default : CudnnMathType.Fma);
        _convPlans[desc] = plan;
        return plan;
    }

    protected override long ConvWorkspaceCore(in ConvDesc desc, int maxBatch, int maxFrames, long maxRows)
    {
        _device.MakeCurrent();
        var plan = ConvPlanFor(desc);
        CudaAlgoPerfBuffer perf = default;
        long budget = 0;
        // cuDNN's needs grow with B and T; with B*T <= maxRows the extremes are the widest and the longest batch.
        foreach (var (batch, frames) in PlanningShapes(maxBatch, maxFrames, maxRows))
        {
            plan.SetShape(batch, frames);
            foreach (var pass in new[] { ConvPass.Forward, ConvPass.BackwardData, ConvPass.BackwardFilter })
            {
                int count = Heuristics(plan, pass, perf.Pointer), taken = 0;
                for (int i = 0; i < count && taken < 3; i++)
                {
                    var p = perf.Pointer[i];
                    if (p.Status != CudnnStatus.Success || p.Determinism != CudnnDeterminism.Deterministic || !Accurate(pass, p.Algo)) continue;
                    long need = WorkspaceSize(plan, pass, p.Algo);
                    if (need < 0) continue;
                    budget = Math.Max(budget, Math.Min(need, ConvWorkspaceCapBytes));
                    taken++;
                }
            }
        }
        // xp [B, Cin, T + eT, F + eF] with B*T <= maxRows holds at most (maxRows + maxBatch eT) rows per channel.
        long padded = plan.Padded ? (maxRows + (long)maxBatch * plan.ExtraT) * desc.InChannels * (desc.Bins + plan.ExtraF) : 0;
        return RoundUp(padded, AlignElements) + (budget + 3) / 4 + AlignElements;
    }

    /// <summary>The batch shapes (B, T) at the corners of B &lt;= maxBatch, T &lt;= maxFrames, B*T &lt;= maxRows.</summary>
    static (int Batch, int Frames)[] PlanningShapes(int maxBatch, int maxFrames, long maxRows)
    {
        int widest = (int)Math.Clamp(maxRows / maxBatch, 1, maxFrames);
        int fewest = (int)Math.Clamp(maxRows / maxFrames, 1, maxBatch);
        return widest == maxFrames || fewest == maxBatch ? [(maxBatch, widest)] : [(maxBatch, widest), (fewest, maxFrames)];
    }

    int Heuristics(ConvPlan plan, ConvPass pass, CudnnAlgoPerf* perf)
    {
        int count;
        nint h = _cudnn.Value, x = plan.Input.Value, y = plan.Output.Value, w = plan.Filter.Value, c = plan.Conv.Value;
        Cudnn.Check(pass switch
        {
            ConvPass.Forward => CudnnNative.cudnnGetConvolutionForwardAlgorithm_v7(h, x, w, c, y, MaxAlgos, &count, perf),
            ConvPass.BackwardData => CudnnNative.cudnnGetConvolutionBackwardDataAlgorithm_v7(h, w, y, c, x, MaxAlgos, &count, perf),
            _ => CudnnNative.cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, x, y, c, w, MaxAlgos, &count, perf),
        });
        return count;
    }

    /// <summary>
    /// Whether an algorithm sums like a direct convolution (GEMM family). FFT and Winograd transforms round
    /// differently and measurably worse in float32, so with TF32 off (the accurate default that the CPU equivalence
    /// tolerances assume) they are taken only when nothing else fits; with TF32 on (speed first) anything goes.
    /// </summary>
    bool Accurate(ConvPass pass, int algo) => Tf32 || pass switch
    {
        ConvPass.Forward => (CudnnConvolutionFwdAlgo)algo is CudnnConvolutionFwdAlgo.ImplicitGemm or CudnnConvolutionFwdAlgo.ImplicitPrecompGemm
            or CudnnConvolutionFwdAlgo.Gemm or CudnnConvolutionFwdAlgo.Direct,
        ConvPass.BackwardData => (CudnnConvolutionBwdDataAlgo)algo is CudnnConvolutionBwdDataAlgo.Algo0 or CudnnConvolutionBwdDataAlgo.Algo1,
        _ => (CudnnConvolutionBwdFilterAlgo)algo is CudnnConvolutionBwdFilterAlgo.Algo0 or CudnnConvolutionBwdFilterAlgo.Algo1
            or CudnnConvolutionBwdFilterAlgo.Algo3,
    };

    /// <summary>Workspace bytes of an algorithm at the plan's current shape, or -1 if cuDNN refuses it.</summary>
    long WorkspaceSize(ConvPlan plan, ConvPass pass, int algo)
    {
        nuint size;
        nint h = _cudnn.Value, x = plan.Input.Value, y = plan.Output.Value, w = plan.Filter.Value, c = plan.Conv.Value;
        var status = pass switch
        {
            ConvPass.Forward => CudnnNative.cudnnGetConvolutionForwardWorkspaceSize(h, x, w, c, y, (CudnnConvolutionFwdAlgo)algo, &size),
            ConvPass.BackwardData => CudnnNative.cudnnGetConvolutionBackwardDataWorkspaceSize(h, w, y, c, x, (CudnnConvolutionBwdDataAlgo)algo, &size),
            _ => CudnnNative.cudnnGetConvolutionBackwardFilterWorkspaceSize(h, x, y, c, w, (CudnnConvolutionBwdFilterAlgo)algo, &size),
        };
        return status == CudnnStatus.Success ? (long)size : -1;
    }

    /// <summary>The heuristics' best algorithm whose workspace fits, deterministic if any is (cached per shape).</summary>
    AlgoChoice ChooseAlgo(ConvPlan plan, ConvPass pass, int batch, int frames, long available)
    {
        var key = new AlgoKey(plan.Desc, pass, batch, frames, available);
        if (_convAlgos.TryGetValue(key, out var choice)) return choice;
        CudaAlgoPerfBuffer buffer = default;
        CudnnAlgoPerf* perf = buffer.Pointer;
        int count = Heuristics(plan, pass, perf);
        // Tiers: accurate and deterministic, then accurate, then anything cuDNN offers that fits.
        for (int tier = 0; tier < 3; tier++)
        for (int i = 0; i < count; i++)
        {
            if (perf[i].Status != CudnnStatus.Success) continue;
            if (tier < 2 && !Accurate(pass, perf[i].Algo)) continue;
            if (tier < 1 && perf[i].Determinism != CudnnDeterminism.Deterministic) continue;
            long need = WorkspaceSize(plan, pass, perf[i].Algo);
            if (need < 0 || need > available) continue;
            choice = new AlgoChoice(perf[i].Algo, need);
            _convAlgos[key] = choice;
            return choice;
        }
        throw new InvalidOperationException($"cuDNN offers no {pass} algorithm for {plan.Desc} at batch {batch} x {frames} frames " +
                                            $"within {available} workspace bytes");
    }

    /// <summary>Where cuDNN's workspace starts (256-byte aligned) after <paramref name="usedElements"/> of ours, and its size.</summary>
    static (ulong Pointer, long Bytes) WorkspaceTail(TensorView workspace, long usedElements)
    {
        if (workspace.IsEmpty) return (0, 0);
        ulong start = Ptr(workspace), end = start + (ulong)(workspace.Elements * sizeof(float));
        ulong at = AlignUp(start + (ulong)(usedElements * sizeof(float)));
        return at >= end ? (0, 0) : (at, (long)(end - at));
    }

    /// <summary>The tensor cuDNN convolves: the zero-extended copy xp in the workspace, or x masked in place.</summary>
    ulong ConvInput(ConvPlan plan, TensorView x, ulong len, TensorView workspace, out long usedElements)
    {
        int batch = x.Shape.D0, c = plan.Desc.InChannels, t = x.Shape.D2, f = plan.Desc.Bins;
        ulong xs = Ptr(x);
        if (!plan.Padded)
        {
            MaskInPlace(xs, len, batch, c, t, f);
            usedElements = 0;
            return xs;
        }
        long n = plan.PaddedElements(batch, t);
        if (workspace.IsEmpty || workspace.Elements < n) throw new ArgumentException($"conv: workspace too small for the padded input ({n} elements)");
        ulong xp = Ptr(workspace);
        int tp = t + plan.ExtraT, fp = f + plan.ExtraF;
        void** args = stackalloc void*[] { &xs, &xp, &len, &c, &t, &f, &tp, &fp, &n };
        Launch(_k.PadMaps, n, args);
        usedElements = RoundUp(n, AlignElements);
        return xp;
    }

    protected override void ConvForwardCore(in ConvDesc desc, TensorView x, TensorView w, TensorView bias, TensorView y,
        ReadOnlySpan<int> lengths, TensorView workspace)
    {
        _device.MakeCurrent();
        var plan = ConvPlanFor(desc);
        int batch = x.Shape.D0, frames = x.Shape.D2;
        plan.SetShape(batch, frames);
        ulong len = Lengths(lengths);
        ulong input = ConvInput(plan, x, len, workspace, out long used);
        var (work, workBytes) = WorkspaceTail(workspace, used);
        var algo = ChooseAlgo(plan, ConvPass.Forward, batch, frames, workBytes);
        float one = 1, zero = 0;
        Cudnn.Check(CudnnNative.cudnnConvolutionForward(_cudnn.Value, &one, plan.Input.Value, input, plan.Filter.Value, Ptr(w),
            plan.Conv.Value, (CudnnConvolutionFwdAlgo)algo.Algo, work, (nuint)algo.Bytes, &zero, plan.Output.Value, Ptr(y)));
        if (bias.IsEmpty) return;
        ulong yp = Ptr(y), bp = Ptr(bias);
        int c = desc.OutChannels, f = desc.Bins;
        long n = y.Elements;
        void** args = stackalloc void*[] { &yp, &bp, &len, &c, &frames, &f, &n };
        Launch(_k.BiasMaps, n, args);
    }

    protected override void ConvBackwardDataCore(in ConvDesc desc, TensorView dy, TensorView w, TensorView dx, ReadOnlySpan<int> lengths,
        TensorView workspace)
    {
        _device.MakeCurrent();
        var plan = ConvPlanFor(desc);
        int batch = dy.Shape.D0, frames = dy.Shape.D2;
        plan.SetShape(batch, frames);
        ulong len = Lengths(lengths);
        MaskInPlace(Ptr(dy), len, batch, desc.OutChannels, frames, desc.Bins);
        long used = 0;
        ulong target = Ptr(dx);
        if (plan.Padded)
        {
            long n = plan.PaddedElements(batch, frames);
            if (workspace.IsEmpty || workspace.Elements < n) throw new ArgumentException($"conv: workspace too small for the padded gradient ({n} elements)");
            target = Ptr(workspace);
            used = RoundUp(n, AlignElements);
        }
        var (work, workBytes) = WorkspaceTail(workspace, used);
        var algo = ChooseAlgo(plan, ConvPass.BackwardData, batch, frames, workBytes);
        float one = 1, zero = 0;
        Cudnn.Check(CudnnNative.cudnnConvolutionBackwardData(_cudnn.Value, &one, plan.Filter.Value, Ptr(w), plan.Output.Value, Ptr(dy),
            plan.Conv.Value, (CudnnConvolutionBwdDataAlgo)algo.Algo, work, (nuint)algo.Bytes, &zero, plan.Input.Value, target));
        if (!plan.Padded) return;
        ulong dxp = target, dxs = Ptr(dx);
        int c = desc.InChannels, f = desc.Bins, tp = frames + plan.ExtraT, fp = f + plan.ExtraF;
        long count = dx.Elements;
        void** args = stackalloc void*[] { &dxp, &dxs, &c, &frames, &f, &tp, &fp, &count };
        Launch(_k.CropMaps, count, args);
    }

    protected override void ConvBackwardFilterCore(in ConvDesc desc, TensorView x, TensorView dy, TensorView dw, ReadOnlySpan<int> lengths,
        TensorView workspace)
    {
        _device.MakeCurrent();
        var plan = ConvPlanFor(desc);
        int batch = x.Shape.D0, frames = x.Shape.D2;
        plan.SetShape(batch, frames);
        ulong len = Lengths(lengths);
        MaskInPlace(Ptr(dy), len, batch, desc.OutChannels, frames, desc.Bins);
        ulong input = ConvInput(plan, x, len, workspace, out long used);
        var (work, workBytes) = WorkspaceTail(workspace, used);
        var algo = ChooseAlgo(plan, ConvPass.BackwardFilter, batch, frames, workBytes);
        float one = 1, zero = 0;
        Cudnn.Check(CudnnNative.cudnnConvolutionBackwardFilter(_cudnn.Value, &one, plan.Input.Value, input, plan.Output.Value, Ptr(dy),
            plan.Conv.Value, (CudnnConvolutionBwdFilterAlgo)algo.Algo, work, (nuint)algo.Bytes, &zero, plan.Filter.Value, Ptr(dw)));
    }

    /// <summary>Room for <see cref="MaxAlgos"/> perf records on the stack (a stackalloc cannot sit in a loop).</summary>
    [System.Runtime.CompilerServices.InlineArray(MaxAlgos)]
    struct CudaAlgoPerfBuffer
    {
        CudnnAlgoPerf _first;
        public CudnnAlgoPerf* Pointer => (CudnnAlgoPerf*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref _first);
    }

    void DisposeConv()
    {
        foreach (var plan in _convPlans.Values) plan.Dispose();
        _convPlans.Clear();
        _convAlgos.Clear();
    }
}
