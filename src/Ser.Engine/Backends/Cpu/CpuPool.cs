using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Ser.Engine.Tensors;

namespace Ser.Engine.Backends.Cpu;

// Max pooling 2x2, stride 2, ceil mode, over valid frames only.
// x [B, C, T, F] with lengths V_b -> y [B, C, ceil(T/2), ceil(F/2)], valid output frames ceil(V_b/2); output frame t'
// is the max over input frames {2t', 2t'+1} ∩ [0, V_b) and bins {2f', 2f'+1} ∩ [0, F). Frames t' >= ceil(V_b/2) are 0.
// Backward routes each output's gradient to the window's FIRST maximum in (row, column) order - PyTorch's rule.
// Parallel over (b, c) planes. For float the bins are deinterleaved into even/odd columns and compared without branches
// (random data would mispredict every scalar compare): 32 at a time with AVX-512 (the Vector512 path), then 16 at a
// time with AVX2 (the Vector256 and Vector512 paths); the rest is scalar. Max and first-match selection are exact, so
// every path gives the same bits.
internal sealed unsafe partial class CpuBackend<T>
{
    T* _plX, _plY, _plDy, _plDx;
    int _plC, _plT, _plF;
    bool _plBackward;
    Action<int, int>? _poolBody;

    protected override void PoolForwardCore(TensorView x, TensorView y, ReadOnlySpan<int> lengths) =>
        RunPool(x, y, default, default, lengths, backward: false);

    protected override void PoolBackwardCore(TensorView x, TensorView y, TensorView dy, TensorView dx, ReadOnlySpan<int> lengths) =>
        RunPool(x, y, dy, dx, lengths, backward: true);

    void RunPool(TensorView x, TensorView y, TensorView dy, TensorView dx, ReadOnlySpan<int> lengths, bool backward)
    {
        _plX = Ptr(x); _plY = Ptr(y);
        _plDy = backward ? Ptr(dy) : null;
        _plDx = backward ? Ptr(dx) : null;
        _plC = x.Shape.D1; _plT = x.Shape.D2; _plF = x.Shape.D3; _plBackward = backward;
        Park(lengths);
        _poolBody ??= PoolItem;
        _pool.Run(_poolBody, x.Shape.D0 * _plC);
    }

    bool VectorPool => _simd != SimdPath.Scalar && typeof(T) == typeof(float) && Avx2.IsSupported;
    bool WidePool => _simd == SimdPath.Vector512 && typeof(T) == typeof(float) && Avx512F.IsSupported;

    /// <summary>Output columns of a row that go through the vector kernels: [0, Wide) 16 at a time (AVX-512), [Wide,
    /// Vector) 8 at a time (AVX2); the rest are scalar.</summary>
    readonly record struct PoolColumns(int Wide, int Vector);

    PoolColumns PoolVectorColumns(int f)
    {
        int wide = WidePool ? f / 32 * 16 : 0;
        return new PoolColumns(wide, VectorPool ? wide + (f - 2 * wide) / 16 * 8 : 0);
    }

    /// <summary>p + offset as float*, or null when p is null (a window's missing second row).</summary>
    static float* At(T* p, int offset) => p == null ? null : (float*)p + offset;

