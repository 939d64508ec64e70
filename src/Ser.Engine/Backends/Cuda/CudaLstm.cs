using System.Numerics;
using Ser.Engine.Tensors;
using Ser.Native;

namespace Ser.Engine.Backends.Cuda;

// Bidirectional LSTM through cuDNN's RNN v8 API on the padded batch itself - no manual packing:
//   x [B, T, I] is exactly CUDNN_RNN_DATA_LAYOUT_BATCH_MAJOR_UNPACKED with the batch's per-sample seqLengthArray and
//   CUDNN_RNN_PADDED_IO_ENABLED; y [B, T, 2H] (forward half first) is kept in the layer's reserve for the backward pass.
//   output [B, 2H] = (forward h at t = V_b - 1, backward h after its step t = 0), both read from y (ser_lstm_gather);
//   the final states hy/cy are not requested. Backward scatters dOutput into dy at the same two places
//   (ser_lstm_scatter), runs backward-data (dx) BEFORE backward-weights (cuDNN's required order, both reading the
//   forward's reserve), and clears the weight-gradient space first because cuDNN only accumulates into it
//   (CUDNN_WGRAD_MODE_ADD).
//
// Reverse direction and padding. With an unpacked layout each sample b occupies its first seqLengthArray[b] steps
// (cudnn_adv.h: "padded, outer stride from one batch to the next") and cuDNN runs both directions over that sample's
// own length, so the reverse direction starts at step V_b - 1, never in the padding: the semantics of the packed
// layout (what PyTorch's pack_padded_sequence feeds cuDNN), which the unpacked layouts only pad. How this was checked
// without a GPU here: the data-descriptor documentation as quoted in public bindings, and TensorFlow's cuDNN RNN
// (stream executor cuda_dnn.cc), which builds BATCH_MAJOR_UNPACKED descriptors with per-sample lengths for Keras'
// variable-length (right-padded, masked) bidirectional LSTMs - that only works if each sequence reverses within its
// own length. NVIDIA's own page could not be fetched here, so it is ALSO checked on the GPU: Ser.Native.Tests
// CudnnTests (y and hy of a padded batch with lengths 5, 3, 1 against a CPU LSTM whose backward direction starts at
// each sample's last step) and CudaOpsTests.Lstm_reverse_direction_starts_at_each_samples_own_last_step here (CPU
// oracle, lengths 1..40 in one batch, and a check that the result differs from starting in the padding).
//
// Parameter layout. Ours (the checkpoint's, PyTorch's): w_ih [4H, I], w_hh [4H, H], bias [4H], gate order (i, f, g, o).
// cuDNN's weight space is opaque; cudnnGetRNNWeightParams gives the address of each matrix and bias. Per cuDNN's
// documentation of the linear-layer IDs for CUDNN_LSTM: IDs 0-3 are the matrices applied to the layer input and 4-7 the
// ones applied to the recurrent input; 0 and 4 the input gate, 1 and 5 the forget gate, 2 and 6 the new-memory
// (cell, our g) gate, 3 and 7 the output gate - i.e. our (i, f, g, o) order, so gate k of w_ih is ID k and of w_hh is
// ID 4 + k, each an [H, I] or [H, H] row-major block (the same blocks PyTorch copies). Bias mode
// CUDNN_RNN_SINGLE_INP_BIAS gives one bias per gate (on the input side) - our single bias; should cuDNN report a
// recurrent bias too (double-bias mode), ours goes into the first bias it reports for the gate, the other is zeroed,
// and their gradients are summed back (LstmLayout, unit-tested without a GPU). pseudoLayer 0/1 = forward/backward.
internal sealed unsafe partial class CudaBackend<T>
{
    const int AlignElements = 64; // 256 bytes, for buffers handed to cuDNN

    readonly Dictionary<LstmDesc, LstmPlan> _lstmPlans = new();

    static long RoundUp(long v, long m) => (v + m - 1) / m * m;

