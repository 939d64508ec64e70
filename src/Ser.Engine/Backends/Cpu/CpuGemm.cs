using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Ser.Engine.Backends.Cpu;

/// <summary>
/// Blocked, packed GEMM (Goto style): C[M, N] = op(A)[M, K] * op(B)[K, N] (+ C when accumulating), row-major.
/// One thread; callers parallelise over independent output blocks (<see cref="CpuBackend{T}"/>.ParallelGemm).
/// Each C element sums K in KC-sized blocks in ascending order, the same however M and N are split, so results do
/// not depend on the partition (and hence not on the worker count).
/// Micro-kernel: MR = 4 rows x NR = 3 vectors (24 floats / 12 doubles) in 12 accumulators.
/// </summary>
internal static unsafe class CpuGemm<T> where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    public const int MR = 4;
    public static int NR => 3 * Vector256<T>.Count;
    const int KC = 256;
    const int MC = 64;   // multiple of MR
    const int NC = 480;  // multiple of NR for float (24) and double (12)

    /// <summary>Scratch elements one <see cref="Gemm"/> call needs: packed A, packed B, an edge tile.</summary>
    public static long ScratchElements => (long)MC * KC + (long)KC * NC + MR * 3 * 8 + 64;

    public static void Gemm(bool transA, bool transB, int m, int n, int k,
        T* a, int lda, T* b, int ldb, T* c, int ldc, bool accumulate, T* scratch)
    {
        if (m <= 0 || n <= 0) return;
        if (k <= 0)
        {
            if (!accumulate)
                for (int i = 0; i < m; i++) new Span<T>(c + (long)i * ldc, n).Clear();
            return;
        }
        int nr = NR;
        T* packA = scratch;
        T* packB = packA + MC * KC;
        T* tile = packB + KC * NC;
        for (int jc = 0; jc < n; jc += NC)
        {
            int nc = Math.Min(NC, n - jc);
            for (int pc = 0; pc < k; pc += KC)
            {
                int kc = Math.Min(KC, k - pc);
                PackB(transB, b, ldb, pc, jc, kc, nc, packB);
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
                                Kernel(kc, pa, pb, cp, ldc, acc);
                            }
                            else
                            {
                                Kernel(kc, pa, pb, tile, nr, false);
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
    static void PackB(bool transB, T* b, int ldb, int pc, int jc, int kc, int nc, T* packB)
    {
        int nr = NR;
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
                    if (nn == nr)
                    {
                        int L = Vector256<T>.Count;
                        Vector256.Store(Vector256.Load(src), d);
                        Vector256.Store(Vector256.Load(src + L), d + L);
                        Vector256.Store(Vector256.Load(src + 2 * L), d + 2 * L);
                    }
                    else
                    {
                        for (int j = 0; j < nn; j++) d[j] = src[j];
                        for (int j = nn; j < nr; j++) d[j] = T.Zero;
                    }
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
    static void Kernel(int kc, T* pa, T* pb, T* c, int ldc, bool accumulate)
    {
        int L = Vector256<T>.Count;
        var c00 = Vector256<T>.Zero; var c01 = c00; var c02 = c00;
        var c10 = c00; var c11 = c00; var c12 = c00;
        var c20 = c00; var c21 = c00; var c22 = c00;
        var c30 = c00; var c31 = c00; var c32 = c00;
        int nr = 3 * L;
        for (int kk = 0; kk < kc; kk++)
        {
            var b0 = Vector256.Load(pb);
            var b1 = Vector256.Load(pb + L);
            var b2 = Vector256.Load(pb + 2 * L);
            var a = Vector256.Create(pa[0]);
            c00 = Simd<T>.MulAdd(a, b0, c00); c01 = Simd<T>.MulAdd(a, b1, c01); c02 = Simd<T>.MulAdd(a, b2, c02);
            a = Vector256.Create(pa[1]);
            c10 = Simd<T>.MulAdd(a, b0, c10); c11 = Simd<T>.MulAdd(a, b1, c11); c12 = Simd<T>.MulAdd(a, b2, c12);
            a = Vector256.Create(pa[2]);
            c20 = Simd<T>.MulAdd(a, b0, c20); c21 = Simd<T>.MulAdd(a, b1, c21); c22 = Simd<T>.MulAdd(a, b2, c22);
            a = Vector256.Create(pa[3]);
            c30 = Simd<T>.MulAdd(a, b0, c30); c31 = Simd<T>.MulAdd(a, b1, c31); c32 = Simd<T>.MulAdd(a, b2, c32);
            pa += MR;
            pb += nr;
        }
        Store(c, c00, c01, c02, accumulate, L);
        Store(c + ldc, c10, c11, c12, accumulate, L);
        Store(c + 2L * ldc, c20, c21, c22, accumulate, L);
        Store(c + 3L * ldc, c30, c31, c32, accumulate, L);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store(T* c, Vector256<T> v0, Vector256<T> v1, Vector256<T> v2, bool accumulate, int L)
    {
        if (accumulate)
        {
            v0 += Vector256.Load(c);
            v1 += Vector256.Load(c + L);
            v2 += Vector256.Load(c + 2 * L);
        }
        Vector256.Store(v0, c);
        Vector256.Store(v1, c + L);
        Vector256.Store(v2, c + 2 * L);
    }
}
