using System.Numerics;
using System.Runtime.Intrinsics;
using Ser.Engine.Tensors;

namespace Ser.Engine.Backends.Cpu;

// Bias gradient, ReLU, mask, dropout over maps [B, C, T, F] (valid frames t < lengths[b] only) or flat tensors.
// Parallel over (b, c) planes; each plane's valid part is the contiguous prefix lengths[b] * F.
internal sealed unsafe partial class CpuBackend<T>
{
    enum PlaneOp { Relu, ReluBackward, Mask, BiasBackward }

    PlaneOp _pOp;
    T* _pX, _pY; // the planes, and a second operand (dy for ReLU backward, [B, C] partials for the bias gradient)
    int _pC, _pT, _pF;
    Action<int, int>? _planeBody;

    void RunPlanes(PlaneOp op, TensorView x, T* y, ReadOnlySpan<int> lengths)
    {
        var s = x.Shape;
        _pOp = op; _pX = Ptr(x); _pY = y;
        _pC = s.D1; _pT = s.D2; _pF = s.D3;
        Park(lengths);
        _planeBody ??= PlaneItem;
        _pool.Run(_planeBody, s.D0 * s.D1);
    }

    void PlaneItem(int item, int worker)
    {
        int b = item / _pC, c = item % _pC;
        long plane = (long)_pT * _pF;
        int valid = _len[b] * _pF;
        T* x = _pX + item * plane;
        switch (_pOp)
        {
            case PlaneOp.Relu:
                ReluSpan(x, valid);
                break;
            case PlaneOp.ReluBackward:
                ReluBackwardSpan(x, _pY + item * plane, valid);
                break;
            case PlaneOp.Mask:
                new Span<T>(x + valid, (int)(plane - valid)).Clear();
                break;
            case PlaneOp.BiasBackward:
                // per-(b, c) partial, reduced over b in order afterwards
                _pY[item] = SumOf(x, valid);
                break;
        }
    }

    void ReluSpan(T* x, int n)
    {
        switch (_simd)
        {
            case SimdPath.Vector512: Simd<T>.Relu<V512<T>, Vector512<T>>(x, n); break;
            case SimdPath.Vector256: Simd<T>.Relu<V256<T>, Vector256<T>>(x, n); break;
            default: Simd<T>.Relu<V1<T>, T>(x, n); break;
        }
    }

    // dy *= (y > 0)
    void ReluBackwardSpan(T* y, T* dy, int n)
    {
        switch (_simd)
        {
            case SimdPath.Vector512: Simd<T>.ReluBackward<V512<T>, Vector512<T>>(y, dy, n); break;
            case SimdPath.Vector256: Simd<T>.ReluBackward<V256<T>, Vector256<T>>(y, dy, n); break;
            default: Simd<T>.ReluBackward<V1<T>, T>(y, dy, n); break;
        }
    }

    protected override void BiasBackwardCore(TensorView dy, TensorView dbias, ReadOnlySpan<int> lengths, TensorView workspace)
    {
        int batch = dy.Shape.D0, channels = dy.Shape.D1;
        if (workspace.Elements < (long)batch * channels) throw new ArgumentException("bias backward: workspace too small");
        T* partial = Ptr(workspace); // [B, C]
        RunPlanes(PlaneOp.BiasBackward, dy, partial, lengths);
        ReduceBias(partial, batch, channels, Ptr(dbias));
    }

    /// <summary>db[c] = sum over b, in order, of partial[b, c].</summary>
    static void ReduceBias(T* partial, int batch, int channels, T* db)
    {
        for (int c = 0; c < channels; c++)
        {
            T s = T.Zero;
            for (int b = 0; b < batch; b++) s += partial[b * channels + c];
            db[c] = s;
        }
    }

    // ---- the fused conv block's bias gradient ----------------------------------------------------------------------
    // The same per-(b, c) sums as BiasBackward over dy's valid frames, with dy's rows expanded from the pooled gradient
    // into a per-worker buffer and summed in pieces of whole 4-vector blocks (Simd.SumBlocks): the bits of Sum over the
    // plane's valid prefix, without the plane.

    const int BiasChunk = 4096; // elements summed per piece: a multiple of 4 vectors on every path

    RowSource _bRows;
    T* _bPartial, _bWork;
    int _bChannels;
    long _bStride;
    Action<int, int>? _pooledBiasBody;

    static long BiasBufferStride(int bins) => RoundUp((long)BiasChunk + bins, 16);

    long PooledBiasWorkspace(int channels, int maxBatch, int bins) =>
        RoundUp((long)channels * maxBatch, 16) + Workers * BiasBufferStride(bins);

    void PooledBiasBackward(in RowSource dy, int batch, int channels, T* dbias, ReadOnlySpan<int> lengths, TensorView workspace)
    {
        CheckWorkspace(workspace, PooledBiasWorkspace(channels, batch, dy.F), "conv block bias backward");
        _bRows = dy; _bChannels = channels; _bStride = BiasBufferStride(dy.F);
        _bPartial = Ptr(workspace); // [B, C]
        _bWork = _bPartial + RoundUp((long)channels * batch, 16);
        Park(lengths);
        _pooledBiasBody ??= PooledBiasItem;
        _pool.Run(_pooledBiasBody, batch * channels);
        ReduceBias(_bPartial, batch, channels, dbias);
    }

