using System.Numerics;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using Ser.Engine.Tensors;
using Ser.Native;

namespace Ser.Engine.Backends.Cuda;

/// <summary>
/// The CUDA backend: cuDNN for the convolutions and the bidirectional LSTM (RNN v8 API, padded I/O), cuBLAS for the
/// dense layers, and our own NVRTC kernels (<see cref="CudaKernels"/>) for masking, pooling, reshapes, loss, dropout
/// and Adam. Every operation is queued on the device's one stream; nothing waits for the GPU except
/// <see cref="Backend{T}.Download"/>, <see cref="Synchronize"/>, the loss value when it is returned
/// (see <see cref="LossMode"/> for the ways around it) and the gradient norm when clipping is on.
/// Host-side arguments (lengths, labels, loss weights) reach the GPU through page-locked staging
/// (<see cref="CudaStaging"/>, <see cref="CudaLengthCache"/>), so a training step in steady state allocates nothing and
/// never blocks on a pageable copy.
/// <para>TF32 is off unless asked for (cuDNN FMA math, cuBLAS default math, GEMM-family convolution algorithms), so
/// results match the CPU oracle to float32 rounding; <see cref="Tf32"/> trades that for tensor-core speed.</para>
/// <para>float32 only: the type parameter exists because <see cref="Backend{T}"/> declares upload overloads for float
/// and T, which a non-generic float subclass could not override separately.</para>
/// Split over files by concern, mirroring Backends/Cpu: CudaConv, CudaPool, CudaSequence, CudaLstm, CudaDense,
/// CudaElementwise, CudaLoss, CudaAdam.
/// </summary>
internal sealed unsafe partial class CudaBackend<T> : Backend<T>, IArenaDevice where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    const int Threads = 256;
    const long MaxBlocks = 1 << 20; // grid-stride loops cover the rest

    readonly CudaDevice _device;
    readonly bool _ownsDevice;
    readonly CudaStream _stream;
    readonly CublasHandle _cublas;
    readonly CudnnHandle _cudnn;
    readonly CudaStaging _staging;
    readonly CudaLengthCache _lengths;
    readonly CudaKernelFunctions _k;
    readonly CudaDeviceMemory _scalars;   // [ScalarSlots] doubles: loss result, totals, sum-of-squares partials and result
    readonly CudaHostMemory _readback;    // pinned [ReadbackDoubles] for values the host reads
    long _deviceBytes, _peakDeviceBytes;
    bool _disposed;

    CudaBackend(CudaDevice device, bool ownsDevice, bool tf32)
    {
        if (typeof(T) != typeof(float)) throw new NotSupportedException("the CUDA backend computes in float32 only");
        _device = device;
        _ownsDevice = ownsDevice;
        Tf32 = tf32;
        device.MakeCurrent();
        _stream = device.Stream;
        var created = new List<IDisposable>();
        try
        {
            _cublas = Track(created, CublasHandle.Create(_stream, tf32 ? CublasMath.Tf32TensorOp : CublasMath.Default));
            _cudnn = Track(created, CudnnHandle.Create(_stream));
            _staging = device.Staging; // the device's: one ring per stream
            _lengths = Track(created, new CudaLengthCache(_stream));
            _k = new CudaKernelFunctions(device.LoadModule(CudaKernels.Set));
            _scalars = Track(created, CudaArena.AllocateDevice("backend scalars", ScalarSlots * sizeof(double)));
            _scalars.Clear(_stream);
            _readback = Track(created, CudaHostMemory.Allocate(ReadbackDoubles * sizeof(double)));
            Account(_staging.DeviceBytes + _lengths.DeviceBytes + _scalars.Bytes);
        }
        catch
        {
            foreach (var d in created) d.Dispose();
            if (ownsDevice) device.Dispose();
            throw;
        }
    }

    static TD Track<TD>(List<IDisposable> list, TD item) where TD : IDisposable
    {
        list.Add(item);
        return item;
    }

    /// <summary>Opens GPU <paramref name="ordinal"/>; a missing GPU or library is a one-line <see cref="SerException"/>.</summary>
    public static CudaBackend<T> Open(int ordinal = 0, bool tf32 = false)
    {
        if (!IsAvailable(out string reason)) throw new SerException($"device 'cuda': {reason}");
        CudaDevice device;
        try
        {
            device = CudaDevice.Open(ordinal);
        }
        catch (NativeException e)
        {
            throw new SerException($"device 'cuda': {e.Message}", e);
        }
        try
        {
            return new CudaBackend<T>(device, ownsDevice: true, tf32);
        }
        catch (NativeException e)
        {
            throw new SerException($"device 'cuda': {e.Message}", e);
        }
    }

    /// <summary>A backend on an already open device (the caller keeps owning it).</summary>
    public static CudaBackend<T> OnDevice(CudaDevice device, bool tf32 = false) => new(device, ownsDevice: false, tf32);

    /// <summary>Whether a GPU and every CUDA library Ser uses are there; otherwise why not, in one line.</summary>
    public static bool IsAvailable(out string reason)
    {
        var report = CudaRuntimeInfo.Probe();
        if (!report.GpuAvailable)
        {
            reason = report.GpuProblem ?? "no GPU found";
            return false;
        }
        var missing = report.Libraries.Where(l => !l.Loaded).Select(l => $"{l.Name}: {l.Problem}").ToList();
        if (missing.Count > 0)
        {
            reason = "missing CUDA libraries (" + string.Join("; ", missing) + "); see `sertool device`";
            return false;
        }
        reason = "";
        return true;
    }

    public override string Name => "cuda";
    public override int Workers => 1;

    public CudaDevice Device => _device;
    internal CudaStream Stream => _stream;
    internal CudaStaging Staging => _staging;
    internal CudaLengthCache LengthCache => _lengths;

    /// <summary>TF32 tensor-core math allowed in cuDNN and cuBLAS, and FFT/Winograd convolutions (faster, about 1e-3
    /// relative error).</summary>
    public bool Tf32 { get; }

    /// <summary>Device bytes this backend holds now: arenas it allocated plus its own buffers (weight spaces, lengths) and
    /// the device's staging ring it uploads through.</summary>
    public long DeviceBytes => _deviceBytes;

    /// <summary>The most <see cref="DeviceBytes"/> ever held.</summary>
    public long PeakDeviceBytes => _peakDeviceBytes;

    /// <summary>(free, total) device memory as the driver reports it (includes other processes and libraries).</summary>
    public (long Free, long Total) MemoryInfo()
    {
        _device.MakeCurrent();
        nuint free, total;
        CudaDriver.Check(CudaNative.cuMemGetInfo_v2(&free, &total));
        return ((long)free, (long)total);
    }

    void Account(long bytes)
    {
        _deviceBytes += bytes;
        _peakDeviceBytes = Math.Max(_peakDeviceBytes, _deviceBytes);
    }

    /// <summary>Device address of a tensor's first element.</summary>
    internal static ulong Ptr(TensorView t) => ((CudaArena)t.Arena).Pointer + (ulong)(t.Offset * sizeof(float));

    /// <summary>Device address of a tensor, or 0 for an empty view.</summary>
    static ulong PtrOrNull(TensorView t) => t.IsEmpty ? 0 : Ptr(t);

    /// <summary>Device copy of a lengths array (cached by content).</summary>
    ulong Lengths(ReadOnlySpan<int> lengths) => _lengths.Get(lengths);

    /// <summary>Launches a grid-stride kernel over <paramref name="threads"/> elements.</summary>
    void Launch(nint function, long threads, void** args)
    {
        if (threads <= 0) return;
        long blocks = Math.Min((threads + Threads - 1) / Threads, MaxBlocks);
        _device.Launch(function, new Dim3((uint)blocks), new Dim3(Threads), args);
    }

    void LaunchGrid(nint function, Dim3 grid, Dim3 block, void** args) => _device.Launch(function, grid, block, args);

    // ---- memory ---------------------------------------------------------------------------------------------------

    protected override Arena AllocateCore(long elements, string name)
    {
        _device.MakeCurrent();
        var arena = new CudaArena(name, elements, sizeof(float), this, bytes => _deviceBytes -= bytes);
        Account(arena.Bytes);
        return arena;
    }

    (ulong Pointer, IDisposable Owner) IArenaDevice.Allocate(string name, long bytes)
    {
        _device.MakeCurrent();
        var memory = CudaArena.AllocateDevice(name, bytes);
        try
        {
            memory.Clear(_stream);
        }
        catch
        {
            memory.Dispose();
            throw;
        }
        return (memory.Pointer, memory);
    }

    // An arena that outlives this backend (its owner disposed the backend first) has nothing left to wait for: the
    // backend synchronised before destroying the stream, and the memory handle frees itself in its own context.
    IDisposable IArenaDevice.PushContext() => _device.Context.IsClosed ? NoContext.Instance : _device.Context.Push();

    void IArenaDevice.Synchronize()
    {
        if (!_stream.IsClosed) _stream.Synchronize();
    }

    sealed class NoContext : IDisposable
    {
        public static readonly NoContext Instance = new();
        public void Dispose() { }
    }

    protected override void UploadCore(ReadOnlySpan<float> source, TensorView destination)
    {
        _device.MakeCurrent();
        _staging.Upload(MemoryMarshal.AsBytes(source), Ptr(destination));
    }

    protected override void UploadCore(ReadOnlySpan<T> source, TensorView destination)
    {
        _device.MakeCurrent();
        _staging.Upload(MemoryMarshal.AsBytes(source), Ptr(destination));
    }

    protected override void DownloadCore(TensorView source, Span<T> destination)
    {
        _device.MakeCurrent();
        fixed (T* p = destination)
        {
            CudaDriver.Check(CudaNative.cuMemcpyDtoHAsync_v2(p, Ptr(source), (nuint)(destination.Length * sizeof(float)), _stream.Value));
            _stream.Synchronize();
        }
    }

    protected override void ZeroCore(TensorView tensor)
    {
        _device.MakeCurrent();
        CudaDriver.Check(CudaNative.cuMemsetD32Async(Ptr(tensor), 0, (nuint)tensor.Elements, _stream.Value));
    }

    protected override void CopyCore(TensorView source, TensorView destination)
    {
        _device.MakeCurrent();
        CudaDriver.Check(CudaNative.cuMemcpyDtoDAsync_v2(Ptr(destination), Ptr(source), (nuint)(source.Elements * sizeof(float)), _stream.Value));
    }

    public override void Synchronize()
    {
        _device.MakeCurrent();
        _stream.Synchronize();
    }

    // ---- timing (the per-layer profiler) ----------------------------------------------------------------------------

    // Device time between two events recorded on the stream (cuEventRecord, then cuEventElapsedTime once the stop event
    // has completed; driver API: the resolution is around 0.5 microseconds, and both events need timing enabled, i.e.
    // no CU_EVENT_DISABLE_TIMING). Host launch gaps before a layer do not count; a token is the index of its start
    // event in a small ring, so a few timers may be open at once. Events are made on first use: profiling only.
    const int TimerEvents = 16;
    CudaEvent[]? _timerStarts;   // [TimerEvents]
    CudaEvent? _timerStop;
    int _nextTimer;

    public override long TimerStart()
    {
        _device.MakeCurrent();
        if (_timerStarts is null)
        {
            _timerStop = CudaEvent.Create(CudaNative.EventDefault);
            var starts = new CudaEvent[TimerEvents];
            for (int i = 0; i < starts.Length; i++) starts[i] = CudaEvent.Create(CudaNative.EventDefault);
            _timerStarts = starts;
        }
        int token = _nextTimer;
        _nextTimer = (_nextTimer + 1) % TimerEvents;
        _timerStarts[token].Record(_stream);
        return token;
    }

    /// <summary>Device time since <see cref="TimerStart"/>'s event, in Stopwatch ticks; waits for the stream's work so far.</summary>
    public override long TimerStop(long start)
    {
        if (_timerStarts is null || (ulong)start >= TimerEvents)
            throw new ArgumentOutOfRangeException(nameof(start), "not a TimerStart token of this backend");
        _device.MakeCurrent();
        _timerStop!.Record(_stream);
        float ms = CudaEvent.ElapsedMilliseconds(_timerStarts[start], _timerStop); // synchronises on the stop event
        return (long)Math.Round(ms * (System.Diagnostics.Stopwatch.Frequency / 1000.0));
    }

    void DisposeTimers()
    {
        if (_timerStarts is null) return;
        foreach (var e in _timerStarts) e.Dispose();
        _timerStop!.Dispose();
        _timerStarts = null;
    }

    // ---- scalars the host reads back ------------------------------------------------------------------------------

    // _scalars layout, in doubles
    const int LossResult = 0;       // [2] loss, correct
    const int Totals = 2;           // [4] queued-step totals: loss sum, correct, samples, steps
    const int SumSquares = 6;       // [1] sum of squares
    const int Partials = 8;         // [SumSquaresBlocks] its partials
    const int ScalarSlots = Partials + CudaKernels.SumSquaresBlocks;
    const int ReadbackDoubles = 8;

    ulong Scalar(int slot) => _scalars.Pointer + (ulong)(slot * sizeof(double));

    /// <summary>Copies <paramref name="count"/> doubles from device scalar slot <paramref name="slot"/> and waits for them.</summary>
    ReadOnlySpan<double> ReadScalars(int slot, int count)
    {
        double* host = (double*)_readback.Value;
        CudaDriver.Check(CudaNative.cuMemcpyDtoHAsync_v2(host, Scalar(slot), (nuint)(count * sizeof(double)), _stream.Value));
        _stream.Synchronize();
        return new ReadOnlySpan<double>(host, count);
    }

    public override void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _device.MakeCurrent();
        // A failed wait means queued work failed (its results are wrong): free everything, then say so, not swallow it.
        NativeException? failed = null;
        try { _stream.Synchronize(); } catch (NativeException e) { failed = e; }
        DisposeConv();
        DisposeLstm();
        DisposeLoss();
        DisposeTimers();
        _scalars.Dispose();
        _readback.Dispose();
        _lengths.Dispose();
        _cudnn.Dispose();
        _cublas.Dispose();
        if (_ownsDevice) _device.Dispose();
        if (failed is not null) ExceptionDispatchInfo.Throw(failed);
    }
}