    void PoolItem(int item, int worker)
    {
        int b = item / _plC, t = _plT, f = _plF, to = (t + 1) / 2, fo = (f + 1) / 2;
        int valid = _len[b], validOut = (valid + 1) / 2;
        T* x = _plX + (long)item * t * f;
        T* y = _plY + (long)item * to * fo;
        var cols = PoolVectorColumns(f);
        if (!_plBackward)
        {
            for (int r = 0; r < validOut; r++)
            {
                T* x0 = x + (long)(2 * r) * f;
                PoolRow(x0, 2 * r + 1 < valid ? x0 + f : null, y + (long)r * fo, f, cols);
            }
            new Span<T>(y + (long)validOut * fo, (to - validOut) * fo).Clear();
            return;
        }

        T* dy = _plDy + (long)item * to * fo;
        T* dx = _plDx + (long)item * t * f;
        new Span<T>(dx + (long)valid * f, (t - valid) * f).Clear(); // padded frames; valid ones are all written below
        for (int r = 0; r < validOut; r++)
        {
            T* x0 = x + (long)(2 * r) * f;
            bool second = 2 * r + 1 < valid;
            T* x1 = second ? x0 + f : null;
            T* yr = y + (long)r * fo;
            T* dyr = dy + (long)r * fo;
            T* dx0 = dx + (long)(2 * r) * f;
            T* dx1 = second ? dx0 + f : null;
            int w = cols.Wide;
            if (w > 0) PoolRowBackward512((float*)x0, (float*)x1, (float*)yr, (float*)dyr, (float*)dx0, (float*)dx1, w);
            if (cols.Vector > w)
                PoolRowBackwardAvx(At(x0, 2 * w), At(x1, 2 * w), At(yr, w), At(dyr, w), At(dx0, 2 * w), At(dx1, 2 * w), cols.Vector - w);
            for (int c = cols.Vector; c < fo; c++)
            {
                int f0 = 2 * c;
                bool two = f0 + 1 < f;
                T m = yr[c], g = dyr[c];
                dx0[f0] = T.Zero;
                if (two) dx0[f0 + 1] = T.Zero;
                if (second)
                {
                    dx1[f0] = T.Zero;
                    if (two) dx1[f0 + 1] = T.Zero;
                }
                // the first element equal to the window max gets the gradient
                if (x0[f0] == m) dx0[f0] = g;
                else if (two && x0[f0 + 1] == m) dx0[f0 + 1] = g;
                else if (second && x1[f0] == m) dx1[f0] = g;
                else if (second && two && x1[f0 + 1] == m) dx1[f0 + 1] = g;
            }
        }
    }

    /// <summary>y[0..ceil(f/2)) = the 2x2 maxima of rows x0 and x1 (x1 null: the window has one row).</summary>
    static void PoolRow(T* x0, T* x1, T* y, int f, PoolColumns cols)
    {
        T* x1v = x1 != null ? x1 : x0; // one row: its max with itself
        int w = cols.Wide;
        if (w > 0) PoolRowForward512((float*)x0, (float*)x1v, (float*)y, w);
        if (cols.Vector > w) PoolRowForwardAvx(At(x0, 2 * w), At(x1v, 2 * w), At(y, w), cols.Vector - w);
        int fo = (f + 1) / 2;
        for (int c = cols.Vector; c < fo; c++)
        {
            int f0 = 2 * c;
            bool two = f0 + 1 < f;
            T m = x0[f0];
            if (two && x0[f0 + 1] > m) m = x0[f0 + 1];
            if (x1 != null)
            {
                if (x1[f0] > m) m = x1[f0];
                if (two && x1[f0 + 1] > m) m = x1[f0 + 1];
            }
            y[c] = m;
        }
    }

    // ---- the fused conv block's pool: codes instead of stored inputs ------------------------------------------------
    // code[c] = the position (0: row 0 column 0, 1: row 0 column 1, 2: row 1 column 0, 3: row 1 column 1) of the first
    // element of window c equal to y[c] (the order and equality test of the backward above), or PoolCodeNone when
    // y[c] <= 0: there the ReLU before the pool passes no gradient. The backward expands dy through the codes: each
    // conv-resolution gradient is dy at the coded position and +0 elsewhere, the bits relu, mask and pool backward give.

    const byte CodeNone = Backend<float>.PoolCodeNone;