    /// <summary>cuDNN's RNN objects for one LSTM shape: descriptors, weight and weight-gradient spaces, copy tables.</summary>
    sealed class LstmPlan : IDisposable
    {
        public readonly LstmDesc Desc;
        public readonly CudnnRnnDescriptor Rnn;
        public readonly CudnnDropoutDescriptor Dropout;
        readonly CudaDeviceMemory _dropoutStates;
        public readonly CudnnRnnDataDescriptor X = CudnnRnnDataDescriptor.Create(), Y = CudnnRnnDataDescriptor.Create();
        public readonly CudnnTensorDescriptor H = CudnnTensorDescriptor.Create(); // [2, B, H] (no states are passed; cuDNN wants the shape)
        public readonly CudaDeviceMemory Weights, DWeights;
        public readonly long WeightBytes;
        public readonly LstmLayout Layout;
        public readonly LstmCopyTable Pack, Unpack, UnpackAdd;
        int _hBatch = -1;

        public LstmPlan(LstmDesc desc, CudnnHandle handle, CudnnMathType math, CudaStream stream)
        {
            Desc = desc;
            Rnn = CudnnRnnDescriptor.Create();
            long statesBytes = CudnnDropoutDescriptor.StatesSize(handle);
            _dropoutStates = CudaArena.AllocateDevice("lstm dropout states", Math.Max(1, statesBytes));
            // A single layer has no inter-layer dropout; cuDNN still takes a descriptor (p = 0).
            Dropout = CudnnDropoutDescriptor.Create(handle, 0f, _dropoutStates.Pointer, statesBytes, 0);
            // One input-side bias per gate, like ours; should this cuDNN refuse that mode, the double-bias mode (the
            // recurrent bias held at zero) computes the same.
            var status = SetDescriptor(CudnnRnnBiasMode.SingleInpBias, math);
            if (status != CudnnStatus.Success) status = SetDescriptor(CudnnRnnBiasMode.DoubleBias, math);
            Cudnn.Check(status, "cudnnSetRNNDescriptor_v8(LSTM, bidirectional, padded I/O)");
            nuint bytes;
            Cudnn.Check(CudnnNative.cudnnGetRNNWeightSpaceSize(handle.Value, Rnn.Value, &bytes));
            WeightBytes = (long)bytes;
            Weights = CudaArena.AllocateDevice("lstm weight space", WeightBytes);
            DWeights = CudaArena.AllocateDevice("lstm weight-gradient space", WeightBytes);
            Weights.Clear(stream);
            DWeights.Clear(stream);
            Layout = ReadLayout(handle);
            Pack = new LstmCopyTable(stream);
            Unpack = new LstmCopyTable(stream);
            UnpackAdd = new LstmCopyTable(stream);
        }

        public long DeviceBytes => _dropoutStates.Bytes + 2 * WeightBytes;

        CudnnStatus SetDescriptor(CudnnRnnBiasMode bias, CudnnMathType math) =>
            CudnnNative.cudnnSetRNNDescriptor_v8(Rnn.Value, CudnnRnnAlgo.Standard, CudnnRnnMode.Lstm, bias,
                CudnnDirectionMode.Bidirectional, CudnnRnnInputMode.LinearInput, CudnnDataType.Float, CudnnDataType.Float, math,
                Desc.InputSize, Desc.Hidden, Desc.Hidden, 1, Dropout.Value, Cudnn.RnnPaddedIoEnabled);

        /// <summary>Where cuDNN keeps each (direction, linear layer) matrix and bias, in floats from the space's start.</summary>
        LstmLayout ReadLayout(CudnnHandle handle)
        {
            var matrix = new long[2, 8];
            var bias = new long[2, 8];
            using var mDesc = CudnnTensorDescriptor.Create();
            using var bDesc = CudnnTensorDescriptor.Create();
            ulong baseAddress = Weights.Pointer;
            for (int dir = 0; dir < 2; dir++)
            for (int lin = 0; lin < 8; lin++)
            {
                ulong mAddr, bAddr;
                Cudnn.Check(CudnnNative.cudnnGetRNNWeightParams(handle.Value, Rnn.Value, dir, (nuint)WeightBytes, baseAddress, lin,
                    mDesc.Value, &mAddr, bDesc.Value, &bAddr));
                int cols = lin < 4 ? Desc.InputSize : Desc.Hidden;
                long elements = mAddr == 0 ? 0 : mDesc.Dimensions().Aggregate(1L, (a, v) => a * v);
                if (mAddr == 0 || elements != (long)Desc.Hidden * cols)
                    throw new InvalidOperationException(
                        $"cuDNN LSTM weight layout: matrix (direction {dir}, id {lin}) has {elements} elements, expected {Desc.Hidden} x {cols}");
                matrix[dir, lin] = (long)(mAddr - baseAddress) / sizeof(float);
                bias[dir, lin] = -1;
                if (bAddr != 0)
                {
                    long be = bDesc.Dimensions().Aggregate(1L, (a, v) => a * v);
                    if (be != Desc.Hidden)
                        throw new InvalidOperationException($"cuDNN LSTM weight layout: bias (direction {dir}, id {lin}) has {be} elements, expected {Desc.Hidden}");
                    bias[dir, lin] = (long)(bAddr - baseAddress) / sizeof(float);
                }
            }
            return new LstmLayout(Desc, matrix, bias);
        }

