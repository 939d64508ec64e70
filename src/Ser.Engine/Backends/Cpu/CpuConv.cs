using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Ser.Engine.Tensors;

namespace Ser.Engine.Backends.Cpu;

// Convolution, "same" padding, stride 1, over maps [B, C, T, F] with per-sample valid lengths V_b.
// Direct convolution with an implicit im2col: for a tile of output rows, the input rows it needs are copied once into a
// zero-haloed "slab" [C, rows + KT - 1, Wp] (rows outside [0, V_b) and columns outside [0, F) are zeros, never read
// from the tensor), and a 4 (channels) x 3-vector (bins: 48 with Vector512, 24 with Vector256, 3 scalar) register
// micro-kernel walks K = C*KT*KF reading the slab at shifted offsets. The kernels are written once, generic over the
// vector width (IVectorOps); the Vector512 path has 32 registers, so its micro-kernel covers 8 channels (24
// accumulators: half the loads per FMA). A row's last <= 2 vectors of bins go through a one-vector kernel, so that
// a short tail (conv3's F = 100 is 2 x 48 + 4) does not cost a whole tile. No work is spent on padded frames, and
// no im2col matrix is built. Padded frames of y and dx are not written (the mask layer zeroes y's; dx's are never read).
//   forward:         y  = conv(x, W) + b  (b seeds the accumulators)  pads (pT, pF)
//   backward data:   dx = conv(dy, W')  W'[ci,co,kt,kf] = W[co,ci,KT-1-kt,KF-1-kf]   pads (KT-1-pT, KF-1-pF)
//   backward filter: dW[co,ci,kt,kf] = sum_(b,t<V_b,f) dy[b,co,t,f] x[b,ci,t+kt-pT,f+kf-pF]
//                    per (sample, 64-row chunk) partials, reduced in a fixed order (deterministic); kernel columns
//                    three at a time, a last single one through a one-column kernel.
// The fused block (training): conv -> relu -> mask -> pool without the conv-resolution maps. The forward computes a
// tile's output rows in pairs into a per-worker buffer [Cout, 2, F] and pools each pair at once (CpuPool's codes); the
// backward passes read dy rows through a RowSource that expands them from the pooled gradient and the codes while
// they pack their slabs. Every output, gradient and partial sum is the same arithmetic as the separate passes'.
internal sealed unsafe partial class CpuBackend<T>
{
    const int SlabBudget = 1 << 16;  // elements per worker slab: 256 KB of float, stays in L2
    const int MaxTileRows = 32;
    const int FilterChunkRows = 64;  // rows per backward-filter work item (one partial dW each)

    /// <summary>Tile sizes and slab geometry of one convolution; depends on the layer only, never on the batch.</summary>
    readonly struct ConvGeometry
    {
        public readonly int Lanes, Mr, Cin, Cout, KT, KF, F, PadT, PadF, K, Wp, Fp, CoutPad, RowsFwd, RowsBwd, RowsFilter, ChunkRows;
        /// <summary>Per-worker scratch, and where the fused forward's pair buffer [Cout, 2, F] starts in it.</summary>
        public readonly long PerWorker, PairOffset;

        /// <param name="lanes">The path's vector width in elements (Fp and Wp depend on it).</param>
        /// <param name="mr">Output channels per direct micro-tile (4 or 8; a multiple of the filter kernel's 4).</param>
        /// <param name="fused">The fused conv block: forward tiles hold whole pooling pairs, workers get a pair buffer.</param>
        public ConvGeometry(in ConvDesc d, int lanes, int mr, bool fused = false)
        {
            int nr = 3 * lanes;
            Lanes = lanes; Mr = mr;
            Cin = d.InChannels; Cout = d.OutChannels; KT = d.KernelT; KF = d.KernelF; F = d.Bins;
            PadT = d.PadT; PadF = d.PadF; K = d.PatchSize;
            Fp = RoundUp(F, lanes);
            Wp = RoundUp(F, nr) + KF + 1; // room for the micro-kernels' widest shifted reads
            CoutPad = RoundUp(Cout, mr);
            RowsFwd = TileRows(Cin, Wp, KT, 0);
            if (fused) RowsFwd = Math.Max(2, RowsFwd & ~1); // tiles start on even rows: a pooling pair never straddles two
            RowsBwd = TileRows(Cout, Wp, KT, 0);
            RowsFilter = TileRows(Cin, Wp, KT, CoutPad * Fp);
            ChunkRows = Math.Max(1, FilterChunkRows / RowsFilter) * RowsFilter;
            PairOffset = RoundUp(Math.Max(SlabFwd, Math.Max(SlabBwd, SlabFilter)) + Mr * 3 * Lanes, 16);
            PerWorker = fused ? PairOffset + RoundUp(2L * Cout * F, 16) : PairOffset;
        }

        static int TileRows(int channels, int wp, int kt, int extraPerRow)
        {
            long fit = (SlabBudget - (long)channels * (kt - 1) * wp) / ((long)channels * wp + extraPerRow);
            return (int)Math.Clamp(fit, 1, MaxTileRows);
        }

        public long SlabFwd => (long)Cin * (RowsFwd + KT - 1) * Wp;
        public long SlabBwd => (long)Cout * (RowsBwd + KT - 1) * Wp;
        public long SlabFilter => RoundUp((long)Cin * (RowsFilter + KT - 1) * Wp, 16) + (long)CoutPad * RowsFilter * Fp;
        public long PackedBias => RoundUp(CoutPad, 16);
        public long Packed => PackedWeights + PackedBias;
        // forward packs [CoutPad, Cin*KT*KF], backward data [CinPad, Cout*KT*KF] (pads: multiples of Mr)
        public long PackedWeights => RoundUp(Math.Max((long)CoutPad * Cin, (long)RoundUp(Cin, Mr) * Cout) * KT * KF, 16);
    }

    /// <summary>Output channels per direct-convolution micro-tile: 8 where there are 32 vector registers (AVX-512).</summary>
    int DirectRows => _simd == SimdPath.Vector512 ? 8 : 4;

    int Lanes => _simd switch { SimdPath.Vector512 => Vector512<T>.Count, SimdPath.Vector256 => Vector256<T>.Count, _ => 1 };

