using System.Numerics;
using System.Runtime.CompilerServices;

namespace Ser.Engine.Backends.Cpu;

/// <summary>
/// Blocked, packed GEMM (Goto style): C[M, N] = op(A)[M, K] * op(B)[K, N] (+ C when accumulating), row-major.
/// One thread; callers parallelise over independent output blocks (<see cref="CpuBackend{T}"/>.ParallelGemm).
/// Each C element sums K in KC-sized blocks in ascending order, the same however M and N are split, so results do
/// not depend on the partition (and hence not on the worker count).
/// Micro-kernel: MR = 4 rows x NR = 3 vectors in 12 accumulators, generic over the vector width S (48 floats with
/// Vector512, 24 with Vector256, 3 scalars). NC is a multiple of every NR.
/// </summary>
internal static unsafe class CpuGemm<T> where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    public const int MR = 4;
    const int KC = 256;
    const int MC = 64;   // multiple of MR
    const int NC = 480;  // multiple of NR: 48, 24, 12, 3

    /// <summary>Scratch elements one <see cref="Gemm"/> call needs: packed A, packed B, an edge tile (widest NR).</summary>
    public static long ScratchElements => (long)MC * KC + (long)KC * NC + MR * 3 * 16 + 64;

    public static void Gemm<S, TV>(bool transA, bool transB, int m, int n, int k,
        T* a, int lda, T* b, int ldb, T* c, int ldc, bool accumulate, T* scratch) where S : struct, IVectorOps<T, TV> where TV : unmanaged
    {
        if (m <= 0 || n <= 0) return;
        if (k <= 0)
        {
            if (!accumulate)
                for (int i = 0; i < m; i++) new Span<T>(c + (long)i * ldc, n).Clear();
            return;
        }
        int nr = 3 * S.Lanes;
        T* packA = scratch;
        T* packB = packA + MC * KC;
        T* tile = packB + KC * NC;
        for (int jc = 0; jc < n; jc += NC)
        {
            int nc = Math.Min(NC, n - jc);
            for (int pc = 0; pc < k; pc += KC)
            {
                int kc = Math.Min(KC, k - pc);
                PackB(transB, b, ldb, pc, jc, kc, nc, nr, packB);
                bool acc = accumulate || pc > 0;
                for (int ic = 0; ic < m; ic += MC)
                {
                    int mc = Math.Min(MC, m - ic);
                    PackA(transA, a, lda, ic, pc, mc, kc, packA);
                    for (int jr = 0; jr < nc; jr += nr)
                    {
                        int nn = Math.Min(nr, nc - jr);
                        T* pb = packB + (long)jr * kc;
                        for (int ir = 0; ir < mc; ir += MR)
                        {
                            int mm = Math.Min(MR, mc - ir);
                            T* pa = packA + (long)ir * kc;
                            T* cp = c + (long)(ic + ir) * ldc + jc + jr;
                            if (mm == MR && nn == nr)
                            {
                                Kernel<S, TV>(kc, pa, pb, cp, ldc, acc);
                            }
                            else
                            {
                                Kernel<S, TV>(kc, pa, pb, tile, nr, false);
                                for (int r = 0; r < mm; r++)
                                for (int j = 0; j < nn; j++)
                                    cp[(long)r * ldc + j] = acc ? cp[(long)r * ldc + j] + tile[r * nr + j] : tile[r * nr + j];
                            }
                        }
                    }
                }
            }
        }
    }

    // packA[strip][kk][r] = A(ic + strip*MR + r, pc + kk), zero past the last row.
    static void PackA(bool transA, T* a, int lda, int ic, int pc, int mc, int kc, T* packA)
    {
        for (int ir = 0; ir < mc; ir += MR)
        {
            int mm = Math.Min(MR, mc - ir);
            T* dst = packA + (long)ir * kc;
            if (transA)
            {
                // A(i, k) = a[k * lda + i]: the MR values of one kk are contiguous.
                for (int kk = 0; kk < kc; kk++)
                {
                    T* src = a + (long)(pc + kk) * lda + ic + ir;
                    for (int r = 0; r < mm; r++) dst[kk * MR + r] = src[r];
                    for (int r = mm; r < MR; r++) dst[kk * MR + r] = T.Zero;
                }
            }
            else
            {
                for (int r = 0; r < MR; r++)
                {
                    if (r < mm)
                    {
                        T* src = a + (long)(ic + ir + r) * lda + pc;
                        for (int kk = 0; kk < kc; kk++) dst[kk * MR + r] = src[kk];
                    }
                    else
                    {
                        for (int kk = 0; kk < kc; kk++) dst[kk * MR + r] = T.Zero;
                    }
                }
            }
        }
    }

    // packB[strip][kk][j] = B(pc + kk, jc + strip*NR + j), zero past the last column.
    static void PackB(bool transB, T* b, int ldb, int pc, int jc, int kc, int nc, int nr, T* packB)
    {
        for (int jr = 0; jr < nc; jr += nr)
        {
            int nn = Math.Min(nr, nc - jr);
            T* dst = packB + (long)jr * kc;
            if (!transB)
            {
                for (int kk = 0; kk < kc; kk++)
                {
                    T* src = b + (long)(pc + kk) * ldb + jc + jr;
                    T* d = dst + kk * nr;
                    new Span<T>(src, nn).CopyTo(new Span<T>(d, nn));
                    if (nn < nr) new Span<T>(d + nn, nr - nn).Clear();
                }
            }
            else
            {
                // B(k, j) = b[j * ldb + k]
                for (int j = 0; j < nr; j++)
                {
                    if (j < nn)
                    {
                        T* src = b + (long)(jc + jr + j) * ldb + pc;
                        for (int kk = 0; kk < kc; kk++) dst[kk * nr + j] = src[kk];
                    }
                    else
                    {
                        for (int kk = 0; kk < kc; kk++) dst[kk * nr + j] = T.Zero;
                    }
                }
            }
        }
    }

    /// <summary>C[4, NR] (+)= packedA[kc][4] * packedB[kc][NR].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Kernel<S, TV>(int kc, T* pa, T* pb, T* c, int ldc, bool accumulate) where S : struct, IVectorOps<T, TV> where TV : unmanaged
    {
        int L = S.Lanes, nr = 3 * L;
        TV c00 = S.Zero, c01 = c00, c02 = c00, c10 = c00, c11 = c00, c12 = c00;
        TV c20 = c00, c21 = c00, c22 = c00, c30 = c00, c31 = c00, c32 = c00;
        for (int kk = 0; kk < kc; kk++)
        {
            TV b0 = S.Load(pb), b1 = S.Load(pb + L), b2 = S.Load(pb + 2 * L);
            var a = S.Splat(pa[0]);
            c00 = S.MulAdd(a, b0, c00); c01 = S.MulAdd(a, b1, c01); c02 = S.MulAdd(a, b2, c02);
            a = S.Splat(pa[1]);
            c10 = S.MulAdd(a, b0, c10); c11 = S.MulAdd(a, b1, c11); c12 = S.MulAdd(a, b2, c12);
            a = S.Splat(pa[2]);
            c20 = S.MulAdd(a, b0, c20); c21 = S.MulAdd(a, b1, c21); c22 = S.MulAdd(a, b2, c22);
            a = S.Splat(pa[3]);
            c30 = S.MulAdd(a, b0, c30); c31 = S.MulAdd(a, b1, c31); c32 = S.MulAdd(a, b2, c32);
            pa += MR;
            pb += nr;
        }
        Store<S, TV>(c, c00, c01, c02, accumulate);
        Store<S, TV>(c + ldc, c10, c11, c12, accumulate);
        Store<S, TV>(c + 2L * ldc, c20, c21, c22, accumulate);
        Store<S, TV>(c + 3L * ldc, c30, c31, c32, accumulate);
    }

    /// <summary>c[0..3L) (+)= (v0, v1, v2).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Store<S, TV>(T* c, TV v0, TV v1, TV v2, bool accumulate) where S : struct, IVectorOps<T, TV> where TV : unmanaged
    {
        int L = S.Lanes;
        if (accumulate)
        {
            v0 = S.Add(v0, S.Load(c));
            v1 = S.Add(v1, S.Load(c + L));
            v2 = S.Add(v2, S.Load(c + 2 * L));
        }
        S.Store(v0, c);
        S.Store(v1, c + L);
        S.Store(v2, c + 2 * L);
    }
}