        /// <summary>Sets the data descriptors for this batch (host seqLengthArray; cheap host calls).</summary>
        public void SetShape(int batch, int frames, ReadOnlySpan<int> lengths)
        {
            X.Set(CudnnRnnDataLayout.BatchMajorUnpacked, frames, Desc.InputSize, lengths);
            Y.Set(CudnnRnnDataLayout.BatchMajorUnpacked, frames, 2 * Desc.Hidden, lengths);
            if (batch == _hBatch) return;
            int* dims = stackalloc int[] { 2, batch, Desc.Hidden };
            int* strides = stackalloc int[] { batch * Desc.Hidden, Desc.Hidden, 1 };
            Cudnn.Check(CudnnNative.cudnnSetTensorNdDescriptor(H.Value, CudnnDataType.Float, 3, dims, strides));
            _hBatch = batch;
        }

        public void Dispose()
        {
            Pack.Dispose();
            Unpack.Dispose();
            UnpackAdd.Dispose();
            Weights.Dispose();
            DWeights.Dispose();
            X.Dispose();
            Y.Dispose();
            H.Dispose();
            Rnn.Dispose();
            Dropout.Dispose();
            _dropoutStates.Dispose();
        }
    }

    LstmPlan LstmPlanFor(in LstmDesc desc)
    {
        if (_lstmPlans.TryGetValue(desc, out var plan)) return plan;
        _device.MakeCurrent();
        plan = new LstmPlan(desc, _cudnn, Tf32 ? CudnnMathType.Default : CudnnMathType.Fma, _stream);
        _lstmPlans[desc] = plan;
        Account(plan.DeviceBytes);
        return plan;
    }

    // Inference forwards (an executor without gradients) run cuDNN's CUDNN_FWD_MODE_INFERENCE: cudnn_adv.h's
    // cudnnForwardMode_t separates the forward that keeps the intermediates cudnnRNNBackwardData_v8/BackwardWeights_v8
    // read from the reserve space (TRAINING) from one that does not, and cudnnGetRNNTempSpaceSizes sizes the workspace
    // and reserve per mode. An inference forward writes no reserve, so none is planned for it when cuDNN asks for none.
    static CudnnForwardMode ForwardMode(bool training) => training ? CudnnForwardMode.Training : CudnnForwardMode.Inference;

    (long Work, long Reserve) RnnTempSizes(LstmPlan plan, CudnnForwardMode mode)
    {
        nuint work, reserve;
        Cudnn.Check(CudnnNative.cudnnGetRNNTempSpaceSizes(_cudnn.Value, plan.Rnn.Value, mode, plan.X.Value, &work, &reserve));
        return ((long)work, (long)reserve);
    }

