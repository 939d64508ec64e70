using System.Numerics;
using System.Runtime.Intrinsics;
using Ser.Engine.Tensors;

namespace Ser.Engine.Backends.Cpu;

/// <summary>
/// The CPU backend: vectorised (Vector512, Vector256 or scalar: a <see cref="SimdPath"/> fixed at construction, every
/// kernel written once over <see cref="IVectorOps{T, TV}"/>) and multi-threaded (a <see cref="WorkerPool"/> over samples, tiles or
/// output blocks). It is the oracle the CUDA backend is compared against. One operation runs at a time; operation
/// arguments are parked in fields so the per-item bodies are delegates created once (no allocation per step).
/// Generic over float (training, inference) and double (the float64 gradient-check path).
/// Split over files by concern, mirrored by Backends/Cuda: CpuConv, CpuPool, CpuSequence, CpuLstm, CpuDense,
/// CpuElementwise, CpuLoss, CpuAdam.
/// </summary>
internal sealed unsafe partial class CpuBackend<T> : Backend<T> where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    readonly WorkerPool _pool;
    readonly SimdPath _simd;
    readonly CpuArena<T> _gemmScratch; // [workers, GemmScratch] packed panels for GEMMs run by any op
    int[] _len = new int[64];          // the current operation's lengths, readable from worker threads
    bool _disposed;

    /// <param name="threads">Workers (0 = all cores).</param>
    /// <param name="simd">The kernels' vector width (null = <see cref="CpuKernels.Current"/>); one this CPU lacks is refused.</param>
    public CpuBackend(int threads = 0, SimdPath? simd = null)
    {
        _simd = simd ?? CpuKernels.Current;
        if (!CpuKernels.IsAvailable(_simd)) throw new SerException($"this CPU does not accelerate {CpuKernels.Name(_simd)}");
        int workers = threads > 0 ? threads : Environment.ProcessorCount;
        _pool = new WorkerPool(workers);
        _gemmScratch = new CpuArena<T>("cpu.gemm-scratch", workers * GemmScratchElements);
    }

    public override string Name => "cpu";
    public override int Workers => _pool.Workers;
    public SimdPath Simd => _simd;

    /// <summary>Bytes the backend holds besides the executor's arenas (per-worker GEMM panels).</summary>
    public long ScratchBytes => _gemmScratch.Bytes;

    static long GemmScratchElements => CpuGemm<T>.ScratchElements;

    internal static T* Ptr(TensorView t) => ((CpuArena<T>)t.Arena).Pointer + t.Offset;
    internal static Span<T> Span(TensorView t) => new(Ptr(t), checked((int)t.Elements));

    T* GemmScratch(int worker) => _gemmScratch.Pointer + worker * GemmScratchElements;

    /// <summary>Copies lengths where worker threads can read them (a span cannot be stored in a field).</summary>
    int[] Park(ReadOnlySpan<int> lengths)
    {
        if (_len.Length < lengths.Length) _len = new int[Math.Max(lengths.Length, 2 * _len.Length)];
        lengths.CopyTo(_len);
        return _len;
    }

    static T Cast(double v) => T.CreateTruncating(v);

    // ---- the path's helpers (one switch per call; the kernels inside are specialised per width) ----------------------

    T SumOf(T* p, int n) => _simd switch
    {
        SimdPath.Vector512 => Simd<T>.Sum<V512<T>, Vector512<T>>(p, n),
        SimdPath.Vector256 => Simd<T>.Sum<V256<T>, Vector256<T>>(p, n),
        _ => Simd<T>.Sum<V1<T>, T>(p, n),
    };

    T DotOf(T* a, T* b, int n) => _simd switch
    {
        SimdPath.Vector512 => Simd<T>.Dot<V512<T>, Vector512<T>>(a, b, n),
        SimdPath.Vector256 => Simd<T>.Dot<V256<T>, Vector256<T>>(a, b, n),
        _ => Simd<T>.Dot<V1<T>, T>(a, b, n),
    };

    /// <summary>y[i] += x[i].</summary>
    void AddTo(T* x, T* y, int n)
    {
        switch (_simd)
        {
            case SimdPath.Vector512: Simd<T>.Add<V512<T>, Vector512<T>>(x, y, n); break;
            case SimdPath.Vector256: Simd<T>.Add<V256<T>, Vector256<T>>(x, y, n); break;
            default: Simd<T>.Add<V1<T>, T>(x, y, n); break;
        }
    }

    void AccumulateRows(T* a, T* x, T* y, int n, int m)
    {
        switch (_simd)
        {
            case SimdPath.Vector512: Simd<T>.AccumulateRows<V512<T>, Vector512<T>>(a, x, y, n, m); break;
            case SimdPath.Vector256: Simd<T>.AccumulateRows<V256<T>, Vector256<T>>(a, x, y, n, m); break;
            default: Simd<T>.AccumulateRows<V1<T>, T>(a, x, y, n, m); break;
        }
    }

    void Gemm(bool transA, bool transB, int m, int n, int k, T* a, int lda, T* b, int ldb, T* c, int ldc, bool accumulate, T* scratch)
    {
        switch (_simd)
        {
            case SimdPath.Vector512: CpuGemm<T>.Gemm<V512<T>, Vector512<T>>(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, accumulate, scratch); break;
            case SimdPath.Vector256: CpuGemm<T>.Gemm<V256<T>, Vector256<T>>(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, accumulate, scratch); break;
            default: CpuGemm<T>.Gemm<V1<T>, T>(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, accumulate, scratch); break;
        }
    }

    // ---- memory ---------------------------------------------------------------------------------------------------

    protected override Arena AllocateCore(long elements, string name) => new CpuArena<T>(name, elements);

    protected override void UploadCore(ReadOnlySpan<float> source, TensorView destination)
    {
        if (typeof(T) == typeof(float))
        {
            source.CopyTo(new Span<float>(Ptr(destination), source.Length));
            return;
        }
        T* d = Ptr(destination);
        for (int i = 0; i < source.Length; i++) d[i] = T.CreateTruncating(source[i]);
    }

    protected override void UploadCore(ReadOnlySpan<T> source, TensorView destination) => source.CopyTo(Span(destination));

    protected override void DownloadCore(TensorView source, Span<T> destination) => Span(source).CopyTo(destination);

    protected override void ZeroCore(TensorView tensor) => Span(tensor).Clear();

    protected override void CopyCore(TensorView source, TensorView destination) => Span(source).CopyTo(Span(destination));

    // ---- parallel GEMM over independent output blocks --------------------------------------------------------------

    bool _gTransA, _gTransB, _gAccumulate;
    int _gM, _gN, _gK, _gLda, _gLdb, _gLdc, _gRowBlock, _gColBlock, _gColBlocks;
    T* _gA, _gB, _gC;
    Action<int, int>? _gemmBody;

    /// <summary>
    /// C[M, N] (+)= op(A) op(B) split into row x column blocks run in parallel; every block sums all of K in the
    /// same order, so the result is the same for any split.
    /// </summary>
    void ParallelGemm(bool transA, bool transB, int m, int n, int k, T* a, int lda, T* b, int ldb, T* c, int ldc, bool accumulate)
    {
        if (m <= 0 || n <= 0) return;
        _gTransA = transA; _gTransB = transB; _gAccumulate = accumulate;
        _gM = m; _gN = n; _gK = k; _gA = a; _gB = b; _gC = c; _gLda = lda; _gLdb = ldb; _gLdc = ldc;
        // Blocks big enough to amortise packing, small enough to give every worker several.
        _gRowBlock = 256;
        _gColBlock = 240;
        long flops = 2L * m * n * k;
        if (flops < 2_000_000) { _gRowBlock = m; _gColBlock = n; }
        int rowBlocks = (m + _gRowBlock - 1) / _gRowBlock;
        // A single utterance's GEMMs have few row blocks (N = its valid frames): split the columns finer so that each
        // worker gets at least two items (48-column multiples, the widest micro-tile; any split gives the same bits).
        if (flops >= 2_000_000 && rowBlocks * ((n + _gColBlock - 1) / _gColBlock) < 2 * Workers)
        {
            int perItem = (n + 2 * Workers / rowBlocks - 1) / Math.Max(1, 2 * Workers / rowBlocks);
            _gColBlock = Math.Min(_gColBlock, Math.Max(48, RoundUp(perItem, 48)));
        }
        _gColBlocks = (n + _gColBlock - 1) / _gColBlock;
        _gemmBody ??= GemmItem;
        _pool.Run(_gemmBody, rowBlocks * _gColBlocks);
    }

    void GemmItem(int item, int worker)
    {
        int i0 = item / _gColBlocks * _gRowBlock, j0 = item % _gColBlocks * _gColBlock;
        int mm = Math.Min(_gRowBlock, _gM - i0), nn = Math.Min(_gColBlock, _gN - j0);
        T* a = _gTransA ? _gA + i0 : _gA + (long)i0 * _gLda;
        T* b = _gTransB ? _gB + (long)j0 * _gLdb : _gB + j0;
        Gemm(_gTransA, _gTransB, mm, nn, _gK, a, _gLda, b, _gLdb, _gC + (long)i0 * _gLdc + j0, _gLdc, _gAccumulate,
            GemmScratch(worker));
    }

    public override void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _pool.Dispose();
        _gemmScratch.Dispose();
    }
}
