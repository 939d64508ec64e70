using System.Numerics;
using Ser.Engine.Backends;
using Ser.Engine.Backends.Cpu;
using Ser.Engine.Tensors;

namespace Ser.Engine.Tests;

/// <summary>Allocates tensors on a backend for a test and frees them at the end.</summary>
internal sealed class TensorScope<T>(Backend<T> backend) : IDisposable where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    readonly List<Arena> _arenas = [];
    public Backend<T> Backend => backend;

    public TensorView New(Shape shape)
    {
        var a = backend.Allocate(shape.Elements, "test");
        _arenas.Add(a);
        return a.View(0, shape);
    }

    public TensorView From(Shape shape, T[] values)
    {
        var t = New(shape);
        backend.Upload((ReadOnlySpan<T>)values, t);
        return t;
    }

    public T[] Read(TensorView t)
    {
        var a = new T[t.Elements];
        backend.Download(t, a);
        return a;
    }

    public void Write(TensorView t, T[] values) => backend.Upload((ReadOnlySpan<T>)values, t);

    public void Dispose()
    {
        foreach (var a in _arenas) a.Dispose();
    }
}

/// <summary>The CPU kernel paths as theory data: every numeric test runs on each path this machine has.</summary>
internal static class SimdPaths
{
    public static TheoryData<SimdPath> All => [SimdPath.Scalar, SimdPath.Vector256, SimdPath.Vector512];

    /// <summary>Skips (with the reason) a path this CPU does not accelerate.</summary>
    public static void Require(SimdPath path) =>
        Assert.SkipUnless(CpuKernels.IsAvailable(path), $"this CPU does not accelerate {CpuKernels.Name(path)} (best here: {CpuKernels.Name(CpuKernels.Best)})");
}

internal static class Rand
{
    public static double[] Uniform(Random r, long n, double lo = -1, double hi = 1)
    {
        var a = new double[n];
        for (long i = 0; i < n; i++) a[i] = lo + (hi - lo) * r.NextDouble();
        return a;
    }

    public static float[] UniformF(Random r, long n, double lo = -1, double hi = 1) =>
        Uniform(r, n, lo, hi).Select(v => (float)v).ToArray();
}

internal static class Check
{
    /// <summary>|a - b| &lt;= atol + rtol * max(|a|, |b|) element-wise, with the first failure named.</summary>
    public static void Close(ReadOnlySpan<double> expected, ReadOnlySpan<double> actual, double rtol, double atol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = actual[i];
            double tol = atol + rtol * Math.Max(Math.Abs(e), Math.Abs(a));
            if (!(Math.Abs(e - a) <= tol))
                Assert.Fail($"{what}[{i}]: expected {e:R}, got {a:R} (|diff| {Math.Abs(e - a):E2} > {tol:E2})");
        }
    }

    public static void Close(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double rtol, double atol, string what)
    {
        var e = new double[expected.Length];
        var a = new double[actual.Length];
        for (int i = 0; i < e.Length; i++) e[i] = expected[i];
        for (int i = 0; i < a.Length; i++) a[i] = actual[i];
        Close(e, a, rtol, atol, what);
    }
}
