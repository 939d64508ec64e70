using Ser.Engine.Backends;
using Ser.Engine.Backends.Cpu;
using Ser.Engine.Tensors;

namespace Ser.Engine.Tests.Backends;

/// <summary>
/// Each CPU operation against the naive contract implementation (forward) and against central finite differences in
/// float64 (backward). Padded frames of inputs hold NaN: an operation that reads them fails the test.
/// </summary>
public class CpuOpsTests
{
    const double H = 1e-6;

    static double Dot(double[] a, double[] b) { double s = 0; for (int i = 0; i < a.Length; i++) s += a[i] * b[i]; return s; }

    /// <summary>Central differences of L = dot(r, f(x)) at the listed elements of x.</summary>
    static double[] Numeric(double[] x, Func<double[], double[]> f, double[] r, IEnumerable<int> indices, double h = H)
    {
        var result = new List<double>();
        foreach (int i in indices)
        {
            double keep = x[i];
            x[i] = keep + h; double up = Dot(r, f(x));
            x[i] = keep - h; double down = Dot(r, f(x));
            x[i] = keep;
            result.Add((up - down) / (2 * h));
        }
        return result.ToArray();
    }

    static double[] WithPaddingNaN(double[] x, int b, int c, int t, int f, int[] lengths)
    {
        var y = (double[])x.Clone();
        for (int n = 0; n < b; n++)
        for (int ch = 0; ch < c; ch++)
        for (int r = lengths[n]; r < t; r++)
        for (int q = 0; q < f; q++) y[((n * c + ch) * t + r) * f + q] = double.NaN;
        return y;
    }

    static double[] Masked(double[] x, int b, int c, int t, int f, int[] lengths)
    {
        var y = (double[])x.Clone();
        for (int n = 0; n < b; n++)
        for (int ch = 0; ch < c; ch++)
        for (int r = lengths[n]; r < t; r++)
        for (int q = 0; q < f; q++) y[((n * c + ch) * t + r) * f + q] = 0;
        return y;
    }

    static IEnumerable<int> ValidIndices(int b, int c, int t, int f, int[] lengths)
    {
        for (int n = 0; n < b; n++)
        for (int ch = 0; ch < c; ch++)
        for (int r = 0; r < lengths[n]; r++)
        for (int q = 0; q < f; q++) yield return ((n * c + ch) * t + r) * f + q;
    }