    /// <summary>code[0..ceil(f/2)) of the windows over rows x0 and x1 (x1 null: one row) whose ReLU'd maxima are y.</summary>
    static void PoolCodes(T* x0, T* x1, T* y, byte* code, int f, PoolColumns cols)
    {
        int w = cols.Wide;
        if (w > 0) PoolCodes512((float*)x0, (float*)x1, (float*)y, code, w);
        if (cols.Vector > w) PoolCodesAvx(At(x0, 2 * w), At(x1, 2 * w), At(y, w), code + w, cols.Vector - w);
        int fo = (f + 1) / 2;
        for (int c = cols.Vector; c < fo; c++)
        {
            int f0 = 2 * c;
            bool two = f0 + 1 < f;
            T m = y[c];
            byte k = CodeNone;
            if (m > T.Zero)
                k = x0[f0] == m ? (byte)0 : two && x0[f0 + 1] == m ? (byte)1 : x1 != null && x1[f0] == m ? (byte)2 : (byte)3;
            code[c] = k;
        }
    }

    /// <summary>dst[0..f) = the gradient of conv-resolution row 2r + (want / 2) from pooled row r's gradient g and codes.</summary>
    static void ExpandRow(T* g, byte* code, int want, T* dst, int f, PoolColumns cols)
    {
        int w = cols.Wide;
        if (w > 0) ExpandRow512((float*)g, code, want, (float*)dst, w);
        if (cols.Vector > w) ExpandRowAvx(At(g, w), code + w, want, At(dst, 2 * w), cols.Vector - w);
        int fo = (f + 1) / 2;
        for (int c = cols.Vector; c < fo; c++)
        {
            int f0 = 2 * c, k = code[c];
            dst[f0] = k == want ? g[c] : T.Zero;
            if (f0 + 1 < f) dst[f0 + 1] = k == want + 1 ? g[c] : T.Zero;
        }
    }

    /// <summary>Codes of 8 windows at a time, branch-free: the count of positions before the first match.</summary>
    static void PoolCodesAvx(float* x0, float* x1, float* y, byte* code, int cols)
    {
        var none = Vector256.Create((int)CodeNone);
        for (int c = 0; c < cols; c += 8)
        {
            var m = Avx.LoadVector256(y + c);
            var (a, b) = Deinterleave(Avx.LoadVector256(x0 + 2 * c), Avx.LoadVector256(x0 + 2 * c + 8));
            // lanes are -1 where the element differs from the max: -(na + na&nb + na&nb&nc) = positions skipped
            var na = Avx.CompareNotEqual(a, m).AsInt32();
            var nab = Avx2.And(na, Avx.CompareNotEqual(b, m).AsInt32());
            var k = Avx2.Add(na, nab);
            if (x1 != null)
            {
                var (cc, _) = Deinterleave(Avx.LoadVector256(x1 + 2 * c), Avx.LoadVector256(x1 + 2 * c + 8));
                k = Avx2.Add(k, Avx2.And(nab, Avx.CompareNotEqual(cc, m).AsInt32()));
            }
            k = Avx2.Subtract(Vector256<int>.Zero, k);
            k = Vector256.ConditionalSelect(Avx.CompareGreaterThan(m, Vector256<float>.Zero).AsInt32(), k, none);
            var bytes = Vector256.Narrow(Vector256.Narrow(k, k).AsUInt16(), Vector256<ushort>.Zero); // lanes 0..7: the codes
            Unsafe.WriteUnaligned(code + c, bytes.AsUInt64().ToScalar());
        }
    }

    /// <summary>16 conv-resolution gradients from 8 pooled ones at a time: dy where the code is the position, else +0.</summary>
    static void ExpandRowAvx(float* g, byte* code, int want, float* dst, int cols)
    {
        var w0 = Vector256.Create(want);
        var w1 = Vector256.Create(want + 1);
        for (int c = 0; c < cols; c += 8)
        {
            var v = Avx.LoadVector256(g + c);
            var k = Avx2.ConvertToVector256Int32(code + c); // 8 bytes, zero-extended
            StoreInterleaved(Avx.And(v, Avx2.CompareEqual(k, w0).AsSingle()), Avx.And(v, Avx2.CompareEqual(k, w1).AsSingle()), dst + 2 * c);
        }
    }

