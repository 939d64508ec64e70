using Ser.Engine.Backends;
using Ser.Engine.Backends.Cpu;
using Ser.Engine.Tensors;

namespace Ser.Engine.Tests.Training;

public class AdamTests
{
    /// <summary>Three Adam(W) steps against the textbook formulas, element by element, with clipping folded in.</summary>
    [Fact]
    public void Adam_matches_the_formulas()
    {
        const int n = 37; // vector body + scalar tail
        var r = new Random(2);
        using var be = new CpuBackend<double>(2);
        using var s = new TensorScope<double>(be);
        var p = Rand.Uniform(r, n);
        var m = new double[n];
        var v = new double[n];
        var pt = s.From(new Shape(n), p); var mt = s.New(new Shape(n)); var vt = s.New(new Shape(n));
        double lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.1, scale = 0.5;
        for (int step = 1; step <= 3; step++)
        {
            var g = Rand.Uniform(r, n);
            var gt = s.From(new Shape(n), g);
            double c1 = 1 - Math.Pow(b1, step), c2 = 1 - Math.Pow(b2, step);
            be.AdamUpdate(pt, gt, mt, vt, new AdamStep(lr, b1, b2, eps, wd, c1, c2, scale));
            for (int i = 0; i < n; i++)
            {
                double gi = g[i] * scale;
                m[i] = b1 * m[i] + (1 - b1) * gi;
                v[i] = b2 * v[i] + (1 - b2) * gi * gi;
                p[i] = p[i] - lr * (m[i] / c1) / (Math.Sqrt(v[i] / c2) + eps) - lr * wd * p[i];
            }
        }
        Check.Close(p, s.Read(pt), 1e-13, 1e-15, "param");
        Check.Close(m, s.Read(mt), 1e-13, 1e-15, "m");
        Check.Close(v, s.Read(vt), 1e-13, 1e-15, "v");
    }

    [Fact]
    public void Sum_of_squares_is_exact_enough_and_scale_scales()
    {
        var r = new Random(4);
        using var be = new CpuBackend<double>(2);
        using var s = new TensorScope<double>(be);
        var x = Rand.Uniform(r, 200_001);
        var t = s.From(new Shape(x.Length), x);
        Assert.Equal(x.Sum(v => v * v), be.SumOfSquares(t), 1e-9);
        be.Scale(t, 0.25);
        Assert.Equal(x[123_456] * 0.25, s.Read(t)[123_456]);
    }
}