    static int RoundUp(int v, int m) => (v + m - 1) / m * m;
    static long RoundUp(long v, long m) => (v + m - 1) / m * m;

    protected override long ConvWorkspaceCore(in ConvDesc desc, int maxBatch, int maxFrames, long maxRows) =>
        ConvWorkspace(new ConvGeometry(desc, Lanes, DirectRows), maxBatch, maxFrames, maxRows);

    long ConvWorkspace(in ConvGeometry g, int maxBatch, int maxFrames, long maxRows)
    {
        // sum_b ceil(V_b / chunk) <= min(B ceil(T / chunk), (sum_b V_b + B (chunk - 1)) / chunk)
        long chunks = Math.Min((long)maxBatch * ((maxFrames + g.ChunkRows - 1) / g.ChunkRows),
                               (maxRows + (long)maxBatch * (g.ChunkRows - 1)) / g.ChunkRows);
        return g.Packed + Workers * g.PerWorker + chunks * g.Cout * g.K;
    }

    public override bool FusesConvBlocks => true;

    protected override long ConvBlockWorkspaceCore(in ConvDesc desc, int maxBatch, int maxFrames, long maxRows) =>
        Math.Max(ConvWorkspace(new ConvGeometry(desc, Lanes, DirectRows, fused: true), maxBatch, maxFrames, maxRows),
                 PooledBiasWorkspace(desc.OutChannels, maxBatch, desc.Bins));

    static void CheckWorkspace(TensorView workspace, long needed, string op)
    {
        if (workspace.IsEmpty || workspace.Elements < needed)
            throw new ArgumentException($"{op}: workspace has {(workspace.IsEmpty ? 0 : workspace.Elements)} elements, needs {needed}");
    }

    // ---- where a pass reads its input rows ----------------------------------------------------------------------------

    /// <summary>
    /// Rows of a conv-resolution map [B, C, T, F]: read from the tensor, or (the fused block's backward) expanded from
    /// the pooled gradient [B, C, ceil(T/2), ceil(F/2)] and the pool's codes, so that the map never exists in memory.
    /// </summary>
    readonly struct RowSource
    {
        readonly T* _x;        // the map, or the pooled gradient
        readonly byte* _codes; // null: a plain map
        readonly int _c, _t;
        readonly PoolColumns _cols;
        public readonly int F;

        RowSource(T* x, byte* codes, int channels, int frames, int bins, PoolColumns cols)
        {
            _x = x; _codes = codes; _c = channels; _t = frames; F = bins; _cols = cols;
        }

        public static RowSource Plain(T* x, int channels, int frames, int bins) => new(x, null, channels, frames, bins, default);

        /// <param name="cols">The backend's <see cref="PoolVectorColumns"/> of the map's bins.</param>
        public static RowSource Pooled(T* g, byte* codes, int channels, int frames, int bins, PoolColumns cols) =>
            new(g, codes, channels, frames, bins, cols);

        /// <summary>dst[0..F) = row t of channel ch of sample b.</summary>
        public void Read(int b, int ch, int t, T* dst)
        {
            if (_codes == null)
            {
                new Span<T>(_x + (((long)b * _c + ch) * _t + t) * F, F).CopyTo(new Span<T>(dst, F));
                return;
            }
            long at = (((long)b * _c + ch) * ((_t + 1) / 2) + (t >> 1)) * ((F + 1) / 2);
            ExpandRow(_x + at, _codes + at, (t & 1) * 2, dst, F, _cols);
        }
    }

    // ---- the direct-convolution pass shared by forward and backward-data -------------------------------------------

    RowSource _dSrc;
    T* _dDst, _dPacked, _dBias, _dWork, _dPooled;
    byte* _dCodes;
    int _dMr, _dCs, _dCd, _dT, _dF, _dKT, _dKF, _dPadT, _dPadF, _dRows, _dWp, _dBatch;
    long _dPerWorker, _dPairOffset;
    int[] _tileStart = new int[65]; // [B + 1] prefix sums of work items per sample
    Action<int, int>? _directBody;

    /// <param name="pooled">Null: write the convolution to dst. Else (the fused forward) pool it into pooled
    /// [B, Cd, ceil(T/2), ceil(F/2)] with its codes instead (the bias must be given: ReLU follows it).</param>
    void RunDirect(in RowSource src, int srcChannels, T* dst, int dstChannels, int frames, in ConvGeometry g, T* packed, T* bias, int padT,
        int padF, int rows, T* work, ReadOnlySpan<int> lengths, T* pooled = null, byte* codes = null)
    {
        _dSrc = src; _dDst = dst; _dPacked = packed; _dBias = bias; _dWork = work; _dPooled = pooled; _dCodes = codes;
        _dMr = g.Mr; _dCs = srcChannels; _dCd = dstChannels; _dT = frames; _dF = g.F; _dKT = g.KT; _dKF = g.KF;
        _dPadT = padT; _dPadF = padF; _dRows = rows; _dWp = g.Wp; _dPerWorker = g.PerWorker; _dPairOffset = g.PairOffset;
        _dBatch = lengths.Length;
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
        switch (_simd)
        {
            case SimdPath.Vector512: DirectItem<V512<T>, Vector512<T>>(item, worker); break;
            case SimdPath.Vector256: DirectItem<V256<T>, Vector256<T>>(item, worker); break;
            default: DirectItem<V1<T>, T>(item, worker); break;
        }
    }

