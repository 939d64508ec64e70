using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Ser.Engine.Tensors;

namespace Ser.Engine.Backends.Cpu;

// Convolution, "same" padding, stride 1, over maps [B, C, T, F] with per-sample valid lengths V_b.
// Direct convolution with an implicit im2col: for a tile of output rows, the input rows it needs are copied once into a
// zero-haloed "slab" [C, rows + KT - 1, Wp] (rows outside [0, V_b) and columns outside [0, F) are zeros, never read
// from the tensor), and a 4 (channels) x 24 (bins) register micro-kernel walks K = C*KT*KF reading the slab at shifted
// offsets. So no work is spent on padded frames, and no im2col matrix is built.
//   forward:         y  = conv(x, W)                                  pads (pT, pF)
//   backward data:   dx = conv(dy, W')  W'[ci,co,kt,kf] = W[co,ci,KT-1-kt,KF-1-kf]   pads (KT-1-pT, KF-1-pF)
//   backward filter: dW[co,ci,kt,kf] = sum_(b,t<V_b,f) dy[b,co,t,f] x[b,ci,t+kt-pT,f+kf-pF]
//                    per (sample, 64-row chunk) partials, reduced in a fixed order (deterministic).
internal sealed unsafe partial class CpuBackend<T>
{
    const int SlabBudget = 1 << 16;  // elements per worker slab: 256 KB of float, stays in L2
    const int MaxTileRows = 32;
    const int FilterChunkRows = 64;  // rows per backward-filter work item (one partial dW each)

    /// <summary>Tile sizes and slab geometry of one convolution; depends on the layer only, never on the batch.</summary>
    readonly struct ConvGeometry
    {
        public readonly int Cin, Cout, KT, KF, F, PadT, PadF, K, Wp, Fp, CoutPad, RowsFwd, RowsBwd, RowsFilter, ChunkRows;

        public ConvGeometry(in ConvDesc d)
        {
            int mr = CpuGemm<T>.MR, nr = CpuGemm<T>.NR, lanes = Vector256<T>.Count;
            Cin = d.InChannels; Cout = d.OutChannels; KT = d.KernelT; KF = d.KernelF; F = d.Bins;
            PadT = d.PadT; PadF = d.PadF; K = d.PatchSize;
            Fp = RoundUp(F, lanes);
            Wp = RoundUp(F, nr) + KF + 1; // room for the micro-kernels' widest shifted reads
            CoutPad = RoundUp(Cout, mr);
            RowsFwd = TileRows(Cin, Wp, KT, 0);
            RowsBwd = TileRows(Cout, Wp, KT, 0);
            RowsFilter = TileRows(Cin, Wp, KT, CoutPad * Fp);
            ChunkRows = Math.Max(1, FilterChunkRows / RowsFilter) * RowsFilter;
        }

        static int TileRows(int channels, int wp, int kt, int extraPerRow)
        {
            long fit = (SlabBudget - (long)channels * (kt - 1) * wp) / ((long)channels * wp + extraPerRow);
            return (int)Math.Clamp(fit, 1, MaxTileRows);
        }

        public long SlabFwd => (long)Cin * (RowsFwd + KT - 1) * Wp;
        public long SlabBwd => (long)Cout * (RowsBwd + KT - 1) * Wp;
        public long SlabFilter => (long)Cin * (RowsFilter + KT - 1) * Wp + (long)CoutPad * RowsFilter * Fp;
        public long PerWorker => RoundUp(Math.Max(SlabFwd, Math.Max(SlabBwd, SlabFilter)) + CpuGemm<T>.MR * CpuGemm<T>.NR, 16);
        // forward packs [CoutPad, Cin*KT*KF], backward data [CinPad, Cout*KT*KF]
        public long PackedWeights => RoundUp(Math.Max((long)CoutPad * Cin, (long)RoundUp(Cin, CpuGemm<T>.MR) * Cout) * KT * KF, 16);
    }