    void PooledBiasItem(int item, int worker)
    {
        int b = item / _bChannels, c = item % _bChannels;
        T* buffer = _bWork + worker * _bStride;
        _bPartial[item] = _simd switch
        {
            SimdPath.Vector512 => PooledPlaneSum<V512<T>, Vector512<T>>(b, c, _len[b], buffer),
            SimdPath.Vector256 => PooledPlaneSum<V256<T>, Vector256<T>>(b, c, _len[b], buffer),
            _ => PooledPlaneSum<V1<T>, T>(b, c, _len[b], buffer),
        };
    }

    T PooledPlaneSum<S, TV>(int b, int c, int valid, T* buffer) where S : struct, IVectorOps<T, TV> where TV : unmanaged
    {
        TV s0 = S.Zero, s1 = s0, s2 = s0, s3 = s0;
        int f = _bRows.F, have = 0;
        for (int t = 0; t < valid; t++)
        {
            _bRows.Read(b, c, t, buffer + have);
            have += f;
            if (have < BiasChunk) continue;
            int used = Simd<T>.SumBlocks<S, TV>(buffer, have, ref s0, ref s1, ref s2, ref s3);
            new Span<T>(buffer + used, have - used).CopyTo(new Span<T>(buffer, have - used)); // the rest (< 4 vectors) to the front
            have -= used;
        }
        return Simd<T>.SumFinish<S, TV>(buffer, have, s0, s1, s2, s3);
    }

    protected override void ReluForwardCore(TensorView x, ReadOnlySpan<int> lengths)
    {
        if (x.Shape.Rank == 4) RunPlanes(PlaneOp.Relu, x, null, lengths);
        else ReluSpan(Ptr(x), checked((int)x.Elements));
    }

    protected override void ReluBackwardCore(TensorView y, TensorView dy, ReadOnlySpan<int> lengths)
    {
        // planes are addressed through y; dy is the second operand
        if (y.Shape.Rank == 4) RunPlanes(PlaneOp.ReluBackward, y, Ptr(dy), lengths);
        else ReluBackwardSpan(Ptr(y), Ptr(dy), checked((int)y.Elements));
    }

    protected override void MaskCore(TensorView x, ReadOnlySpan<int> lengths) => RunPlanes(PlaneOp.Mask, x, null, lengths);

    // ---- dropout ---------------------------------------------------------------------------------------------------

    /// <summary>SplitMix64's finaliser: a counter-based hash, so the mask needs no RNG state and a GPU can reproduce it.</summary>
    internal static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Whether element i is kept: 24 random bits compared against p * 2^24.</summary>
    internal static bool DropoutKeeps(ulong seed, long i, double p) =>
        (Mix(seed + (ulong)i * 0x9E3779B97F4A7C15UL) >> 40) >= (ulong)(p * (1 << 24));

    protected override void DropoutForwardCore(TensorView x, TensorView y, TensorView mask, double p, ulong seed)
    {
        T* xs = Ptr(x), ys = Ptr(y), ms = Ptr(mask);
        T scale = Cast(1.0 / (1.0 - p));
        for (long i = 0; i < x.Elements; i++)
        {
            T m = DropoutKeeps(seed, i, p) ? scale : T.Zero;
            ms[i] = m;
            ys[i] = xs[i] * m;
        }
    }

    protected override void DropoutBackwardCore(TensorView dy, TensorView mask, TensorView dx)
    {
        T* d = Ptr(dy), m = Ptr(mask), o = Ptr(dx);
        for (long i = 0; i < dy.Elements; i++) o[i] = d[i] * m[i];
    }

    // ---- reductions and scaling (gradient clipping) ----------------------------------------------------------------

    const int ChunkElements = 1 << 16;
    double[] _partials = new double[64];
    T* _rX;
    long _rN;
    double _rFactor;
    Action<int, int>? _sumSquaresBody, _scaleBody;

    protected override double SumOfSquaresCore(TensorView t)
    {
        _rX = Ptr(t); _rN = t.Elements;
        int chunks = (int)((_rN + ChunkElements - 1) / ChunkElements);
        if (_partials.Length < chunks) _partials = new double[Math.Max(chunks, 2 * _partials.Length)];
        _sumSquaresBody ??= SumSquaresItem;
        _pool.Run(_sumSquaresBody, chunks);
        double s = 0;
        for (int i = 0; i < chunks; i++) s += _partials[i];
        return s;
    }

    void SumSquaresItem(int chunk, int worker)
    {
        long start = (long)chunk * ChunkElements;
        int n = (int)Math.Min(ChunkElements, _rN - start);
        T* x = _rX + start;
        _partials[chunk] = double.CreateTruncating(DotOf(x, x, n));
    }

    protected override void ScaleCore(TensorView t, double factor)
    {
        _rX = Ptr(t); _rN = t.Elements; _rFactor = factor;
        _scaleBody ??= ScaleItem;
        _pool.Run(_scaleBody, (int)((_rN + ChunkElements - 1) / ChunkElements));
    }

    void ScaleItem(int chunk, int worker)
    {
        long start = (long)chunk * ChunkElements;
        int n = (int)Math.Min(ChunkElements, _rN - start);
        var s = new Span<T>(_rX + start, n);
        System.Numerics.Tensors.TensorPrimitives.Multiply(s, Cast(_rFactor), s);
    }
}
