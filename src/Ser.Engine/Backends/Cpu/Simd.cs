using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Ser.Engine.Backends.Cpu;

/// <summary>
/// Vector helpers generic over float/double (the float64 path exists for gradient checks). typeof(T) tests are
/// folded away by the JIT, so each instantiation compiles to straight AVX2/FMA code.
/// </summary>
internal static unsafe class Simd<T> where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    public static int Lanes => Vector256<T>.Count;

    /// <summary>a * b + c, fused where the CPU has FMA.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> MulAdd(Vector256<T> a, Vector256<T> b, Vector256<T> c)
    {
        if (System.Runtime.Intrinsics.X86.Fma.IsSupported)
        {
            if (typeof(T) == typeof(float))
                return System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>();
            if (typeof(T) == typeof(double))
                return System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();
        }
        return a * b + c;
    }

    /// <summary>Sum of n values in a fixed order (4 vector accumulators, then a fixed tree): deterministic.</summary>
    public static T Sum(T* p, int n)
    {
        int L = Lanes, i = 0;
        var s0 = Vector256<T>.Zero; var s1 = s0; var s2 = s0; var s3 = s0;
        for (; i + 4 * L <= n; i += 4 * L)
        {
            s0 += Vector256.Load(p + i);
            s1 += Vector256.Load(p + i + L);
            s2 += Vector256.Load(p + i + 2 * L);
            s3 += Vector256.Load(p + i + 3 * L);
        }
        for (; i + L <= n; i += L) s0 += Vector256.Load(p + i);
        T s = Vector256.Sum((s0 + s1) + (s2 + s3));
        for (; i < n; i++) s += p[i];
        return s;
    }

    /// <summary>Dot product of n values in a fixed order.</summary>
    public static T Dot(T* a, T* b, int n)
    {
        int L = Lanes, i = 0;
        var s0 = Vector256<T>.Zero; var s1 = s0; var s2 = s0; var s3 = s0;
        for (; i + 4 * L <= n; i += 4 * L)
        {
            s0 = MulAdd(Vector256.Load(a + i), Vector256.Load(b + i), s0);
            s1 = MulAdd(Vector256.Load(a + i + L), Vector256.Load(b + i + L), s1);
            s2 = MulAdd(Vector256.Load(a + i + 2 * L), Vector256.Load(b + i + 2 * L), s2);
            s3 = MulAdd(Vector256.Load(a + i + 3 * L), Vector256.Load(b + i + 3 * L), s3);
        }
        for (; i + L <= n; i += L) s0 = MulAdd(Vector256.Load(a + i), Vector256.Load(b + i), s0);
        T s = Vector256.Sum((s0 + s1) + (s2 + s3));
        for (; i < n; i++) s += a[i] * b[i];
        return s;
    }

    /// <summary>y[i] += alpha * x[i].</summary>
    public static void Axpy(T alpha, T* x, T* y, int n)
    {
        int L = Lanes, i = 0;
        var va = Vector256.Create(alpha);
        for (; i + L <= n; i += L) Vector256.Store(MulAdd(va, Vector256.Load(x + i), Vector256.Load(y + i)), y + i);
        for (; i < n; i++) y[i] += alpha * x[i];
    }

    /// <summary>y[i] += x[i].</summary>
    public static void Add(T* x, T* y, int n)
    {
        int L = Lanes, i = 0;
        for (; i + L <= n; i += L) Vector256.Store(Vector256.Load(x + i) + Vector256.Load(y + i), y + i);
        for (; i < n; i++) y[i] += x[i];
    }

    public static void Clear(T* p, long n) => new Span<T>(p, checked((int)n)).Clear();
}