    static int RoundUp(int v, int m) => (v + m - 1) / m * m;
    static long RoundUp(long v, long m) => (v + m - 1) / m * m;

    protected override long ConvWorkspaceCore(in ConvDesc desc, int maxBatch, int maxFrames)
    {
        var g = new ConvGeometry(desc);
        long chunks = (long)maxBatch * ((maxFrames + g.ChunkRows - 1) / g.ChunkRows);
        return g.PackedWeights + Workers * g.PerWorker + chunks * g.Cout * g.K;
    }

    static void CheckWorkspace(TensorView workspace, long needed, string op)
    {
        if (workspace.IsEmpty || workspace.Elements < needed)
            throw new ArgumentException($"{op}: workspace has {(workspace.IsEmpty ? 0 : workspace.Elements)} elements, needs {needed}");
    }

    // ---- the direct-convolution pass shared by forward and backward-data -------------------------------------------

    T* _dSrc, _dDst, _dPacked, _dWork;
    int _dCs, _dCd, _dT, _dF, _dKT, _dKF, _dPadT, _dPadF, _dRows, _dWp, _dBatch;
    long _dPerWorker;
    int[] _tileStart = new int[65]; // [B + 1] prefix sums of work items per sample
    Action<int, int>? _directBody;

    void RunDirect(T* src, int srcChannels, T* dst, int dstChannels, int frames, in ConvGeometry g, T* packed, int padT, int padF,
        int rows, T* work, ReadOnlySpan<int> lengths)
    {
        _dSrc = src; _dDst = dst; _dPacked = packed; _dWork = work;
        _dCs = srcChannels; _dCd = dstChannels; _dT = frames; _dF = g.F; _dKT = g.KT; _dKF = g.KF;
        _dPadT = padT; _dPadF = padF; _dRows = rows; _dWp = g.Wp; _dPerWorker = g.PerWorker; _dBatch = lengths.Length;
        Park(lengths);
        int items = PrefixItems(lengths, rows);
        _directBody ??= DirectItem;
        _pool.Run(_directBody, items);
    }

    /// <summary>_tileStart[b] = first item of sample b, with ceil(V_b / rows) items per sample.</summary>
    int PrefixItems(ReadOnlySpan<int> lengths, int rows)
    {
        if (_tileStart.Length < lengths.Length + 1) _tileStart = new int[2 * lengths.Length + 1];
        int total = 0;
        for (int b = 0; b < lengths.Length; b++)
        {
            _tileStart[b] = total;
            total += (lengths[b] + rows - 1) / rows;
        }
        _tileStart[lengths.Length] = total;
        return total;
    }

    int SampleOfItem(int item, int batch)
    {
        int lo = 0, hi = batch - 1;
        while (lo < hi)
        {
            int mid = (lo + hi + 1) >> 1;
            if (_tileStart[mid] <= item) lo = mid; else hi = mid - 1;
        }
        return lo;
    }