    /// <summary>
    /// cuDNN's workspace and reserve for the largest batch allowed (B &lt;= maxBatch, T &lt;= maxFrames, B*T &lt;= maxRows),
    /// asked at the corner shapes with every sample full length, plus 1/8 and 1 MiB of headroom: cuDNN does not
    /// document how the sizes grow with the shape, and running out means an error mid-training.
    /// </summary>
    (long Work, long Reserve) PlannedRnnSizes(in LstmDesc desc, int maxBatch, int maxFrames, long maxRows, CudnnForwardMode mode)
    {
        _device.MakeCurrent();
        var plan = LstmPlanFor(desc);
        long work = 0, reserve = 0;
        foreach (var (batch, frames) in PlanningShapes(maxBatch, maxFrames, maxRows))
        {
            var lengths = new int[batch]; // planning only
            Array.Fill(lengths, frames);
            plan.SetShape(batch, frames, lengths);
            var (w, r) = RnnTempSizes(plan, mode);
            work = Math.Max(work, w);
            reserve = Math.Max(reserve, r);
        }
        static long Headroom(long bytes) => bytes == 0 ? 0 : bytes + bytes / 8 + (1 << 20);
        return (Headroom(work), Headroom(reserve));
    }

    // reserve: [y: B*T*2H] [cuDNN reserve]; workspace: [dy: B*T*2H] [dx scratch: B*T*I] [cuDNN workspace]
    protected override long LstmReserveCore(in LstmDesc desc, int maxBatch, int maxFrames, long maxRows, bool training) =>
        RoundUp(maxRows * 2 * desc.Hidden, AlignElements) +
        (PlannedRnnSizes(desc, maxBatch, maxFrames, maxRows, ForwardMode(training)).Reserve + 3) / 4 + AlignElements;

    protected override long LstmWorkspaceCore(in LstmDesc desc, int maxBatch, int maxFrames, long maxRows, bool training) =>
        RoundUp(maxRows * 2 * desc.Hidden, AlignElements) + RoundUp(maxRows * desc.InputSize, AlignElements) +
        (PlannedRnnSizes(desc, maxBatch, maxFrames, maxRows, ForwardMode(training)).Work + 3) / 4 + AlignElements;

    /// <summary>The buffers of one call, carved from the layer's reserve and the shared workspace (sizes checked).</summary>
    (ulong Y, ulong Reserve, long ReserveBytes, ulong Dy, ulong DxScratch, ulong Work, long WorkBytes) LstmBuffers(LstmPlan plan,
        int batch, int frames, TensorView reserve, TensorView workspace, CudnnForwardMode mode)
    {
        var (workNeed, reserveNeed) = RnnTempSizes(plan, mode);
        long yElements = RoundUp((long)batch * frames * 2 * plan.Desc.Hidden, AlignElements);
        long dxElements = RoundUp((long)batch * frames * plan.Desc.InputSize, AlignElements);
        if (reserve.IsEmpty || workspace.IsEmpty) throw new ArgumentException("lstm: reserve and workspace are required on the GPU");
        ulong y = Ptr(reserve);
        ulong cudnnReserve = AlignUp(y + (ulong)(yElements * sizeof(float)));
        long reserveBytes = (long)(Ptr(reserve) + (ulong)(reserve.Elements * sizeof(float)) - cudnnReserve);
        ulong dy = Ptr(workspace);
        ulong dxScratch = dy + (ulong)(yElements * sizeof(float));
        ulong work = AlignUp(dxScratch + (ulong)(dxElements * sizeof(float)));
        long workBytes = (long)(Ptr(workspace) + (ulong)(workspace.Elements * sizeof(float)) - work);
        if (reserveBytes < reserveNeed || workBytes < workNeed)
            throw new InvalidOperationException($"lstm: batch {batch} x {frames} needs {reserveNeed} reserve and {workNeed} workspace bytes, " +
                                                $"the plan has {reserveBytes} and {workBytes} (plan memory for the largest batch)");
        // No reserve asked for (inference): cuDNN gets none rather than an address it has no use for.
        return (y, reserveNeed == 0 ? 0 : cudnnReserve, reserveNeed, dy, dxScratch, work, workNeed);
    }

    static ulong AlignUp(ulong address) => (address + 255) / 256 * 256;

    /// <summary>Our six parameter tensors -> cuDNN's weight space (one kernel launch; table rebuilt if addresses change).</summary>
    void PackLstmWeights(LstmPlan plan, in LstmParams w)
    {
        var addresses = ParamAddresses(w);
        ulong space = plan.Weights.Pointer;
        if (!plan.Pack.IsFor(addresses, space)) plan.Pack.Set(addresses, space, plan.Layout.PackSegments(addresses, space));
        RunSegments(plan.Pack, accumulate: false);
    }