    [Theory]
    [InlineData(2, 5, 4, 3, 7, 1, SimdPath.Scalar)]    // even KT, Cout not a multiple of 4, F narrower than a micro-tile
    [InlineData(2, 5, 4, 3, 7, 1, SimdPath.Vector256)]
    [InlineData(2, 5, 4, 3, 7, 1, SimdPath.Vector512)]
    [InlineData(1, 4, 3, 4, 30, 2, SimdPath.Scalar)]   // even KF, F spanning two micro-tiles
    [InlineData(1, 4, 3, 4, 30, 2, SimdPath.Vector256)]
    [InlineData(1, 4, 3, 4, 30, 2, SimdPath.Vector512)]
    [InlineData(3, 2, 5, 5, 9, 2, SimdPath.Scalar)]
    [InlineData(3, 2, 5, 5, 9, 2, SimdPath.Vector256)]
    [InlineData(3, 2, 5, 5, 9, 2, SimdPath.Vector512)]
    [InlineData(9, 9, 2, 2, 50, 2, SimdPath.Scalar)]   // 8-channel tiles + a 1-channel edge both ways; a full 48-bin tile + a short one
    [InlineData(9, 9, 2, 2, 50, 2, SimdPath.Vector256)]
    [InlineData(9, 9, 2, 2, 50, 2, SimdPath.Vector512)]
    [InlineData(3, 8, 3, 3, 64, 2, SimdPath.Scalar)]    // tails of whole vectors, written straight to y by the one-vector
    [InlineData(3, 8, 3, 3, 64, 2, SimdPath.Vector256)] // kernel (Vector512: 48 + 16 bins; Vector256: 48 + 8 + 8)
    [InlineData(3, 8, 3, 3, 64, 2, SimdPath.Vector512)]
    [InlineData(2, 9, 3, 7, 20, 2, SimdPath.Scalar)]    // KF = 7 = 3 + 3 + 1: the filter's last kernel column through the
    [InlineData(2, 9, 3, 7, 20, 2, SimdPath.Vector256)] // one-column kernels, 8 channels and a 1-channel edge (4 + 4 + 1
    [InlineData(2, 9, 3, 7, 20, 2, SimdPath.Vector512)] // on the 4-channel paths)
    public void Conv_matches_naive_and_finite_differences(int cin, int cout, int kt, int kf, int f, int threads, SimdPath path)
    {
        SimdPaths.Require(path);
        int b = 3, t = 7;
        int[] lengths = [7, 1, 4];
        var r = new Random(cin * 100 + kf);
        using var be = new CpuBackend<double>(threads, path);
        using var s = new TensorScope<double>(be);
        var desc = new ConvDesc(cin, cout, kt, kf, f);
        var x = Masked(Rand.Uniform(r, b * cin * t * f), b, cin, t, f, lengths);
        var w = Rand.Uniform(r, cout * cin * kt * kf);
        var bias = Rand.Uniform(r, cout);
        var xs = new Shape(b, cin, t, f); var ys = new Shape(b, cout, t, f);
        var ws = s.New(new Shape(be.ConvWorkspace(desc, b, t, b * t) is var n and > 0 ? checked((int)n) : 1));
        var xt = s.From(xs, WithPaddingNaN(x, b, cin, t, f, lengths));
        var wt = s.From(new Shape(cout, cin, kt, kf), w);
        var bt = s.From(new Shape(cout), bias);
        var yt = s.New(ys);

        double[] Forward(double[] xv, double[] wv, double[] bv)
        {
            s.Write(xt, WithPaddingNaN(xv, b, cin, t, f, lengths));
            s.Write(wt, wv); s.Write(bt, bv);
            be.ConvForward(desc, xt, wt, bt, yt, lengths, ws);
            be.Mask(yt, lengths);
            return s.Read(yt);
        }

        var y = Forward(x, w, bias);
        Check.Close(NaiveOps.Conv(x, w, bias, b, cin, cout, t, f, kt, kf, lengths), y, 1e-12, 1e-12, "conv forward");

        var rr = Masked(Rand.Uniform(r, ys.Elements), b, cout, t, f, lengths);
        var dyt = s.From(ys, WithPaddingNaN(rr, b, cout, t, f, lengths));
        var dxt = s.New(xs);
        var dwt = s.New(wt.Shape);
        var dbt = s.New(bt.Shape);
        be.BiasBackward(dyt, dbt, lengths, ws);
        be.ConvBackwardFilter(desc, xt, dyt, dwt, lengths, ws);
        be.ConvBackwardData(desc, dyt, wt, dxt, lengths, ws);

        var valid = ValidIndices(b, cin, t, f, lengths).ToArray();
        var dx = s.Read(dxt);
        // y is linear in x, w and b, so a central difference with a large step is exact but for rounding, and the
        // large step divides that rounding (of a sum of thousands of terms) by far less than a tiny one would
        const double step = 0.5;
        Check.Close(Numeric(x, xv => Forward(xv, w, bias), rr, valid, step), valid.Select(i => dx[i]).ToArray(), 1e-9, 1e-11, "conv dx");
        Check.Close(Numeric(w, wv => Forward(x, wv, bias), rr, Enumerable.Range(0, w.Length), step), s.Read(dwt), 1e-9, 1e-11, "conv dw");
        Check.Close(Numeric(bias, bv => Forward(x, w, bv), rr, Enumerable.Range(0, cout), step), s.Read(dbt), 1e-9, 1e-11, "conv db");
    }