    void DirectItem(int item, int worker)
    {
        int b = SampleOfItem(item, _dBatch);
        int valid = _len[b];
        int r0 = (item - _tileStart[b]) * _dRows, r1 = Math.Min(r0 + _dRows, valid);
        int cs = _dCs, cd = _dCd, kt = _dKT, kf = _dKF, wp = _dWp, f = _dF;
        int slabRows = r1 - r0 + kt - 1;
        long plane = (long)_dT * f;
        T* slab = _dWork + worker * _dPerWorker;
        T* tmp = slab + (long)cs * slabRows * wp;
        FillSlab(_dSrc + b * cs * plane, cs, plane, f, valid, r0 - _dPadT, slabRows, wp, _dPadF, slab);

        int mr = CpuGemm<T>.MR, nr = CpuGemm<T>.NR, k = cs * kt * kf;
        long channelStride = (long)slabRows * wp;
        T* dstB = _dDst + b * cd * plane;
        for (int t = r0; t < r1; t++)
        for (int cb = 0; cb < cd; cb += mr)
        {
            int rowsOut = Math.Min(mr, cd - cb);
            T* pa = _dPacked + (long)cb * k;
            for (int n = 0; n < f; n += nr)
            {
                T* src = slab + (long)(t - r0) * wp + n;
                T* c = dstB + cb * plane + (long)t * f + n;
                if (rowsOut == mr && n + nr <= f)
                {
                    DirectKernel(src, channelStride, wp, cs, kt, kf, pa, c, plane);
                }
                else
                {
                    DirectKernel(src, channelStride, wp, cs, kt, kf, pa, tmp, nr);
                    int cols = Math.Min(nr, f - n);
                    for (int r = 0; r < rowsOut; r++)
                        new Span<T>(tmp + r * nr, cols).CopyTo(new Span<T>(c + r * plane, cols));
                }
            }
        }
    }

    /// <summary>
    /// slab[c, r, :] = row (firstRow + r) of channel c placed at column colOffset, zeros around it; rows outside
    /// [0, valid) are all zeros (the halo), so padded frames are never read.
    /// </summary>
    static void FillSlab(T* src, int channels, long plane, int f, int valid, int firstRow, int rows, int wp, int colOffset, T* slab)
    {
        for (int c = 0; c < channels; c++)
        for (int r = 0; r < rows; r++)
        {
            T* dst = slab + ((long)c * rows + r) * wp;
            int ir = firstRow + r;
            if (ir < 0 || ir >= valid)
            {
                new Span<T>(dst, wp).Clear();
                continue;
            }
            new Span<T>(dst, colOffset).Clear();
            new Span<T>(src + c * plane + (long)ir * f, f).CopyTo(new Span<T>(dst + colOffset, f));
            new Span<T>(dst + colOffset + f, wp - colOffset - f).Clear();
        }
    }

    /// <summary>c[r, 0..NR) = sum over (ci, kt, kf) of pa[k][r] * src[ci][kt][kf + 0..NR), for r in 0..4.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void DirectKernel(T* src, long channelStride, int wp, int cs, int kt, int kf, T* pa, T* c, long ldc)
    {
        int L = Vector256<T>.Count;
        var c00 = Vector256<T>.Zero; var c01 = c00; var c02 = c00;
        var c10 = c00; var c11 = c00; var c12 = c00;
        var c20 = c00; var c21 = c00; var c22 = c00;
        var c30 = c00; var c31 = c00; var c32 = c00;
        for (int ci = 0; ci < cs; ci++)
        {
            T* rowC = src + ci * channelStride;
            for (int r = 0; r < kt; r++)
            {
                T* row = rowC + r * wp;
                for (int q = 0; q < kf; q++)
                {
                    var b0 = Vector256.Load(row + q);
                    var b1 = Vector256.Load(row + q + L);
                    var b2 = Vector256.Load(row + q + 2 * L);
                    var a = Vector256.Create(pa[0]);
                    c00 = Simd<T>.MulAdd(a, b0, c00); c01 = Simd<T>.MulAdd(a, b1, c01); c02 = Simd<T>.MulAdd(a, b2, c02);
                    a = Vector256.Create(pa[1]);
                    c10 = Simd<T>.MulAdd(a, b0, c10); c11 = Simd<T>.MulAdd(a, b1, c11); c12 = Simd<T>.MulAdd(a, b2, c12);
                    a = Vector256.Create(pa[2]);
                    c20 = Simd<T>.MulAdd(a, b0, c20); c21 = Simd<T>.MulAdd(a, b1, c21); c22 = Simd<T>.MulAdd(a, b2, c22);
                    a = Vector256.Create(pa[3]);
                    c30 = Simd<T>.MulAdd(a, b0, c30); c31 = Simd<T>.MulAdd(a, b1, c31); c32 = Simd<T>.MulAdd(a, b2, c32);
                    pa += 4;
                }
            }
        }
        Vector256.Store(c00, c); Vector256.Store(c01, c + L); Vector256.Store(c02, c + 2 * L);
        c += ldc;
        Vector256.Store(c10, c); Vector256.Store(c11, c + L); Vector256.Store(c12, c + 2 * L);
        c += ldc;
        Vector256.Store(c20, c); Vector256.Store(c21, c + L); Vector256.Store(c22, c + 2 * L);
        c += ldc;
        Vector256.Store(c30, c); Vector256.Store(c31, c + L); Vector256.Store(c32, c + 2 * L);
    }