    /// <summary>cuDNN's weight-gradient space -> our six gradient tensors (copy, then add the second biases if any).</summary>
    void UnpackLstmGradients(LstmPlan plan, in LstmParams dw)
    {
        var addresses = ParamAddresses(dw);
        ulong space = plan.DWeights.Pointer;
        if (!plan.Unpack.IsFor(addresses, space)) plan.Unpack.Set(addresses, space, plan.Layout.UnpackSegments(addresses, space));
        if (!plan.UnpackAdd.IsFor(addresses, space)) plan.UnpackAdd.Set(addresses, space, plan.Layout.UnpackAddSegments(addresses, space));
        RunSegments(plan.Unpack, accumulate: false);
        RunSegments(plan.UnpackAdd, accumulate: true);
    }

    static LstmAddresses ParamAddresses(in LstmParams p) =>
        new(Ptr(p.FwIh), Ptr(p.FwHh), Ptr(p.FwBias), Ptr(p.BwIh), Ptr(p.BwHh), Ptr(p.BwBias));

    void RunSegments(LstmCopyTable table, bool accumulate)
    {
        if (table.Count == 0) return;
        ulong seg = table.Pointer;
        int acc = accumulate ? 1 : 0;
        long blocks = Math.Min((table.Longest + Threads - 1) / Threads, 1024);
        void** args = stackalloc void*[] { &seg, &acc };
        LaunchGrid(_k.Segments, new Dim3((uint)Math.Max(1, blocks), (uint)table.Count), new Dim3(Threads), args);
    }

    protected override void LstmForwardCore(in LstmDesc desc, TensorView sequence, in LstmParams weights, TensorView output,
        TensorView reserve, TensorView workspace, ReadOnlySpan<int> lengths, bool training)
    {
        _device.MakeCurrent();
        var plan = LstmPlanFor(desc);
        int batch = sequence.Shape.D0, frames = sequence.Shape.D1, hidden = desc.Hidden;
        plan.SetShape(batch, frames, lengths);
        var mode = ForwardMode(training);
        var buf = LstmBuffers(plan, batch, frames, reserve, workspace, mode);
        PackLstmWeights(plan, weights);
        ulong len = Lengths(lengths);
        // Padded frames of x are zeroed in place: they are never part of the result, but cuDNN may still multiply them
        // (by zero gradients) in its GEMMs, and garbage such as NaN would leak through 0 * NaN.
        MaskInPlace(Ptr(sequence), len, batch, 1, frames, desc.InputSize);
        Cudnn.Check(CudnnNative.cudnnRNNForward(_cudnn.Value, plan.Rnn.Value, mode, len,
            plan.X.Value, Ptr(sequence), plan.Y.Value, buf.Y, plan.H.Value, 0, 0, plan.H.Value, 0, 0,
            (nuint)plan.WeightBytes, plan.Weights.Pointer, (nuint)buf.WorkBytes, buf.Work, (nuint)buf.ReserveBytes, buf.Reserve));
        ulong y = buf.Y, o = Ptr(output);
        long n = output.Elements;
        void** args = stackalloc void*[] { &y, &o, &len, &frames, &hidden, &n };
        Launch(_k.LstmGather, n, args);
    }