    /// <summary>
    /// Mask on garbage (random values, NaN, infinities, -0 everywhere): the padded frames t &gt;= V_b of every (b, c)
    /// plane become +0 and the valid frames keep their exact bits, NaN included. (The conv test above masks an output
    /// whose padding the convolution already zeroed, so it cannot see a mask that does nothing.)
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void Mask_zeroes_exactly_the_padded_frames_of_a_garbage_buffer(int threads)
    {
        int b = 4, c = 3, t = 9, f = 5;
        int[] lengths = [9, 1, 4, 8];
        var r = new Random(17 + threads);
        double[] special = [double.NaN, double.PositiveInfinity, double.NegativeInfinity, -0.0, 1e300, -1e-300];
        var garbage = Rand.Uniform(r, b * c * t * f, -1e3, 1e3);
        for (int i = 0; i < garbage.Length; i += 3) garbage[i] = special[r.Next(special.Length)];

        using var be = new CpuBackend<double>(threads);
        using var s = new TensorScope<double>(be);
        var x = s.From(new Shape(b, c, t, f), garbage);
        be.Mask(x, lengths);
        var y = s.Read(x);

        int padded = 0;
        for (int n = 0; n < b; n++)
        for (int ch = 0; ch < c; ch++)
        for (int row = 0; row < t; row++)
        for (int q = 0; q < f; q++)
        {
            int i = ((n * c + ch) * t + row) * f + q;
            long expected = row < lengths[n] ? BitConverter.DoubleToInt64Bits(garbage[i]) : 0L; // +0.0 is all-zero bits
            Assert.True(expected == BitConverter.DoubleToInt64Bits(y[i]),
                $"[{n}, {ch}, {row}, {q}] (V = {lengths[n]}): expected {BitConverter.Int64BitsToDouble(expected)}, got {y[i]}");
            if (row >= lengths[n]) padded++;
        }
        Assert.Equal(c * f * lengths.Sum(v => t - v), padded);
        Assert.Contains(garbage.Select((v, i) => (v, i)), p => p.v != 0 && !double.IsNaN(p.v) && y[p.i] == 0); // the mask had work to do
    }

    [Theory]
    [MemberData(nameof(SimdPaths.All), MemberType = typeof(SimdPaths))]
    public void Mask_in_float_zeroes_the_padding_of_a_garbage_buffer(SimdPath path)
    {
        SimdPaths.Require(path);
        int b = 2, c = 2, t = 11, f = 37; // F not a multiple of the vector width
        int[] lengths = [3, 11];
        var garbage = Rand.UniformF(new Random(3), b * c * t * f, -5, 5);
        garbage[((0 * c + 1) * t + 3) * f] = float.NaN; // first padded element of (0, 1)
        using var be = new CpuBackend<float>(2, path);
        using var s = new TensorScope<float>(be);
        var x = s.From(new Shape(b, c, t, f), garbage);
        be.Mask(x, lengths);
        var y = s.Read(x);
        for (int n = 0; n < b; n++)
        for (int ch = 0; ch < c; ch++)
        {
            int plane = (n * c + ch) * t * f, valid = lengths[n] * f;
            Assert.Equal(garbage.AsSpan(plane, valid).ToArray(), y.AsSpan(plane, valid).ToArray());
            Assert.All(y.AsSpan(plane + valid, t * f - valid).ToArray(), v => Assert.Equal(0u, BitConverter.SingleToUInt32Bits(v)));
        }
    }