    void DirectItem<S, TV>(int item, int worker) where S : struct, IVectorOps<T, TV> where TV : unmanaged
    {
        int b = SampleOfItem(item, _dBatch);
        int valid = _len[b];
        int r0 = (item - _tileStart[b]) * _dRows, r1 = Math.Min(r0 + _dRows, valid);
        int cs = _dCs, cd = _dCd, kt = _dKT, kf = _dKF, wp = _dWp, f = _dF;
        int slabRows = r1 - r0 + kt - 1;
        long plane = (long)_dT * f;
        T* slab = _dWork + worker * _dPerWorker;
        T* tmp = slab + (long)cs * slabRows * wp;
        FillSlab(_dSrc, b, cs, valid, r0 - _dPadT, slabRows, wp, _dPadF, slab);
        long channelStride = (long)slabRows * wp;
        if (_dPooled != null)
        {
            PoolPairs<S, TV>(b, r0, r1, valid, slab, channelStride, _dWork + worker * _dPerWorker + _dPairOffset, tmp);
            return;
        }
        var shape = new DirectShape(channelStride, wp, cs, kt, kf, plane);
        T* dstB = _dDst + b * cd * plane;
        for (int t = r0; t < r1; t++) DirectRow<S, TV>(shape, slab + (long)(t - r0) * wp, dstB + (long)t * f, tmp);
    }

    /// <summary>One output row of every channel: c[co * Plane + 0..F) for co in [0, Cd), from the slab row src.</summary>
    void DirectRow<S, TV>(in DirectShape shape, T* src, T* c, T* tmp) where S : struct, IVectorOps<T, TV> where TV : unmanaged
    {
        int mr = _dMr, cd = _dCd, f = _dF, lanes = S.Lanes, nr = 3 * lanes, k = shape.Cs * shape.KT * shape.KF;
        for (int cb = 0; cb < cd; cb += mr)
        {
            int rowsOut = Math.Min(mr, cd - cb);
            T* pa = _dPacked + (long)cb * k;
            T* bias = _dBias != null ? _dBias + cb : null;
            T* cc = c + cb * shape.Plane;
            int n = 0;
            for (; n + nr <= f; n += nr) DirectTile<S, TV>(shape, src + n, pa, bias, cc + n, mr, rowsOut, nr, tmp);
            if (f - n > 2 * lanes) DirectTile<S, TV>(shape, src + n, pa, bias, cc + n, mr, rowsOut, f - n, tmp);
            else for (; n < f; n += lanes) DirectTile<S, TV>(shape, src + n, pa, bias, cc + n, mr, rowsOut, Math.Min(lanes, f - n), tmp, narrow: true);
        }
    }

    /// <summary>
    /// The fused forward's tile: output rows [r0, r1) of sample b (r0 even) two at a time into pair [Cd, 2, F], each
    /// pair pooled straight away: pooled rows (max, then ReLU: the same bits as ReLU then max), their codes, and
    /// zeros in the pooled frames past the sample's end (by its last tile).
    /// </summary>
    void PoolPairs<S, TV>(int b, int r0, int r1, int valid, T* slab, long channelStride, T* pair, T* tmp)
        where S : struct, IVectorOps<T, TV> where TV : unmanaged
    {
        int cd = _dCd, f = _dF, fo = (f + 1) / 2, to = (_dT + 1) / 2;
        var cols = PoolVectorColumns(f);
        var shape = new DirectShape(channelStride, _dWp, _dCs, _dKT, _dKF, plane: 2L * f);
        long pooledPlane = (long)to * fo;
        T* pooled = _dPooled + b * cd * pooledPlane;
        byte* codes = _dCodes + b * cd * pooledPlane;
        for (int t = r0; t < r1; t += 2)
        {
            bool second = t + 1 < r1; // r1 <= valid, and tiles hold whole pairs: the window's second row is valid
            DirectRow<S, TV>(shape, slab + (long)(t - r0) * _dWp, pair, tmp);
            if (second) DirectRow<S, TV>(shape, slab + (long)(t + 1 - r0) * _dWp, pair + f, tmp);
            long at = (long)(t >> 1) * fo;
            for (int co = 0; co < cd; co++)
            {
                T* x0 = pair + (long)co * 2 * f;
                T* x1 = second ? x0 + f : null;
                T* y = pooled + co * pooledPlane + at;
                PoolRow(x0, x1, y, f, cols);
                ReluSpan(y, fo);
                PoolCodes(x0, x1, y, codes + co * pooledPlane + at, f, cols);
            }
        }
        if (r1 < valid) return;
        int validOut = (valid + 1) / 2;
        for (int co = 0; co < cd; co++)
            new Span<T>(pooled + co * pooledPlane + (long)validOut * fo, (to - validOut) * fo).Clear();
    }

    /// <summary>The slab and output strides one direct-convolution pass reads and writes with.</summary>
    readonly struct DirectShape(long channelStride, int wp, int cs, int kt, int kf, long plane)
    {
        public readonly long ChannelStride = channelStride, Plane = plane;
        public readonly int Wp = wp, Cs = cs, KT = kt, KF = kf;
    }

    /// <summary>Output rows [0, rowsOut) x columns [0, cols) of one mr-row micro-tile, 3 vectors wide, or one vector wide
    /// when <paramref name="narrow"/> (a row's last bins: such a tail costs about a third of a full tile, the broadcasts
    /// bound it, and every output is the same sum in the same order): straight into c when it is a full tile, else
    /// through tmp [mr, width].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void DirectTile<S, TV>(in DirectShape d, T* src, T* pa, T* bias, T* c, int mr, int rowsOut, int cols, T* tmp, bool narrow = false)
        where S : struct, IVectorOps<T, TV> where TV : unmanaged
    {
        int width = narrow ? S.Lanes : 3 * S.Lanes;
        bool full = rowsOut == mr && cols == width;
        T* dst = full ? c : tmp;
        long ld = full ? d.Plane : width;
        if (narrow)
        {
            if (mr == 8) DirectKernel8x1<S, TV>(src, d.ChannelStride, d.Wp, d.Cs, d.KT, d.KF, pa, bias, dst, ld);
            else DirectKernel4x1<S, TV>(src, d.ChannelStride, d.Wp, d.Cs, d.KT, d.KF, pa, bias, dst, ld);
        }
        else if (mr == 8) DirectKernel8<S, TV>(src, d.ChannelStride, d.Wp, d.Cs, d.KT, d.KF, pa, bias, dst, ld);
        else DirectKernel<S, TV>(src, d.ChannelStride, d.Wp, d.Cs, d.KT, d.KF, pa, bias, dst, ld);
        if (full) return;
        for (int r = 0; r < rowsOut; r++)
            new Span<T>(tmp + r * width, cols).CopyTo(new Span<T>(c + r * d.Plane, cols));
    }