    // ---- forward and backward data ---------------------------------------------------------------------------------

    protected override void ConvForwardCore(in ConvDesc desc, TensorView x, TensorView w, TensorView y, ReadOnlySpan<int> lengths, TensorView workspace)
    {
        var g = new ConvGeometry(desc);
        CheckWorkspace(workspace, g.PackedWeights + Workers * g.PerWorker, "conv forward");
        T* packed = Ptr(workspace);
        // packed[cb][k][r] = W[cb*4 + r, k], k = (ci, kt, kf): the micro-kernel's walking order
        T* wp = Ptr(w);
        int mr = CpuGemm<T>.MR;
        for (int cb = 0; cb < g.CoutPad; cb += mr)
        for (int k = 0; k < g.K; k++)
        for (int r = 0; r < mr; r++)
            packed[((long)cb * g.K) + k * mr + r] = cb + r < g.Cout ? wp[(long)(cb + r) * g.K + k] : T.Zero;
        RunDirect(Ptr(x), g.Cin, Ptr(y), g.Cout, x.Shape.D2, g, packed, g.PadT, g.PadF, g.RowsFwd, packed + g.PackedWeights, lengths);
        MaskCore(y, lengths);
    }

    protected override void ConvBackwardDataCore(in ConvDesc desc, TensorView dy, TensorView w, TensorView dx, ReadOnlySpan<int> lengths, TensorView workspace)
    {
        var g = new ConvGeometry(desc);
        CheckWorkspace(workspace, g.PackedWeights + Workers * g.PerWorker, "conv backward data");
        T* packed = Ptr(workspace);
        // W'[ci, co, kt', kf'] = W[co, ci, KT-1-kt', KF-1-kf'], packed in blocks of 4 input channels
        T* wp = Ptr(w);
        int mr = CpuGemm<T>.MR, kt = g.KT, kf = g.KF, cinPad = RoundUp(g.Cin, mr), k = g.Cout * kt * kf;
        for (int cb = 0; cb < cinPad; cb += mr)
        for (int co = 0; co < g.Cout; co++)
        for (int a = 0; a < kt; a++)
        for (int q = 0; q < kf; q++)
        {
            int kk = (co * kt + a) * kf + q;
            for (int r = 0; r < mr; r++)
            {
                int ci = cb + r;
                packed[(long)cb * k + kk * mr + r] = ci < g.Cin
                    ? wp[(((long)co * g.Cin + ci) * kt + (kt - 1 - a)) * kf + (kf - 1 - q)]
                    : T.Zero;
            }
        }
        RunDirect(Ptr(dy), g.Cout, Ptr(dx), g.Cin, dy.Shape.D2, g, packed, kt - 1 - g.PadT, kf - 1 - g.PadF, g.RowsBwd,
            packed + g.PackedWeights, lengths);
        MaskCore(dx, lengths);
    }

    // ---- backward filter -------------------------------------------------------------------------------------------

    T* _fX, _fDy, _fWork, _fPartials;
    int _fT, _fBatch;
    ConvGeometry _fG;
    Action<int, int>? _filterBody, _reduceBody;
    T* _rdDst;
    int _rdItems, _rdSize;