    [Theory]
    [InlineData(8, 6, SimdPath.Scalar)]
    [InlineData(8, 6, SimdPath.Vector256)]
    [InlineData(8, 6, SimdPath.Vector512)]
    [InlineData(7, 5, SimdPath.Scalar)]   // odd T and F: ceil mode
    [InlineData(7, 5, SimdPath.Vector256)]
    [InlineData(7, 5, SimdPath.Vector512)]
    public void Pool_matches_naive_and_finite_differences(int t, int f, SimdPath path)
    {
        SimdPaths.Require(path);
        int b = 3, c = 2;
        int[] lengths = [t, 1, t - 2 | 1];
        var r = new Random(t * f);
        using var be = new CpuBackend<double>(2, path);
        using var s = new TensorScope<double>(be);
        var x = Masked(Rand.Uniform(r, b * c * t * f), b, c, t, f, lengths);
        var xs = new Shape(b, c, t, f); var ys = new Shape(b, c, (t + 1) / 2, (f + 1) / 2);
        var xt = s.New(xs); var yt = s.New(ys);
        double[] Forward(double[] xv)
        {
            s.Write(xt, WithPaddingNaN(xv, b, c, t, f, lengths));
            be.PoolForward(xt, yt, lengths);
            return s.Read(yt);
        }
        var y = Forward(x);
        Check.Close(NaiveOps.Pool(x, b, c, t, f, lengths), y, 0, 0, "pool forward");
        int[] outLengths = lengths.Select(v => (v + 1) / 2).ToArray();
        var rr = Masked(Rand.Uniform(r, ys.Elements), b, c, ys.D2, ys.D3, outLengths);
        var dyt = s.From(ys, rr); var dxt = s.New(xs);
        be.PoolBackward(xt, yt, dyt, dxt, lengths);
        var valid = ValidIndices(b, c, t, f, lengths).ToArray();
        var dx = s.Read(dxt);
        Check.Close(Numeric(x, Forward, rr, valid), valid.Select(i => dx[i]).ToArray(), 1e-7, 1e-8, "pool dx");
    }

    [Fact]
    public void Pool_gives_ties_to_the_first_maximum()
    {
        using var be = new CpuBackend<double>(1);
        using var s = new TensorScope<double>(be);
        var xt = s.From(new Shape(1, 1, 2, 2), [0, 0, 0, 0]);
        var yt = s.New(new Shape(1, 1, 1, 1));
        be.PoolForward(xt, yt, [2]);
        var dx = s.New(new Shape(1, 1, 2, 2));
        be.PoolBackward(xt, yt, s.From(new Shape(1, 1, 1, 1), [1]), dx, [2]);
        Assert.Equal([1.0, 0, 0, 0], s.Read(dx));
    }

    /// <summary>The float path (vectorised for 16 bins at a time) on data full of ties: values from {0, 1, 2}.</summary>
    [Theory]
    [InlineData(9, 37, SimdPath.Scalar)]
    [InlineData(9, 37, SimdPath.Vector256)]
    [InlineData(9, 37, SimdPath.Vector512)]
    [InlineData(6, 64, SimdPath.Scalar)]
    [InlineData(6, 64, SimdPath.Vector256)]
    [InlineData(6, 64, SimdPath.Vector512)]
    [InlineData(5, 50, SimdPath.Vector256)] // Vector512: 16 windows at AVX-512, 8 at AVX2, one scalar
    [InlineData(5, 50, SimdPath.Vector512)]
    public void Pool_float_path_routes_to_the_first_maximum(int t, int f, SimdPath path)
    {
        SimdPaths.Require(path);
        int b = 2, c = 3;
        int[] lengths = [t, t - 2 | 1];
        var r = new Random(f);
        using var be = new CpuBackend<float>(2, path);
        using var s = new TensorScope<float>(be);
        var x = Enumerable.Range(0, b * c * t * f).Select(_ => (float)r.Next(3)).ToArray();
        int to = (t + 1) / 2, fo = (f + 1) / 2;
        var xt = s.From(new Shape(b, c, t, f), x);
        var yt = s.New(new Shape(b, c, to, fo));
        be.PoolForward(xt, yt, lengths);
        var y = s.Read(yt);
        var g = Enumerable.Range(0, b * c * to * fo).Select(i => (float)(i + 1)).ToArray();
        var dxt = s.New(xt.Shape);
        be.PoolBackward(xt, yt, s.From(yt.Shape, g), dxt, lengths);
        var dx = s.Read(dxt);
        var expectY = new float[y.Length];
        var expectDx = new float[dx.Length];
        for (int n = 0; n < b; n++)
        for (int ch = 0; ch < c; ch++)
        for (int rr = 0; rr < (lengths[n] + 1) / 2; rr++)
        for (int q = 0; q < fo; q++)
        {
            int best = -1;
            foreach (var (dr, dq) in new[] { (0, 0), (0, 1), (1, 0), (1, 1) })
            {
                int ir = 2 * rr + dr, iq = 2 * q + dq;
                if (ir >= lengths[n] || iq >= f) continue;
                int i = ((n * c + ch) * t + ir) * f + iq;
                if (best < 0 || x[i] > x[best]) best = i;
            }
            int o = ((n * c + ch) * to + rr) * fo + q;
            expectY[o] = x[best];
            expectDx[best] = g[o];
        }
        Assert.Equal(expectY, y);
        Assert.Equal(expectDx, dx);
    }