    /// <summary>
    /// slab[c, r, :] = row (firstRow + r) of channel c of sample b placed at column colOffset, zeros around it; rows
    /// outside [0, valid) are all zeros (the halo), so padded frames are never read.
    /// </summary>
    static void FillSlab(in RowSource src, int b, int channels, int valid, int firstRow, int rows, int wp, int colOffset, T* slab)
    {
        int f = src.F;
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
            src.Read(b, c, ir, dst + colOffset);
            new Span<T>(dst + colOffset + f, wp - colOffset - f).Clear();
        }
    }

    /// <summary>
    /// c[r, 0..NR) = bias[r] + sum over (ci, kt, kf) of pa[k][r] * src[ci][kt][kf + 0..NR), for r in 0..4
    /// (the bias seeds the accumulators, so adding it costs nothing).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void DirectKernel<S, TV>(T* src, long channelStride, int wp, int cs, int kt, int kf, T* pa, T* bias, T* c, long ldc)
        where S : struct, IVectorOps<T, TV> where TV : unmanaged
    {
        int L = S.Lanes;
        TV c00 = bias != null ? S.Splat(bias[0]) : S.Zero, c01 = c00, c02 = c00;
        TV c10 = bias != null ? S.Splat(bias[1]) : S.Zero, c11 = c10, c12 = c10;
        TV c20 = bias != null ? S.Splat(bias[2]) : S.Zero, c21 = c20, c22 = c20;
        TV c30 = bias != null ? S.Splat(bias[3]) : S.Zero, c31 = c30, c32 = c30;
        for (int ci = 0; ci < cs; ci++)
        {
            T* rowC = src + ci * channelStride;
            for (int r = 0; r < kt; r++)
            {
                T* row = rowC + r * wp;
                for (int q = 0; q < kf; q++)
                {
                    TV b0 = S.Load(row + q), b1 = S.Load(row + q + L), b2 = S.Load(row + q + 2 * L);
                    var a = S.Splat(pa[0]);
                    c00 = S.MulAdd(a, b0, c00); c01 = S.MulAdd(a, b1, c01); c02 = S.MulAdd(a, b2, c02);
                    a = S.Splat(pa[1]);
                    c10 = S.MulAdd(a, b0, c10); c11 = S.MulAdd(a, b1, c11); c12 = S.MulAdd(a, b2, c12);
                    a = S.Splat(pa[2]);
                    c20 = S.MulAdd(a, b0, c20); c21 = S.MulAdd(a, b1, c21); c22 = S.MulAdd(a, b2, c22);
                    a = S.Splat(pa[3]);
                    c30 = S.MulAdd(a, b0, c30); c31 = S.MulAdd(a, b1, c31); c32 = S.MulAdd(a, b2, c32);
                    pa += 4;
                }
            }
        }
        CpuGemm<T>.Store<S, TV>(c, c00, c01, c02, accumulate: false);
        CpuGemm<T>.Store<S, TV>(c + ldc, c10, c11, c12, accumulate: false);
        CpuGemm<T>.Store<S, TV>(c + 2 * ldc, c20, c21, c22, accumulate: false);
        CpuGemm<T>.Store<S, TV>(c + 3 * ldc, c30, c31, c32, accumulate: false);
    }

    /// <summary>
    /// The 8-channel micro-kernel: c[r, 0..NR) = bias[r] + sum over (ci, kt, kf) of pa[k][r] * src[ci][kt][kf + 0..NR)
    /// for r in 0..8; 24 accumulators + 3 slab vectors + 1 broadcast fit AVX-512's 32 registers.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void DirectKernel8<S, TV>(T* src, long channelStride, int wp, int cs, int kt, int kf, T* pa, T* bias, T* c, long ldc)
        where S : struct, IVectorOps<T, TV> where TV : unmanaged
    {
        int L = S.Lanes;
        TV c00 = bias != null ? S.Splat(bias[0]) : S.Zero, c01 = c00, c02 = c00;
        TV c10 = bias != null ? S.Splat(bias[1]) : S.Zero, c11 = c10, c12 = c10;
        TV c20 = bias != null ? S.Splat(bias[2]) : S.Zero, c21 = c20, c22 = c20;
        TV c30 = bias != null ? S.Splat(bias[3]) : S.Zero, c31 = c30, c32 = c30;
        TV c40 = bias != null ? S.Splat(bias[4]) : S.Zero, c41 = c40, c42 = c40;
        TV c50 = bias != null ? S.Splat(bias[5]) : S.Zero, c51 = c50, c52 = c50;
        TV c60 = bias != null ? S.Splat(bias[6]) : S.Zero, c61 = c60, c62 = c60;
        TV c70 = bias != null ? S.Splat(bias[7]) : S.Zero, c71 = c70, c72 = c70;
        for (int ci = 0; ci < cs; ci++)
        {
            T* rowC = src + ci * channelStride;
            for (int r = 0; r < kt; r++)
            {
                T* row = rowC + r * wp;
                for (int q = 0; q < kf; q++)
                {
                    TV b0 = S.Load(row + q), b1 = S.Load(row + q + L), b2 = S.Load(row + q + 2 * L);
                    var a = S.Splat(pa[0]);
                    c00 = S.MulAdd(a, b0, c00); c01 = S.MulAdd(a, b1, c01); c02 = S.MulAdd(a, b2, c02);
                    a = S.Splat(pa[1]);
                    c10 = S.MulAdd(a, b0, c10); c11 = S.MulAdd(a, b1, c11); c12 = S.MulAdd(a, b2, c12);
                    a = S.Splat(pa[2]);
                    c20 = S.MulAdd(a, b0, c20); c21 = S.MulAdd(a, b1, c21); c22 = S.MulAdd(a, b2, c22);
                    a = S.Splat(pa[3]);
                    c30 = S.MulAdd(a, b0, c30); c31 = S.MulAdd(a, b1, c31); c32 = S.MulAdd(a, b2, c32);
                    a = S.Splat(pa[4]);
                    c40 = S.MulAdd(a, b0, c40); c41 = S.MulAdd(a, b1, c41); c42 = S.MulAdd(a, b2, c42);
                    a = S.Splat(pa[5]);
                    c50 = S.MulAdd(a, b0, c50); c51 = S.MulAdd(a, b1, c51); c52 = S.MulAdd(a, b2, c52);
                    a = S.Splat(pa[6]);
                    c60 = S.MulAdd(a, b0, c60); c61 = S.MulAdd(a, b1, c61); c62 = S.MulAdd(a, b2, c62);
                    a = S.Splat(pa[7]);
                    c70 = S.MulAdd(a, b0, c70); c71 = S.MulAdd(a, b1, c71); c72 = S.MulAdd(a, b2, c72);
                    pa += 8;
                }
            }
        }
        CpuGemm<T>.Store<S, TV>(c, c00, c01, c02, accumulate: false);
        CpuGemm<T>.Store<S, TV>(c + ldc, c10, c11, c12, accumulate: false);
        CpuGemm<T>.Store<S, TV>(c + 2 * ldc, c20, c21, c22, accumulate: false);
        CpuGemm<T>.Store<S, TV>(c + 3 * ldc, c30, c31, c32, accumulate: false);
        CpuGemm<T>.Store<S, TV>(c + 4 * ldc, c40, c41, c42, accumulate: false);
        CpuGemm<T>.Store<S, TV>(c + 5 * ldc, c50, c51, c52, accumulate: false);
        CpuGemm<T>.Store<S, TV>(c + 6 * ldc, c60, c61, c62, accumulate: false);
        CpuGemm<T>.Store<S, TV>(c + 7 * ldc, c70, c71, c72, accumulate: false);
    }

    /// <summary>c[r, 0..L) = bias[r] + sum over (ci, kt, kf) of pa[k][r] * src[ci][kt][kf + 0..L), for r in 0..4.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void DirectKernel4x1<S, TV>(T* src, long channelStride, int wp, int cs, int kt, int kf, T* pa, T* bias, T* c, long ldc)
        where S : struct, IVectorOps<T, TV> where TV : unmanaged
    {
        TV c0 = bias != null ? S.Splat(bias[0]) : S.Zero, c1 = bias != null ? S.Splat(bias[1]) : S.Zero;
        TV c2 = bias != null ? S.Splat(bias[2]) : S.Zero, c3 = bias != null ? S.Splat(bias[3]) : S.Zero;
        for (int ci = 0; ci < cs; ci++)
        for (int r = 0; r < kt; r++)
        {
            T* row = src + ci * channelStride + r * wp;
            for (int q = 0; q < kf; q++)
            {
                TV b = S.Load(row + q);
                c0 = S.MulAdd(S.Splat(pa[0]), b, c0); c1 = S.MulAdd(S.Splat(pa[1]), b, c1);
                c2 = S.MulAdd(S.Splat(pa[2]), b, c2); c3 = S.MulAdd(S.Splat(pa[3]), b, c3);
                pa += 4;
            }
        }
        S.Store(c0, c); S.Store(c1, c + ldc); S.Store(c2, c + 2 * ldc); S.Store(c3, c + 3 * ldc);
    }

    /// <summary>The same for 8 output channels.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void DirectKernel8x1<S, TV>(T* src, long channelStride, int wp, int cs, int kt, int kf, T* pa, T* bias, T* c, long ldc)
        where S : struct, IVectorOps<T, TV> where TV : unmanaged
    {
        TV c0 = bias != null ? S.Splat(bias[0]) : S.Zero, c1 = bias != null ? S.Splat(bias[1]) : S.Zero;
        TV c2 = bias != null ? S.Splat(bias[2]) : S.Zero, c3 = bias != null ? S.Splat(bias[3]) : S.Zero;
        TV c4 = bias != null ? S.Splat(bias[4]) : S.Zero, c5 = bias != null ? S.Splat(bias[5]) : S.Zero;
        TV c6 = bias != null ? S.Splat(bias[6]) : S.Zero, c7 = bias != null ? S.Splat(bias[7]) : S.Zero;
        for (int ci = 0; ci < cs; ci++)
        for (int r = 0; r < kt; r++)
        {
            T* row = src + ci * channelStride + r * wp;
            for (int q = 0; q < kf; q++)
            {
                TV b = S.Load(row + q);
                c0 = S.MulAdd(S.Splat(pa[0]), b, c0); c1 = S.MulAdd(S.Splat(pa[1]), b, c1);
                c2 = S.MulAdd(S.Splat(pa[2]), b, c2); c3 = S.MulAdd(S.Splat(pa[3]), b, c3);
                c4 = S.MulAdd(S.Splat(pa[4]), b, c4); c5 = S.MulAdd(S.Splat(pa[5]), b, c5);
                c6 = S.MulAdd(S.Splat(pa[6]), b, c6); c7 = S.MulAdd(S.Splat(pa[7]), b, c7);
                pa += 8;
            }
        }
        S.Store(c0, c); S.Store(c1, c + ldc); S.Store(c2, c + 2 * ldc); S.Store(c3, c + 3 * ldc);
        S.Store(c4, c + 4 * ldc); S.Store(c5, c + 5 * ldc); S.Store(c6, c + 6 * ldc); S.Store(c7, c + 7 * ldc);
    }

    // ---- forward and backward data ---------------------------------------------------------------------------------

    protected override void ConvForwardCore(in ConvDesc desc, TensorView x, TensorView w, TensorView bias, TensorView y,
        ReadOnlySpan<int> lengths, TensorView workspace)
    {
        var g = new ConvGeometry(desc, Lanes, DirectRows);
        CheckWorkspace(workspace, g.Packed + Workers * g.PerWorker, "conv forward");
        T* packed = PackForward(g, w, bias, workspace, out var packedBias);
        RunDirect(RowSource.Plain(Ptr(x), g.Cin, x.Shape.D2, g.F), g.Cin, Ptr(y), g.Cout, x.Shape.D2, g, packed, packedBias, g.PadT,
            g.PadF, g.RowsFwd, packed + g.Packed, lengths);
    }

    protected override void ConvBlockForwardCore(in ConvDesc desc, TensorView x, TensorView w, TensorView bias, TensorView pooled,
        TensorView codes, ReadOnlySpan<int> lengths, TensorView workspace)
    {
        var g = new ConvGeometry(desc, Lanes, DirectRows, fused: true);
        CheckWorkspace(workspace, g.Packed + Workers * g.PerWorker, "conv block forward");
        T* packed = PackForward(g, w, bias, workspace, out var packedBias);
        RunDirect(RowSource.Plain(Ptr(x), g.Cin, x.Shape.D2, g.F), g.Cin, null, g.Cout, x.Shape.D2, g, packed, packedBias, g.PadT,
            g.PadF, g.RowsFwd, packed + g.Packed, lengths, Ptr(pooled), (byte*)Ptr(codes));
    }

    /// <summary>The forward's weights (and bias, if any) packed at the start of the workspace; returns the weights.</summary>
    static T* PackForward(in ConvGeometry g, TensorView w, TensorView bias, TensorView workspace, out T* packedBias)
    {
        T* packed = Ptr(workspace);
        // packed[cb][k][r] = W[cb*mr + r, k], k = (ci, kt, kf): the micro-kernel's walking order
        T* wp = Ptr(w);
        int mr = g.Mr;
        for (int cb = 0; cb < g.CoutPad; cb += mr)
        for (int k = 0; k < g.K; k++)
        for (int r = 0; r < mr; r++)
            packed[((long)cb * g.K) + k * mr + r] = cb + r < g.Cout ? wp[(long)(cb + r) * g.K + k] : T.Zero;
        packedBias = null;
        if (!bias.IsEmpty)
        {
            packedBias = packed + g.PackedWeights; // [CoutPad], zeros past Cout
            new Span<T>(packedBias, g.CoutPad).Clear();
            new Span<T>(Ptr(bias), g.Cout).CopyTo(new Span<T>(packedBias, g.Cout));
        }
        return packed;
    }

    protected override void ConvBackwardDataCore(in ConvDesc desc, TensorView dy, TensorView w, TensorView dx, ReadOnlySpan<int> lengths, TensorView workspace)
    {
        var g = new ConvGeometry(desc, Lanes, DirectRows);
        BackwardData(g, RowSource.Plain(Ptr(dy), g.Cout, dy.Shape.D2, g.F), w, dx, lengths, workspace);
    }

    /// <summary>dx from dy rows read through <paramref name="dy"/> (the tensor, or the fused block's expansion).</summary>
    void BackwardData(in ConvGeometry g, in RowSource dy, TensorView w, TensorView dx, ReadOnlySpan<int> lengths, TensorView workspace)
    {
        CheckWorkspace(workspace, g.Packed + Workers * g.PerWorker, "conv backward data");
        T* packed = Ptr(workspace);
        // W'[ci, co, kt', kf'] = W[co, ci, KT-1-kt', KF-1-kf'], packed in blocks of mr input channels
        T* wp = Ptr(w);
        int mr = g.Mr, kt = g.KT, kf = g.KF, cinPad = RoundUp(g.Cin, mr), k = g.Cout * kt * kf;
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
        RunDirect(dy, g.Cout, Ptr(dx), g.Cin, dx.Shape.D2, g, packed, null, kt - 1 - g.PadT, kf - 1 - g.PadF, g.RowsBwd,
            packed + g.Packed, lengths);
    }

    /// <summary>
    /// The fused block's backward: dy at conv resolution is never stored; every pass expands the rows it packs from the
    /// pooled gradient and the codes (RowSource.Pooled), in the order and with the arithmetic of the separate passes.
    /// </summary>
    protected override void ConvBlockBackwardCore(in ConvDesc desc, TensorView x, TensorView w, TensorView dPooled, TensorView codes,
        TensorView dw, TensorView dbias, TensorView dx, ReadOnlySpan<int> lengths, TensorView workspace)
    {
        var g = new ConvGeometry(desc, Lanes, DirectRows, fused: true);
        int frames = x.Shape.D2;
        var dy = RowSource.Pooled(Ptr(dPooled), (byte*)Ptr(codes), g.Cout, frames, g.F, PoolVectorColumns(g.F));
        PooledBiasBackward(dy, x.Shape.D0, g.Cout, Ptr(dbias), lengths, workspace);
        BackwardFilter(g, x, dy, dw, lengths, workspace);
        if (!dx.IsEmpty) BackwardData(g, dy, w, dx, lengths, workspace);
    }

    // ---- backward filter -------------------------------------------------------------------------------------------

    RowSource _fX, _fDy;
    T* _fWork, _fPartials;
    int _fBatch;
    ConvGeometry _fG;
    Action<int, int>? _filterBody, _reduceBody;
    T* _rdDst;
    int _rdItems, _rdSize;

    protected override void ConvBackwardFilterCore(in ConvDesc desc, TensorView x, TensorView dy, TensorView dw, ReadOnlySpan<int> lengths, TensorView workspace)
    {
        var g = new ConvGeometry(desc, Lanes, DirectRows);
        BackwardFilter(g, x, RowSource.Plain(Ptr(dy), g.Cout, dy.Shape.D2, g.F), dw, lengths, workspace);
    }

    /// <summary>dW from x and dy rows read through <paramref name="dy"/> (the tensor, or the fused block's expansion).</summary>
    void BackwardFilter(in ConvGeometry g, TensorView x, in RowSource dy, TensorView dw, ReadOnlySpan<int> lengths, TensorView workspace)
    {
        int items = PrefixItems(lengths, g.ChunkRows);
        long partialSize = (long)g.Cout * g.K;
        CheckWorkspace(workspace, g.Packed + Workers * g.PerWorker + items * partialSize, "conv backward filter");
        _fG = g;
        _fX = RowSource.Plain(Ptr(x), g.Cin, x.Shape.D2, g.F); _fDy = dy; _fBatch = lengths.Length;
        _fWork = Ptr(workspace) + g.Packed;
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
        for (int i = 0; i < _rdItems; i++) AddTo(_fPartials + (long)i * _rdSize + e0, dst, n);
    }

    void FilterItem(int item, int worker)
    {
        switch (_simd)
        {
            case SimdPath.Vector512: FilterItem<V512<T>, Vector512<T>>(item, worker); break;
            case SimdPath.Vector256: FilterItem<V256<T>, Vector256<T>>(item, worker); break;
            default: FilterItem<V1<T>, T>(item, worker); break;
        }
    }

    void FilterItem<S, TV>(int item, int worker) where S : struct, IVectorOps<T, TV> where TV : unmanaged
    {
        ref readonly var g = ref _fG;
        int b = SampleOfItem(item, _fBatch);
        int valid = _len[b];
        int c0 = (item - _tileStart[b]) * g.ChunkRows, c1 = Math.Min(c0 + g.ChunkRows, valid);
        T* partial = _fPartials + (long)item * g.Cout * g.K;
        new Span<T>(partial, g.Cout * g.K).Clear();
        T* xs = _fWork + worker * g.PerWorker;
        int mr = g.Mr;
        T* sums = stackalloc T[8 * 3]; // [mr, 3] one block of dW
        for (int r0 = c0; r0 < c1; r0 += g.RowsFilter)
        {
            int rows = Math.Min(g.RowsFilter, c1 - r0), slabRows = rows + g.KT - 1;
            // [CoutPad, rows, Fp], on a 64-byte boundary: Fp is a whole number of vectors, so every dy load is aligned
            // (the kernels load 8 dy vectors per 3 x vectors; conv1's 1 x 19 x 449 slab used to leave them split)
            T* dys = xs + RoundUp((long)g.Cin * slabRows * g.Wp, 16);
            FillSlab(_fX, b, g.Cin, valid, r0 - g.PadT, slabRows, g.Wp, g.PadF, xs);
            long dyStride = (long)rows * g.Fp;
            for (int co = 0; co < g.CoutPad; co++)
            for (int r = 0; r < rows; r++)
            {
                T* d = dys + co * dyStride + (long)r * g.Fp;
                if (co < g.Cout)
                {
                    _fDy.Read(b, co, r0 + r, d);
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
                int cols = Math.Min(3, g.KF - q);
                // a last single kernel column (KF = 16, 7: one in every 3 or 6 columns) through the one-column kernels:
                // the same sums, without two thirds of the work being thrown away
                if (cols == 1 && mr == 8) FilterKernel8x1<S, TV>(xrow, g.Wp, drow, dyStride, g.Fp, rows, sums);
                else if (cols == 1) FilterKernel4x1<S, TV>(xrow, g.Wp, drow, dyStride, g.Fp, rows, sums);
                else if (mr == 8) FilterKernel8<S, TV>(xrow, g.Wp, drow, dyStride, g.Fp, rows, sums);
                else FilterKernel<S, TV>(xrow, g.Wp, drow, dyStride, g.Fp, rows, sums);
                // partial[co, ci, a, q + j] += sums, skipping the padding rows/columns of the block
                int baseK = (ci * g.KT + a) * g.KF + q, outRows = Math.Min(mr, g.Cout - cb);
                for (int r = 0; r < outRows; r++)
                {
                    T* p = partial + (long)(cb + r) * g.K + baseK;
                    for (int j = 0; j < cols; j++) p[j] += sums[r * 3 + j];
                }
            }
        }
    }

    /// <summary>
    /// s[r][j] = sum over rows t and bins f of dy[r][t][f] * x[t + kt][f + q + j] for 4 output channels r and 3 kernel
    /// columns j: a 4 x 3 block of dW, accumulated in 12 vector registers, then summed across lanes. s: [4, 3].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void FilterKernel<S, TV>(T* xrow, int wp, T* dy, long dyStride, int fp, int rows, T* s)
        where S : struct, IVectorOps<T, TV> where TV : unmanaged
    {
        int L = S.Lanes;
        TV a00 = S.Zero, a01 = a00, a02 = a00, a10 = a00, a11 = a00, a12 = a00;
        TV a20 = a00, a21 = a00, a22 = a00, a30 = a00, a31 = a00, a32 = a00;
        for (int t = 0; t < rows; t++)
        {
            T* xr = xrow + (long)t * wp;
            T* d0 = dy + (long)t * fp;
            T* d1 = d0 + dyStride; T* d2 = d1 + dyStride; T* d3 = d2 + dyStride;
            for (int c = 0; c < fp; c += L)
            {
                TV x0 = S.Load(xr + c), x1 = S.Load(xr + c + 1), x2 = S.Load(xr + c + 2);
                var d = S.Load(d0 + c);
                a00 = S.MulAdd(d, x0, a00); a01 = S.MulAdd(d, x1, a01); a02 = S.MulAdd(d, x2, a02);
                d = S.Load(d1 + c);
                a10 = S.MulAdd(d, x0, a10); a11 = S.MulAdd(d, x1, a11); a12 = S.MulAdd(d, x2, a12);
                d = S.Load(d2 + c);
                a20 = S.MulAdd(d, x0, a20); a21 = S.MulAdd(d, x1, a21); a22 = S.MulAdd(d, x2, a22);
                d = S.Load(d3 + c);
                a30 = S.MulAdd(d, x0, a30); a31 = S.MulAdd(d, x1, a31); a32 = S.MulAdd(d, x2, a32);
            }
        }
        s[0] = S.Sum(a00); s[1] = S.Sum(a01); s[2] = S.Sum(a02);
        s[3] = S.Sum(a10); s[4] = S.Sum(a11); s[5] = S.Sum(a12);
        s[6] = S.Sum(a20); s[7] = S.Sum(a21); s[8] = S.Sum(a22);
        s[9] = S.Sum(a30); s[10] = S.Sum(a31); s[11] = S.Sum(a32);
    }

    /// <summary>The same for 8 output channels (24 accumulators: AVX-512's 32 registers). s: [8, 3].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void FilterKernel8<S, TV>(T* xrow, int wp, T* dy, long dyStride, int fp, int rows, T* s)
        where S : struct, IVectorOps<T, TV> where TV : unmanaged
    {
        int L = S.Lanes;
        TV a00 = S.Zero, a01 = a00, a02 = a00, a10 = a00, a11 = a00, a12 = a00;
        TV a20 = a00, a21 = a00, a22 = a00, a30 = a00, a31 = a00, a32 = a00;
        TV a40 = a00, a41 = a00, a42 = a00, a50 = a00, a51 = a00, a52 = a00;
        TV a60 = a00, a61 = a00, a62 = a00, a70 = a00, a71 = a00, a72 = a00;
        for (int t = 0; t < rows; t++)
        {
            T* xr = xrow + (long)t * wp;
            T* d0 = dy + (long)t * fp;
            for (int c = 0; c < fp; c += L)
            {
                TV x0 = S.Load(xr + c), x1 = S.Load(xr + c + 1), x2 = S.Load(xr + c + 2);
                T* dc = d0 + c;
                var d = S.Load(dc);
                a00 = S.MulAdd(d, x0, a00); a01 = S.MulAdd(d, x1, a01); a02 = S.MulAdd(d, x2, a02);
                d = S.Load(dc + dyStride);
                a10 = S.MulAdd(d, x0, a10); a11 = S.MulAdd(d, x1, a11); a12 = S.MulAdd(d, x2, a12);
                d = S.Load(dc + 2 * dyStride);
                a20 = S.MulAdd(d, x0, a20); a21 = S.MulAdd(d, x1, a21); a22 = S.MulAdd(d, x2, a22);
                d = S.Load(dc + 3 * dyStride);
                a30 = S.MulAdd(d, x0, a30); a31 = S.MulAdd(d, x1, a31); a32 = S.MulAdd(d, x2, a32);
                d = S.Load(dc + 4 * dyStride);
                a40 = S.MulAdd(d, x0, a40); a41 = S.MulAdd(d, x1, a41); a42 = S.MulAdd(d, x2, a42);
                d = S.Load(dc + 5 * dyStride);
                a50 = S.MulAdd(d, x0, a50); a51 = S.MulAdd(d, x1, a51); a52 = S.MulAdd(d, x2, a52);
                d = S.Load(dc + 6 * dyStride);
                a60 = S.MulAdd(d, x0, a60); a61 = S.MulAdd(d, x1, a61); a62 = S.MulAdd(d, x2, a62);
                d = S.Load(dc + 7 * dyStride);
                a70 = S.MulAdd(d, x0, a70); a71 = S.MulAdd(d, x1, a71); a72 = S.MulAdd(d, x2, a72);
            }
        }
        s[0] = S.Sum(a00); s[1] = S.Sum(a01); s[2] = S.Sum(a02);
        s[3] = S.Sum(a10); s[4] = S.Sum(a11); s[5] = S.Sum(a12);
        s[6] = S.Sum(a20); s[7] = S.Sum(a21); s[8] = S.Sum(a22);
        s[9] = S.Sum(a30); s[10] = S.Sum(a31); s[11] = S.Sum(a32);
        s[12] = S.Sum(a40); s[13] = S.Sum(a41); s[14] = S.Sum(a42);
        s[15] = S.Sum(a50); s[16] = S.Sum(a51); s[17] = S.Sum(a52);
        s[18] = S.Sum(a60); s[19] = S.Sum(a61); s[20] = S.Sum(a62);
        s[21] = S.Sum(a70); s[22] = S.Sum(a71); s[23] = S.Sum(a72);
    }

    /// <summary>The one-column form of <see cref="FilterKernel{S,TV}"/>: s[r * 3] = sum over rows t and bins f of
    /// dy[r][t][f] * x[t + kt][f + q] for 4 output channels r (the same sums as its column 0, in the same order).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void FilterKernel4x1<S, TV>(T* xrow, int wp, T* dy, long dyStride, int fp, int rows, T* s)
        where S : struct, IVectorOps<T, TV> where TV : unmanaged
    {
        int L = S.Lanes;
        TV a0 = S.Zero, a1 = a0, a2 = a0, a3 = a0;
        for (int t = 0; t < rows; t++)
        {
            T* xr = xrow + (long)t * wp;
            T* dc = dy + (long)t * fp;
            for (int c = 0; c < fp; c += L, dc += L)
            {
                TV x = S.Load(xr + c);
                a0 = S.MulAdd(S.Load(dc), x, a0); a1 = S.MulAdd(S.Load(dc + dyStride), x, a1);
                a2 = S.MulAdd(S.Load(dc + 2 * dyStride), x, a2); a3 = S.MulAdd(S.Load(dc + 3 * dyStride), x, a3);
            }
        }
        s[0] = S.Sum(a0); s[3] = S.Sum(a1); s[6] = S.Sum(a2); s[9] = S.Sum(a3);
    }

    /// <summary>The same for 8 output channels. s: [8, 3], column 0 written.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void FilterKernel8x1<S, TV>(T* xrow, int wp, T* dy, long dyStride, int fp, int rows, T* s)
        where S : struct, IVectorOps<T, TV> where TV : unmanaged
    {
        int L = S.Lanes;
        TV a0 = S.Zero, a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        for (int t = 0; t < rows; t++)
        {
            T* xr = xrow + (long)t * wp;
            T* dc = dy + (long)t * fp;
            for (int c = 0; c < fp; c += L, dc += L)
            {
                TV x = S.Load(xr + c);
                a0 = S.MulAdd(S.Load(dc), x, a0); a1 = S.MulAdd(S.Load(dc + dyStride), x, a1);
                a2 = S.MulAdd(S.Load(dc + 2 * dyStride), x, a2); a3 = S.MulAdd(S.Load(dc + 3 * dyStride), x, a3);
                a4 = S.MulAdd(S.Load(dc + 4 * dyStride), x, a4); a5 = S.MulAdd(S.Load(dc + 5 * dyStride), x, a5);
                a6 = S.MulAdd(S.Load(dc + 6 * dyStride), x, a6); a7 = S.MulAdd(S.Load(dc + 7 * dyStride), x, a7);
            }
        }
        s[0] = S.Sum(a0); s[3] = S.Sum(a1); s[6] = S.Sum(a2); s[9] = S.Sum(a3);
        s[12] = S.Sum(a4); s[15] = S.Sum(a5); s[18] = S.Sum(a6); s[21] = S.Sum(a7);
    }
}