    /// <summary>Even and odd elements of src[0..16): ([s0 s2 .. s14], [s1 s3 .. s15]).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static (Vector256<float> Even, Vector256<float> Odd) Deinterleave(Vector256<float> v0, Vector256<float> v1)
    {
        // shuffle within 128-bit lanes, then put the 64-bit chunks back in order [0, 2, 1, 3]
        var even = Avx2.Permute4x64(Avx.Shuffle(v0, v1, 0b10_00_10_00).AsDouble(), 0b11_01_10_00).AsSingle();
        var odd = Avx2.Permute4x64(Avx.Shuffle(v0, v1, 0b11_01_11_01).AsDouble(), 0b11_01_10_00).AsSingle();
        return (even, odd);
    }

    /// <summary>Stores [e0 o0 e1 o1 ... e7 o7] to dst[0..16).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void StoreInterleaved(Vector256<float> even, Vector256<float> odd, float* dst)
    {
        var lo = Avx.UnpackLow(even, odd);   // e0 o0 e1 o1 | e4 o4 e5 o5
        var hi = Avx.UnpackHigh(even, odd);  // e2 o2 e3 o3 | e6 o6 e7 o7
        Avx.Store(dst, Avx.Permute2x128(lo, hi, 0x20));
        Avx.Store(dst + 8, Avx.Permute2x128(lo, hi, 0x31));
    }

    static void PoolRowForwardAvx(float* x0, float* x1, float* y, int cols)
    {
        for (int c = 0; c < cols; c += 8)
        {
            var m0 = Avx.Max(Avx.LoadVector256(x0 + 2 * c), Avx.LoadVector256(x1 + 2 * c));
            var m1 = Avx.Max(Avx.LoadVector256(x0 + 2 * c + 8), Avx.LoadVector256(x1 + 2 * c + 8));
            var (even, odd) = Deinterleave(m0, m1);
            Avx.Store(y + c, Avx.Max(even, odd));
        }
    }

    /// <summary>Branch-free first-maximum routing for 8 windows at a time; x1/dx1 null when the window has one row.</summary>
    static void PoolRowBackwardAvx(float* x0, float* x1, float* y, float* dy, float* dx0, float* dx1, int cols)
    {
        for (int c = 0; c < cols; c += 8)
        {
            var m = Avx.LoadVector256(y + c);
            var g = Avx.LoadVector256(dy + c);
            var (a, b) = Deinterleave(Avx.LoadVector256(x0 + 2 * c), Avx.LoadVector256(x0 + 2 * c + 8));
            var ma = Avx.CompareEqual(a, m);
            var mb = Avx.AndNot(ma, Avx.CompareEqual(b, m));
            StoreInterleaved(Avx.And(g, ma), Avx.And(g, mb), dx0 + 2 * c);
            if (x1 == null) continue;
            var taken = Avx.Or(ma, mb);
            var (cc, d) = Deinterleave(Avx.LoadVector256(x1 + 2 * c), Avx.LoadVector256(x1 + 2 * c + 8));
            var mc = Avx.AndNot(taken, Avx.CompareEqual(cc, m));
            var md = Avx.AndNot(Avx.Or(taken, mc), Avx.CompareEqual(d, m));
            StoreInterleaved(Avx.And(g, mc), Avx.And(g, md), dx1 + 2 * c);
        }
    }

    // ---- the same kernels 16 windows at a time (AVX-512) --------------------------------------------------------------