    /// <summary>
    /// A single utterance big enough for its GEMMs to be split over workers inside it (rows and columns): output and
    /// every gradient bit-identical on 1, 2 and 3 threads.
    /// </summary>
    [Theory]
    [MemberData(nameof(SimdPaths.All), MemberType = typeof(SimdPaths))]
    public void Lstm_of_one_utterance_is_bit_identical_across_thread_counts(SimdPath path)
    {
        SimdPaths.Require(path);
        int t = 60, inputs = 300, hidden = 64;   // 2 N 4H I = 18 MFLOP per input GEMM: split, not run whole
        int[] lengths = [t];
        var r = new Random(17);
        var x = Rand.UniformF(r, t * inputs);
        var shapes = new[] { new Shape(4 * hidden, inputs), new Shape(4 * hidden, hidden), new Shape(4 * hidden) };
        var w = Enumerable.Range(0, 6).Select(k => Rand.UniformF(r, shapes[k % 3].Elements, -0.2, 0.2)).ToArray();
        var dy = Rand.UniformF(r, 2 * hidden);
        float[][] Run(int threads)
        {
            using var be = new CpuBackend<float>(threads, path);
            using var s = new TensorScope<float>(be);
            var desc = new LstmDesc(inputs, hidden);
            var wt = Enumerable.Range(0, 6).Select(k => s.From(shapes[k % 3], w[k])).ToArray();
            var dwt = Enumerable.Range(0, 6).Select(k => s.New(shapes[k % 3])).ToArray();
            var p = new LstmParams(wt[0], wt[1], wt[2], wt[3], wt[4], wt[5]);
            var dp = new LstmParams(dwt[0], dwt[1], dwt[2], dwt[3], dwt[4], dwt[5]);
            var xt = s.From(new Shape(1, t, inputs), x);
            var yt = s.New(new Shape(1, 2 * hidden));
            var dxt = s.New(new Shape(1, t, inputs));
            var reserve = s.New(new Shape(checked((int)be.LstmReserve(desc, 1, t, t, training: true))));
            var work = s.New(new Shape(checked((int)be.LstmWorkspace(desc, 1, t, t, training: true))));
            be.LstmForward(desc, xt, p, yt, reserve, work, lengths, training: true);
            be.LstmBackward(desc, xt, p, reserve, s.From(new Shape(1, 2 * hidden), dy), dxt, dp, work, lengths);
            return [s.Read(yt), s.Read(dxt), .. dwt.Select(s.Read)];
        }
        var one = Run(1);
        Assert.Contains(one[1], v => v != 0);   // the input gradient is not trivially zero
        foreach (int threads in new[] { 2, 3 })
        {
            var many = Run(threads);
            for (int i = 0; i < one.Length; i++) Assert.Equal(one[i], many[i]); // exact, element by element
        }
    }