    protected override void ConvBackwardFilterCore(in ConvDesc desc, TensorView x, TensorView dy, TensorView dw, ReadOnlySpan<int> lengths, TensorView workspace)
    {
        var g = new ConvGeometry(desc);
        int items = PrefixItems(lengths, g.ChunkRows);
        long partialSize = (long)g.Cout * g.K;
        CheckWorkspace(workspace, g.PackedWeights + Workers * g.PerWorker + items * partialSize, "conv backward filter");
        _fG = g;
        _fX = Ptr(x); _fDy = Ptr(dy); _fT = x.Shape.D2; _fBatch = lengths.Length;
        _fWork = Ptr(workspace) + g.PackedWeights;
        _fPartials = _fWork + Workers * g.PerWorker;
        Park(lengths);
        _filterBody ??= FilterItem;
        _pool.Run(_filterBody, items);
        ReducePartials(_fPartials, items, checked((int)partialSize), Ptr(dw));
    }

    /// <summary>dst[e] = sum over items i (in order) of partials[i, e], parallel over blocks of e.</summary>
    void ReducePartials(T* partials, int items, int size, T* dst)
    {
        _fPartials = partials; _rdItems = items; _rdSize = size; _rdDst = dst;
        _reduceBody ??= ReduceItem;
        _pool.Run(_reduceBody, (size + 4095) / 4096);
    }

    void ReduceItem(int block, int worker)
    {
        int e0 = block * 4096, n = Math.Min(4096, _rdSize - e0);
        T* dst = _rdDst + e0;
        new Span<T>(dst, n).Clear();
        for (int i = 0; i < _rdItems; i++) Simd<T>.Add(_fPartials + (long)i * _rdSize + e0, dst, n);
    }