    protected override void LstmBackwardCore(in LstmDesc desc, TensorView sequence, in LstmParams weights, TensorView reserve,
        TensorView dOutput, TensorView dSequence, in LstmParams dWeights, TensorView workspace, ReadOnlySpan<int> lengths)
    {
        _device.MakeCurrent();
        var plan = LstmPlanFor(desc);
        int batch = sequence.Shape.D0, frames = sequence.Shape.D1, hidden = desc.Hidden;
        plan.SetShape(batch, frames, lengths);
        var buf = LstmBuffers(plan, batch, frames, reserve, workspace, CudnnForwardMode.Training);
        PackLstmWeights(plan, weights); // the weight space may have served another executor since the forward
        ulong len = Lengths(lengths);
        MaskInPlace(Ptr(sequence), len, batch, 1, frames, desc.InputSize);

        // dy [B, T, 2H]: zero except where the output was read
        ulong dy = buf.Dy, dout = Ptr(dOutput);
        CudaDriver.Check(CudaNative.cuMemsetD32Async(dy, 0, (nuint)((long)batch * frames * 2 * hidden), _stream.Value));
        long n = dOutput.Elements;
        void** args = stackalloc void*[] { &dout, &dy, &len, &frames, &hidden, &n };
        Launch(_k.LstmScatter, n, args);

        ulong dx = dSequence.IsEmpty ? buf.DxScratch : Ptr(dSequence);
        Cudnn.Check(CudnnNative.cudnnRNNBackwardData_v8(_cudnn.Value, plan.Rnn.Value, len,
            plan.Y.Value, buf.Y, dy, plan.X.Value, dx, plan.H.Value, 0, 0, 0, plan.H.Value, 0, 0, 0,
            (nuint)plan.WeightBytes, plan.Weights.Pointer, (nuint)buf.WorkBytes, buf.Work, (nuint)buf.ReserveBytes, buf.Reserve));
        CudaDriver.Check(CudaNative.cuMemsetD8Async(plan.DWeights.Pointer, 0, (nuint)plan.WeightBytes, _stream.Value));
        Cudnn.Check(CudnnNative.cudnnRNNBackwardWeights_v8(_cudnn.Value, plan.Rnn.Value, CudnnWgradMode.Add, len,
            plan.X.Value, Ptr(sequence), plan.H.Value, 0, plan.Y.Value, buf.Y,
            (nuint)plan.WeightBytes, plan.DWeights.Pointer, (nuint)buf.WorkBytes, buf.Work, (nuint)buf.ReserveBytes, buf.Reserve));
        UnpackLstmGradients(plan, dWeights);
        // Padded frames of dx: zeros, as on the CPU (cuDNN does not promise what it writes there).
        if (!dSequence.IsEmpty) MaskInPlace(dx, len, batch, 1, frames, desc.InputSize);
    }

    void DisposeLstm()
    {
        foreach (var plan in _lstmPlans.Values) plan.Dispose();
        _lstmPlans.Clear();
    }
}

/// <summary>Device addresses of the six tensors of <see cref="LstmParams"/> (or their gradients).</summary>
internal readonly record struct LstmAddresses(ulong FwIh, ulong FwHh, ulong FwBias, ulong BwIh, ulong BwHh, ulong BwBias)
{
    public ulong Ih(int d) => d == 0 ? FwIh : BwIh;
    public ulong Hh(int d) => d == 0 ? FwHh : BwHh;
    public ulong Bias(int d) => d == 0 ? FwBias : BwBias;
}

/// <summary>One copy of <see cref="Count"/> floats from Source (0 = zeros) to Destination.</summary>
internal readonly record struct CopySegment(ulong Source, ulong Destination, long Count);

/// <summary>
/// The mapping between our LSTM parameters (w_ih [4H, I], w_hh [4H, H], bias [4H] per direction, gates i, f, g, o) and
/// cuDNN's weight space, as copy segments - pure arithmetic on addresses, testable without a GPU.
/// Matrix[d, id] / Bias[d, id]: float offsets in the weight space of linear layer id (0-3 input side, 4-7 recurrent
/// side, gate = id % 4) of direction d; Bias = -1 where cuDNN keeps no bias.
/// </summary>
internal sealed class LstmLayout(LstmDesc desc, long[,] matrix, long[,] bias)
{
    public LstmDesc Desc { get; } = desc;
    public long Matrix(int direction, int id) => matrix[direction, id];
    public long Bias(int direction, int id) => bias[direction, id];

    /// <summary>The linear-layer IDs holding gate g's biases: ours goes into the first, the second (if any) is zeroed.</summary>
    public (int First, int Second) BiasIds(int direction, int gate)
    {
        bool input = bias[direction, gate] >= 0, recurrent = bias[direction, 4 + gate] >= 0;
        if (!input && !recurrent) throw new InvalidOperationException($"cuDNN reports no bias for direction {direction}, gate {gate}");
        return input ? (gate, recurrent ? 4 + gate : -1) : (4 + gate, -1);
    }