    [Theory]
    [InlineData(5, 3, 1, SimdPath.Scalar)]
    [InlineData(5, 3, 1, SimdPath.Vector256)]
    [InlineData(5, 3, 1, SimdPath.Vector512)]
    [InlineData(12, 9, 2, SimdPath.Scalar)]
    [InlineData(12, 9, 2, SimdPath.Vector256)]
    [InlineData(12, 9, 2, SimdPath.Vector512)]
    public void Lstm_matches_naive_and_finite_differences(int inputs, int hidden, int threads, SimdPath path)
    {
        SimdPaths.Require(path);
        int b = 3, t = 5;
        int[] lengths = [5, 1, 3];
        var r = new Random(inputs * hidden);
        using var be = new CpuBackend<double>(threads, path);
        using var s = new TensorScope<double>(be);
        var desc = new LstmDesc(inputs, hidden);
        var xs = new Shape(b, t, inputs);
        var x = Rand.Uniform(r, xs.Elements);
        for (int n = 0; n < b; n++) for (int i = lengths[n] * inputs; i < t * inputs; i++) x[n * t * inputs + i] = 0;
        var w = new double[6][];
        var shapes = new[] { new Shape(4 * hidden, inputs), new Shape(4 * hidden, hidden), new Shape(4 * hidden) };
        for (int k = 0; k < 6; k++) w[k] = Rand.Uniform(r, shapes[k % 3].Elements, -0.6, 0.6);
        var wt = Enumerable.Range(0, 6).Select(k => s.From(shapes[k % 3], w[k])).ToArray();
        var dwt = Enumerable.Range(0, 6).Select(k => s.New(shapes[k % 3])).ToArray();
        var p = new LstmParams(wt[0], wt[1], wt[2], wt[3], wt[4], wt[5]);
        var dp = new LstmParams(dwt[0], dwt[1], dwt[2], dwt[3], dwt[4], dwt[5]);
        var xt = s.New(xs); var yt = s.New(new Shape(b, 2 * hidden));
        var reserve = s.New(new Shape(checked((int)be.LstmReserve(desc, b, t, b * t, training: true))));
        var work = s.New(new Shape(checked((int)be.LstmWorkspace(desc, b, t, b * t, training: true))));

        double[] Forward(double[] xv)
        {
            var padded = (double[])xv.Clone();
            for (int n = 0; n < b; n++) for (int i = lengths[n] * inputs; i < t * inputs; i++) padded[n * t * inputs + i] = double.NaN;
            s.Write(xt, padded);
            for (int k = 0; k < 6; k++) s.Write(wt[k], w[k]);
            be.LstmForward(desc, xt, p, yt, reserve, work, lengths, training: true);
            return s.Read(yt);
        }
        var y = Forward(x);
        Check.Close(NaiveOps.Lstm(x, b, t, inputs, hidden, lengths, w), y, 1e-12, 1e-13, "lstm forward");

        var rr = Rand.Uniform(r, b * 2 * hidden);
        var dyt = s.From(new Shape(b, 2 * hidden), rr);
        var dxt = s.New(xs);
        Forward(x);
        be.LstmBackward(desc, xt, p, reserve, dyt, dxt, dp, work, lengths);
        var dx = s.Read(dxt);
        var validX = Enumerable.Range(0, (int)xs.Elements).Where(i => i % (t * inputs) < lengths[i / (t * inputs)] * inputs).ToArray();
        Check.Close(Numeric(x, Forward, rr, validX), validX.Select(i => dx[i]).ToArray(), 1e-6, 1e-8, "lstm dx");
        foreach (int i in Enumerable.Range(0, (int)xs.Elements).Except(validX)) Assert.Equal(0.0, dx[i]);
        string[] names = ["fw.w_ih", "fw.w_hh", "fw.bias", "bw.w_ih", "bw.w_hh", "bw.bias"];
        for (int k = 0; k < 6; k++)
        {
            int kk = k;
            Check.Close(Numeric(w[kk], _ => Forward(x), rr, Enumerable.Range(0, w[kk].Length)), s.Read(dwt[kk]), 1e-6, 1e-8, "lstm d" + names[kk]);
        }
    }