    void FilterItem(int item, int worker)
    {
        ref readonly var g = ref _fG;
        int b = SampleOfItem(item, _fBatch);
        int valid = _len[b];
        int c0 = (item - _tileStart[b]) * g.ChunkRows, c1 = Math.Min(c0 + g.ChunkRows, valid);
        long plane = (long)_fT * g.F;
        T* x = _fX + b * g.Cin * plane, dy = _fDy + b * g.Cout * plane;
        T* partial = _fPartials + (long)item * g.Cout * g.K;
        new Span<T>(partial, g.Cout * g.K).Clear();
        T* xs = _fWork + worker * g.PerWorker;
        int mr = CpuGemm<T>.MR, L = Vector256<T>.Count;
        for (int r0 = c0; r0 < c1; r0 += g.RowsFilter)
        {
            int rows = Math.Min(g.RowsFilter, c1 - r0), slabRows = rows + g.KT - 1;
            T* dys = xs + (long)g.Cin * slabRows * g.Wp; // [CoutPad, rows, Fp]
            FillSlab(x, g.Cin, plane, g.F, valid, r0 - g.PadT, slabRows, g.Wp, g.PadF, xs);
            long dyStride = (long)rows * g.Fp;
            for (int co = 0; co < g.CoutPad; co++)
            for (int r = 0; r < rows; r++)
            {
                T* d = dys + co * dyStride + (long)r * g.Fp;
                if (co < g.Cout)
                {
                    new Span<T>(dy + co * plane + (long)(r0 + r) * g.F, g.F).CopyTo(new Span<T>(d, g.F));
                    new Span<T>(d + g.F, g.Fp - g.F).Clear();
                }
                else new Span<T>(d, g.Fp).Clear();
            }
            for (int cb = 0; cb < g.Cout; cb += mr)
            for (int ci = 0; ci < g.Cin; ci++)
            for (int a = 0; a < g.KT; a++)
            for (int q = 0; q < g.KF; q += 3)
            {
                T* xrow = xs + ((long)ci * slabRows + a) * g.Wp + q;
                T* drow = dys + cb * dyStride;
                FilterKernel(xrow, g.Wp, drow, dyStride, g.Fp, rows, L,
                    out var s00, out var s01, out var s02, out var s10, out var s11, out var s12,
                    out var s20, out var s21, out var s22, out var s30, out var s31, out var s32);
                // partial[co, ci, a, q + j] += sums, skipping the padding rows/columns of the block
                int baseK = (ci * g.KT + a) * g.KF + q, cols = Math.Min(3, g.KF - q), outRows = Math.Min(mr, g.Cout - cb);
                Accumulate(partial + (long)cb * g.K + baseK, cols, s00, s01, s02);
                if (outRows > 1) Accumulate(partial + (long)(cb + 1) * g.K + baseK, cols, s10, s11, s12);
                if (outRows > 2) Accumulate(partial + (long)(cb + 2) * g.K + baseK, cols, s20, s21, s22);
                if (outRows > 3) Accumulate(partial + (long)(cb + 3) * g.K + baseK, cols, s30, s31, s32);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Accumulate(T* p, int cols, T s0, T s1, T s2)
    {
        p[0] += s0;
        if (cols > 1) p[1] += s1;
        if (cols > 2) p[2] += s2;
    }

    /// <summary>
    /// s[r][j] = sum over rows t and bins f of dy[r][t][f] * x[t + kt][f + q + j] for 4 output channels r and 3 kernel
    /// columns j: a 4 x 3 block of dW, accumulated in 12 vector registers, then summed across lanes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void FilterKernel(T* xrow, int wp, T* dy, long dyStride, int fp, int rows, int L,
        out T s00, out T s01, out T s02, out T s10, out T s11, out T s12,
        out T s20, out T s21, out T s22, out T s30, out T s31, out T s32)
    {
        var a00 = Vector256<T>.Zero; var a01 = a00; var a02 = a00;
        var a10 = a00; var a11 = a00; var a12 = a00;
        var a20 = a00; var a21 = a00; var a22 = a00;
        var a30 = a00; var a31 = a00; var a32 = a00;
        for (int t = 0; t < rows; t++)
        {
            T* xr = xrow + (long)t * wp;
            T* d0 = dy + (long)t * fp;
            T* d1 = d0 + dyStride; T* d2 = d1 + dyStride; T* d3 = d2 + dyStride;
            for (int c = 0; c < fp; c += L)
            {
                var x0 = Vector256.Load(xr + c);
                var x1 = Vector256.Load(xr + c + 1);
                var x2 = Vector256.Load(xr + c + 2);
                var d = Vector256.Load(d0 + c);
                a00 = Simd<T>.MulAdd(d, x0, a00); a01 = Simd<T>.MulAdd(d, x1, a01); a02 = Simd<T>.MulAdd(d, x2, a02);
                d = Vector256.Load(d1 + c);
                a10 = Simd<T>.MulAdd(d, x0, a10); a11 = Simd<T>.MulAdd(d, x1, a11); a12 = Simd<T>.MulAdd(d, x2, a12);
                d = Vector256.Load(d2 + c);
                a20 = Simd<T>.MulAdd(d, x0, a20); a21 = Simd<T>.MulAdd(d, x1, a21); a22 = Simd<T>.MulAdd(d, x2, a22);
                d = Vector256.Load(d3 + c);
                a30 = Simd<T>.MulAdd(d, x0, a30); a31 = Simd<T>.MulAdd(d, x1, a31); a32 = Simd<T>.MulAdd(d, x2, a32);
            }
        }
        s00 = Vector256.Sum(a00); s01 = Vector256.Sum(a01); s02 = Vector256.Sum(a02);
        s10 = Vector256.Sum(a10); s11 = Vector256.Sum(a11); s12 = Vector256.Sum(a12);
        s20 = Vector256.Sum(a20); s21 = Vector256.Sum(a21); s22 = Vector256.Sum(a22);
        s30 = Vector256.Sum(a30); s31 = Vector256.Sum(a31); s32 = Vector256.Sum(a32);
    }
}
