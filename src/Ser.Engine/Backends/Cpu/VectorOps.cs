using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Ser.Engine.Backends.Cpu;

/// <summary>
/// A vector width as a type: kernels are written once, generic over <typeparamref name="TV"/> (Vector512, Vector256, or
/// T itself for the scalar path), and called with a struct implementation. The JIT compiles one specialised copy per
/// struct, with these static calls inlined, so the generic kernel costs nothing over a hand-written one.
/// </summary>
internal unsafe interface IVectorOps<T, TV> where T : unmanaged where TV : unmanaged
{
    static abstract int Lanes { get; }
    static abstract TV Zero { get; }
    static abstract TV Load(T* p);
    static abstract void Store(TV v, T* p);
    static abstract TV Splat(T x);
    /// <summary>a * b + c, fused where the CPU has FMA.</summary>
    static abstract TV MulAdd(TV a, TV b, TV c);
    static abstract TV Add(TV a, TV b);
    static abstract TV Max(TV a, TV b);
    /// <summary>dy where y &gt; 0, else 0 (ReLU backward).</summary>
    static abstract TV KeepPositive(TV y, TV dy);
    /// <summary>Sum of the lanes, in a fixed order.</summary>
    static abstract T Sum(TV v);
}

/// <summary>512-bit vectors (AVX-512F).</summary>
internal readonly unsafe struct V512<T> : IVectorOps<T, Vector512<T>> where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    public static int Lanes => Vector512<T>.Count;
    public static Vector512<T> Zero => Vector512<T>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<T> Load(T* p) => Vector512.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector512<T> v, T* p) => Vector512.Store(v, p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<T> Splat(T x) => Vector512.Create(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> MulAdd(Vector512<T> a, Vector512<T> b, Vector512<T> c)
    {
        if (Avx512F.IsSupported)
        {
            if (typeof(T) == typeof(float)) return Avx512F.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>();
            if (typeof(T) == typeof(double)) return Avx512F.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();
        }
        return a * b + c;
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<T> Add(Vector512<T> a, Vector512<T> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<T> Max(Vector512<T> a, Vector512<T> b) => Vector512.Max(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> KeepPositive(Vector512<T> y, Vector512<T> dy) => Vector512.BitwiseAnd(dy, Vector512.GreaterThan(y, Vector512<T>.Zero));
    // halves first, then the 256-bit tree: a fixed order
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static T Sum(Vector512<T> v) => Vector256.Sum(v.GetLower() + v.GetUpper());
}

/// <summary>256-bit vectors (AVX2 + FMA).</summary>
internal readonly unsafe struct V256<T> : IVectorOps<T, Vector256<T>> where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    public static int Lanes => Vector256<T>.Count;
    public static Vector256<T> Zero => Vector256<T>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<T> Load(T* p) => Vector256.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector256<T> v, T* p) => Vector256.Store(v, p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<T> Splat(T x) => Vector256.Create(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> MulAdd(Vector256<T> a, Vector256<T> b, Vector256<T> c)
    {
        if (Fma.IsSupported)
        {
            if (typeof(T) == typeof(float)) return Fma.MultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>();
            if (typeof(T) == typeof(double)) return Fma.MultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();
        }
        return a * b + c;
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<T> Add(Vector256<T> a, Vector256<T> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<T> Max(Vector256<T> a, Vector256<T> b) => Vector256.Max(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> KeepPositive(Vector256<T> y, Vector256<T> dy) => Vector256.BitwiseAnd(dy, Vector256.GreaterThan(y, Vector256<T>.Zero));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static T Sum(Vector256<T> v) => Vector256.Sum(v);
}

/// <summary>One lane: plain scalar arithmetic (unfused multiply-add), no vector instructions.</summary>
internal readonly unsafe struct V1<T> : IVectorOps<T, T> where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    public static int Lanes => 1;
    public static T Zero => T.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static T Load(T* p) => *p;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(T v, T* p) => *p = v;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static T Splat(T x) => x;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static T MulAdd(T a, T b, T c) => a * b + c;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static T Add(T a, T b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static T Max(T a, T b) => a > b ? a : b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static T KeepPositive(T y, T dy) => y > T.Zero ? dy : T.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static T Sum(T v) => v;
}