    /// <summary>Parameters -> weight space: every matrix block and bias; the second bias of a gate (if any) zeroed.</summary>
    public CopySegment[] PackSegments(LstmAddresses p, ulong space)
    {
        int h = Desc.Hidden, i = Desc.InputSize;
        var list = new List<CopySegment>();
        for (int d = 0; d < 2; d++)
        for (int g = 0; g < 4; g++)
        {
            list.Add(new(p.Ih(d) + Floats((long)g * h * i), space + Floats(matrix[d, g]), (long)h * i));
            list.Add(new(p.Hh(d) + Floats((long)g * h * h), space + Floats(matrix[d, 4 + g]), (long)h * h));
            var (first, second) = BiasIds(d, g);
            list.Add(new(p.Bias(d) + Floats((long)g * h), space + Floats(bias[d, first]), h));
            if (second >= 0) list.Add(new(0, space + Floats(bias[d, second]), h));
        }
        return list.ToArray();
    }

    /// <summary>Weight-gradient space -> gradients: matrix blocks and each gate's first bias (copied).</summary>
    public CopySegment[] UnpackSegments(LstmAddresses g, ulong space)
    {
        int h = Desc.Hidden, i = Desc.InputSize;
        var list = new List<CopySegment>();
        for (int d = 0; d < 2; d++)
        for (int k = 0; k < 4; k++)
        {
            list.Add(new(space + Floats(matrix[d, k]), g.Ih(d) + Floats((long)k * h * i), (long)h * i));
            list.Add(new(space + Floats(matrix[d, 4 + k]), g.Hh(d) + Floats((long)k * h * h), (long)h * h));
            list.Add(new(space + Floats(bias[d, BiasIds(d, k).First]), g.Bias(d) + Floats((long)k * h), h));
        }
        return list.ToArray();
    }

    /// <summary>The second biases' gradients, added onto ours after <see cref="UnpackSegments"/> (double-bias mode only).</summary>
    public CopySegment[] UnpackAddSegments(LstmAddresses g, ulong space)
    {
        int h = Desc.Hidden;
        var list = new List<CopySegment>();
        for (int d = 0; d < 2; d++)
        for (int k = 0; k < 4; k++)
        {
            int second = BiasIds(d, k).Second;
            if (second >= 0) list.Add(new(space + Floats(bias[d, second]), g.Bias(d) + Floats((long)k * h), h));
        }
        return list.ToArray();
    }

    static ulong Floats(long count) => (ulong)(count * sizeof(float));
}

/// <summary>
/// A device table of copy segments for the ser_segments kernel ([count, 3] u64: source, destination, floats), built for
/// one set of tensor addresses. Rebuilt (one synchronous upload) only when the tensors move; a step allocates nothing.
/// </summary>
internal sealed unsafe class LstmCopyTable(CudaStream stream) : IDisposable
{
    CudaDeviceMemory? _table;
    LstmAddresses _addresses;
    ulong _space;
    bool _built;

    public int Count { get; private set; }
    public long Longest { get; private set; }
    public ulong Pointer => _table?.Pointer ?? 0;

    public bool IsFor(LstmAddresses addresses, ulong space) => _built && addresses == _addresses && space == _space;

    public void Set(LstmAddresses addresses, ulong space, CopySegment[] segments)
    {
        stream.Synchronize(); // queued kernels may still read the old table
        _table?.Dispose();
        _table = null;
        Count = segments.Length;
        Longest = segments.Length == 0 ? 0 : segments.Max(s => s.Count);
        if (segments.Length > 0)
        {
            var flat = new ulong[segments.Length * 3];
            for (int s = 0; s < segments.Length; s++)
            {
                flat[3 * s] = segments[s].Source;
                flat[3 * s + 1] = segments[s].Destination;
                flat[3 * s + 2] = (ulong)segments[s].Count;
            }
            _table = CudaArena.AllocateDevice("lstm copy table", flat.Length * sizeof(ulong));
            _table.CopyFrom<ulong>(flat, stream);
            stream.Synchronize();
        }
        _addresses = addresses;
        _space = space;
        _built = true;
    }

    public void Dispose() => _table?.Dispose();
}