/// <summary>The CUfunctions of <see cref="CudaKernels.Source"/>, looked up once.</summary>
internal sealed class CudaKernelFunctions(CudaModule module)
{
    public readonly nint Mask = module.GetFunction(CudaKernels.Mask);
    public readonly nint Relu = module.GetFunction(CudaKernels.Relu);
    public readonly nint ReluBackward = module.GetFunction(CudaKernels.ReluBackward);
    public readonly nint BiasMaps = module.GetFunction(CudaKernels.BiasMaps);
    public readonly nint PadMaps = module.GetFunction(CudaKernels.PadMaps);
    public readonly nint CropMaps = module.GetFunction(CudaKernels.CropMaps);
    public readonly nint BiasPartial = module.GetFunction(CudaKernels.BiasPartial);
    public readonly nint BiasSum = module.GetFunction(CudaKernels.BiasSum);
    public readonly nint PoolForward = module.GetFunction(CudaKernels.PoolForward);
    public readonly nint PoolBackward = module.GetFunction(CudaKernels.PoolBackward);
    public readonly nint MapsToSequence = module.GetFunction(CudaKernels.MapsToSequence);
    public readonly nint SequenceToMaps = module.GetFunction(CudaKernels.SequenceToMaps);
    public readonly nint Segments = module.GetFunction(CudaKernels.Segments);
    public readonly nint LstmGather = module.GetFunction(CudaKernels.LstmGather);
    public readonly nint LstmScatter = module.GetFunction(CudaKernels.LstmScatter);
    public readonly nint AddRows = module.GetFunction(CudaKernels.AddRows);
    public readonly nint ColumnSums = module.GetFunction(CudaKernels.ColumnSums);
    public readonly nint DropoutForward = module.GetFunction(CudaKernels.DropoutForward);
    public readonly nint DropoutBackward = module.GetFunction(CudaKernels.DropoutBackward);
    public readonly nint SoftmaxCrossEntropy = module.GetFunction(CudaKernels.SoftmaxCrossEntropy);
    public readonly nint SumSquaresPartial = module.GetFunction(CudaKernels.SumSquaresPartial);
    public readonly nint SumFinal = module.GetFunction(CudaKernels.SumFinal);
    public readonly nint Scale = module.GetFunction(CudaKernels.Scale);
    public readonly nint Adam = module.GetFunction(CudaKernels.Adam);
}
