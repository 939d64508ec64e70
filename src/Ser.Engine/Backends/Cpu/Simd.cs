using System.Numerics;

namespace Ser.Engine.Backends.Cpu;

/// <summary>
/// Vector helpers generic over the element type (float, or double for the gradient checks) and over the vector width
/// (<see cref="IVectorOps{T, TV}"/>: S the width's ops, TV its vector type). Every sum runs in a fixed order, so a
/// path gives the same bits every run. <see cref="CpuBackend{T}"/> calls them through its path's dispatch.
/// </summary>
internal static unsafe class Simd<T> where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>Sum of n values in a fixed order (4 vector accumulators, then a fixed tree).</summary>
    public static T Sum<S, TV>(T* p, int n) where S : struct, IVectorOps<T, TV> where TV : unmanaged =>
        SumFinish<S, TV>(p, n, S.Zero, S.Zero, S.Zero, S.Zero);

    /// <summary>
    /// <see cref="Sum"/> in pieces: its main loop over the whole blocks of 4 vectors at the start of p[0..n), continuing
    /// the accumulators; returns the elements consumed (a multiple of 4 vectors). Feeding a sequence through this in
    /// pieces whose consumed lengths add up, then <see cref="SumFinish"/> on the rest, gives <see cref="Sum"/>'s bits
    /// over the whole sequence without holding it in memory.
    /// </summary>
    public static int SumBlocks<S, TV>(T* p, int n, ref TV s0, ref TV s1, ref TV s2, ref TV s3)
        where S : struct, IVectorOps<T, TV> where TV : unmanaged
    {
        int L = S.Lanes, i = 0;
        TV a0 = s0, a1 = s1, a2 = s2, a3 = s3;
        for (; i + 4 * L <= n; i += 4 * L)
        {
            a0 = S.Add(a0, S.Load(p + i));
            a1 = S.Add(a1, S.Load(p + i + L));
            a2 = S.Add(a2, S.Load(p + i + 2 * L));
            a3 = S.Add(a3, S.Load(p + i + 3 * L));
        }
        s0 = a0; s1 = a1; s2 = a2; s3 = a3;
        return i;
    }

    /// <summary>The end of a <see cref="SumBlocks"/> sequence: p[0..n) is what is left of it.</summary>
    public static T SumFinish<S, TV>(T* p, int n, TV s0, TV s1, TV s2, TV s3) where S : struct, IVectorOps<T, TV> where TV : unmanaged
    {
        int L = S.Lanes;
        int i = SumBlocks<S, TV>(p, n, ref s0, ref s1, ref s2, ref s3);
        for (; i + L <= n; i += L) s0 = S.Add(s0, S.Load(p + i));
        T s = S.Sum(S.Add(S.Add(s0, s1), S.Add(s2, s3)));
        for (; i < n; i++) s += p[i];
        return s;
    }

    /// <summary>Dot product of n values in a fixed order.</summary>
    public static T Dot<S, TV>(T* a, T* b, int n) where S : struct, IVectorOps<T, TV> where TV : unmanaged
    {
        int L = S.Lanes, i = 0;
        TV s0 = S.Zero, s1 = s0, s2 = s0, s3 = s0;
        for (; i + 4 * L <= n; i += 4 * L)
        {
            s0 = S.MulAdd(S.Load(a + i), S.Load(b + i), s0);
            s1 = S.MulAdd(S.Load(a + i + L), S.Load(b + i + L), s1);
            s2 = S.MulAdd(S.Load(a + i + 2 * L), S.Load(b + i + 2 * L), s2);
            s3 = S.MulAdd(S.Load(a + i + 3 * L), S.Load(b + i + 3 * L), s3);
        }
        for (; i + L <= n; i += L) s0 = S.MulAdd(S.Load(a + i), S.Load(b + i), s0);
        T s = S.Sum(S.Add(S.Add(s0, s1), S.Add(s2, s3)));
        for (; i < n; i++) s += a[i] * b[i];
        return s;
    }

    /// <summary>
    /// y[0..m) += sum_j x[j] * a[j, 0..m) for a [n, m] row-major: a register-blocked row-combination (4 vectors of y held
    /// across the whole j loop), used for the LSTM recurrence in both directions. Each y[i] sums j in order.
    /// </summary>
    public static void AccumulateRows<S, TV>(T* a, T* x, T* y, int n, int m) where S : struct, IVectorOps<T, TV> where TV : unmanaged
    {
        int L = S.Lanes, i = 0;
        for (; i + 4 * L <= m; i += 4 * L)
        {
            TV y0 = S.Load(y + i), y1 = S.Load(y + i + L), y2 = S.Load(y + i + 2 * L), y3 = S.Load(y + i + 3 * L);
            T* row = a + i;
            for (int j = 0; j < n; j++, row += m)
            {
                var s = S.Splat(x[j]);
                y0 = S.MulAdd(s, S.Load(row), y0);
                y1 = S.MulAdd(s, S.Load(row + L), y1);
                y2 = S.MulAdd(s, S.Load(row + 2 * L), y2);
                y3 = S.MulAdd(s, S.Load(row + 3 * L), y3);
            }
            S.Store(y0, y + i); S.Store(y1, y + i + L); S.Store(y2, y + i + 2 * L); S.Store(y3, y + i + 3 * L);
        }
        for (; i + L <= m; i += L)
        {
            TV y0 = S.Load(y + i);
            for (int j = 0; j < n; j++) y0 = S.MulAdd(S.Splat(x[j]), S.Load(a + (long)j * m + i), y0);
            S.Store(y0, y + i);
        }
        for (; i < m; i++)
        {
            T s = y[i];
            for (int j = 0; j < n; j++) s += x[j] * a[(long)j * m + i];
            y[i] = s;
        }
    }

    /// <summary>y[i] += x[i].</summary>
    public static void Add<S, TV>(T* x, T* y, int n) where S : struct, IVectorOps<T, TV> where TV : unmanaged
    {
        int L = S.Lanes, i = 0;
        for (; i + L <= n; i += L) S.Store(S.Add(S.Load(x + i), S.Load(y + i)), y + i);
        for (; i < n; i++) y[i] += x[i];
    }

    /// <summary>x[i] = max(x[i], 0) (NaN becomes 0 on the scalar tail).</summary>
    public static void Relu<S, TV>(T* x, int n) where S : struct, IVectorOps<T, TV> where TV : unmanaged
    {
        int L = S.Lanes, i = 0;
        if (L > 1)
            for (; i + L <= n; i += L) S.Store(S.Max(S.Load(x + i), S.Zero), x + i);
        for (; i < n; i++) if (!(x[i] > T.Zero)) x[i] = T.Zero;
    }

    /// <summary>dy[i] = y[i] &gt; 0 ? dy[i] : 0.</summary>
    public static void ReluBackward<S, TV>(T* y, T* dy, int n) where S : struct, IVectorOps<T, TV> where TV : unmanaged
    {
        int L = S.Lanes, i = 0;
        for (; i + L <= n; i += L) S.Store(S.KeepPositive(S.Load(y + i), S.Load(dy + i)), dy + i);
        for (; i < n; i++) if (!(y[i] > T.Zero)) dy[i] = T.Zero;
    }
}