    /// <summary>Even and odd elements of [v0 v1] (32 floats): two-source permutes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static (Vector512<float> Even, Vector512<float> Odd) Deinterleave(Vector512<float> v0, Vector512<float> v1)
    {
        var even = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        var odd = Vector512.Create(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
        return (Avx512F.PermuteVar16x32x2(v0, even, v1), Avx512F.PermuteVar16x32x2(v0, odd, v1));
    }

    /// <summary>Stores [e0 o0 e1 o1 ... e15 o15] to dst[0..32).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void StoreInterleaved(Vector512<float> even, Vector512<float> odd, float* dst)
    {
        var lo = Vector512.Create(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        var hi = Vector512.Create(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
        Avx512F.Store(dst, Avx512F.PermuteVar16x32x2(even, lo, odd));
        Avx512F.Store(dst + 16, Avx512F.PermuteVar16x32x2(even, hi, odd));
    }

    static void PoolRowForward512(float* x0, float* x1, float* y, int cols)
    {
        for (int c = 0; c < cols; c += 16)
        {
            var m0 = Avx512F.Max(Avx512F.LoadVector512(x0 + 2 * c), Avx512F.LoadVector512(x1 + 2 * c));
            var m1 = Avx512F.Max(Avx512F.LoadVector512(x0 + 2 * c + 16), Avx512F.LoadVector512(x1 + 2 * c + 16));
            var (even, odd) = Deinterleave(m0, m1);
            Avx512F.Store(y + c, Avx512F.Max(even, odd));
        }
    }

    /// <summary>Branch-free first-maximum routing for 16 windows at a time; x1/dx1 null when the window has one row.</summary>
    static void PoolRowBackward512(float* x0, float* x1, float* y, float* dy, float* dx0, float* dx1, int cols)
    {
        for (int c = 0; c < cols; c += 16)
        {
            var m = Avx512F.LoadVector512(y + c);
            var g = Avx512F.LoadVector512(dy + c);
            var (a, b) = Deinterleave(Avx512F.LoadVector512(x0 + 2 * c), Avx512F.LoadVector512(x0 + 2 * c + 16));
            var ma = Vector512.Equals(a, m);
            var mb = Vector512.AndNot(Vector512.Equals(b, m), ma);
            StoreInterleaved(g & ma, g & mb, dx0 + 2 * c);
            if (x1 == null) continue;
            var taken = ma | mb;
            var (cc, d) = Deinterleave(Avx512F.LoadVector512(x1 + 2 * c), Avx512F.LoadVector512(x1 + 2 * c + 16));
            var mc = Vector512.AndNot(Vector512.Equals(cc, m), taken);
            var md = Vector512.AndNot(Vector512.Equals(d, m), taken | mc);
            StoreInterleaved(g & mc, g & md, dx1 + 2 * c);
        }
    }

    static void PoolCodes512(float* x0, float* x1, float* y, byte* code, int cols)
    {
        var none = Vector512.Create((int)CodeNone);
        for (int c = 0; c < cols; c += 16)
        {
            var m = Avx512F.LoadVector512(y + c);
            var (a, b) = Deinterleave(Avx512F.LoadVector512(x0 + 2 * c), Avx512F.LoadVector512(x0 + 2 * c + 16));
            // lanes are -1 where the element differs from the max: -(na + na&nb + na&nb&nc) = positions skipped
            var na = (~Vector512.Equals(a, m)).AsInt32();
            var nab = na & (~Vector512.Equals(b, m)).AsInt32();
            var k = na + nab;
            if (x1 != null)
            {
                var (cc, _) = Deinterleave(Avx512F.LoadVector512(x1 + 2 * c), Avx512F.LoadVector512(x1 + 2 * c + 16));
                k += nab & (~Vector512.Equals(cc, m)).AsInt32();
            }
            k = Vector512.ConditionalSelect(Vector512.GreaterThan(m, Vector512<float>.Zero).AsInt32(), -k, none);
            Avx512F.ConvertToVector128Byte(k).Store(code + c); // the low byte of each lane
        }
    }

    static void ExpandRow512(float* g, byte* code, int want, float* dst, int cols)
    {
        var w0 = Vector512.Create(want);
        var w1 = Vector512.Create(want + 1);
        for (int c = 0; c < cols; c += 16)
        {
            var v = Avx512F.LoadVector512(g + c);
            var k = Avx512F.ConvertToVector512Int32(Vector128.Load(code + c)); // 16 bytes, zero-extended
            StoreInterleaved(v & Vector512.Equals(k, w0).AsSingle(), v & Vector512.Equals(k, w1).AsSingle(), dst + 2 * c);
        }
    }
}