    [Theory]
    [MemberData(nameof(SimdPaths.All), MemberType = typeof(SimdPaths))]
    public void Dense_relu_dropout_and_loss_match_finite_differences(SimdPath path)
    {
        SimdPaths.Require(path);
        int b = 4, nin = 7, nout = 5;
        var r = new Random(3);
        using var be = new CpuBackend<double>(2, path);
        using var s = new TensorScope<double>(be);
        var x = Rand.Uniform(r, b * nin); var w = Rand.Uniform(r, nout * nin); var bias = Rand.Uniform(r, nout);
        var xt = s.New(new Shape(b, nin)); var wt = s.New(new Shape(nout, nin)); var bt = s.New(new Shape(nout));
        var yt = s.New(new Shape(b, nout)); var mask = s.New(new Shape(b, nout));
        int[] labels = [0, 4, 2, 2];
        double[] weights = [1, 0.5, 2, 0.25];
        var dlogits = s.New(new Shape(b, nout));
        double Loss(double[] xv, double[] wv, double[] bv, bool grad)
        {
            s.Write(xt, xv); s.Write(wt, wv); s.Write(bt, bv);
            be.DenseForward(xt, wt, bt, yt);
            be.ReluForward(yt, default);
            be.DropoutForward(yt, yt, mask, 0.3, 42);
            return be.SoftmaxCrossEntropy(yt, labels, weights, 2.7, grad ? dlogits : default); // a normaliser other than sum w = 3.75
        }
        Loss(x, w, bias, true);
        var dy = s.New(new Shape(b, nout));
        be.DropoutBackward(dlogits, mask, dy);
        // recompute relu output for the backward mask (dropout ran in place)
        be.DenseForward(xt, wt, bt, yt); be.ReluForward(yt, default);
        be.ReluBackward(yt, dy, default);
        var dxt = s.New(xt.Shape); var dwt = s.New(wt.Shape); var dbt = s.New(bt.Shape);
        be.DenseBackward(xt, wt, dy, dxt, dwt, dbt);
        double[] NumericLoss(double[] v, Func<double[], double> f)
        {
            var g = new double[v.Length];
            for (int i = 0; i < v.Length; i++)
            {
                double keep = v[i];
                v[i] = keep + H; double up = f(v);
                v[i] = keep - H; double down = f(v);
                v[i] = keep;
                g[i] = (up - down) / (2 * H);
            }
            return g;
        }
        Check.Close(NumericLoss(x, xv => Loss(xv, w, bias, false)), s.Read(dxt), 1e-6, 1e-9, "dense dx");
        Check.Close(NumericLoss(w, wv => Loss(x, wv, bias, false)), s.Read(dwt), 1e-6, 1e-9, "dense dw");
        Check.Close(NumericLoss(bias, bv => Loss(x, w, bv, false)), s.Read(dbt), 1e-6, 1e-9, "dense db");
        var m = s.Read(mask);
        Assert.Contains(0.0, m);
        Assert.Contains(1 / 0.7, m);
    }

    [Fact]
    public void Sequence_reshape_is_channel_major_and_invertible()
    {
        int b = 2, c = 3, t = 4, f = 2;
        int[] lengths = [4, 2];
        using var be = new CpuBackend<double>(2);
        using var s = new TensorScope<double>(be);
        var x = Enumerable.Range(0, b * c * t * f).Select(i => (double)i).ToArray();
        var xt = s.From(new Shape(b, c, t, f), x);
        var seq = s.New(new Shape(b, t, c * f));
        be.MapsToSequence(xt, seq, lengths);
        var q = s.Read(seq);
        // seq[b, t, c*F + f] = x[b, c, t, f]
        Assert.Equal(x[((1 * c + 2) * t + 1) * f + 1], q[(1 * t + 1) * c * f + 2 * f + 1]);
        Assert.Equal(0.0, q[(1 * t + 3) * c * f + 0]); // padded frame of sample 1
        var back = s.New(xt.Shape);
        be.SequenceToMaps(seq, back, lengths);
        Check.Close(Masked(x, b, c, t, f, lengths), s.Read(back), 0, 0, "round trip");
    }
}
