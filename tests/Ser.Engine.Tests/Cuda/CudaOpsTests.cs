using Ser.Engine.Backends;
using Ser.Engine.Backends.Cpu;
using Ser.Engine.Backends.Cuda;
using Ser.Engine.Tensors;

namespace Ser.Engine.Tests.Cuda;

/// <summary>
/// Invariant 2 per operation: every CUDA backend op against the CPU oracle (float32, TF32 off) on the same random
/// ragged inputs. Padded frames of inputs hold NaN where the contract says they are never read, so an op that reads
/// them fails. Tolerances: exact where both sides do the same float operations in the same order (masking, pooling,
/// reshapes, dropout masks, dense bias sums); 1e-4 relative (plus a small absolute floor scaled to the data) where the
/// summation order differs (cuDNN/cuBLAS reductions, the LSTM recurrence).
/// </summary>
[Collection("Cuda")]
public class CudaOpsTests
{
    /// <summary>The same tensors on the CPU oracle and on the GPU.</summary>
    sealed class Twin : IDisposable
    {
        readonly CpuBackend<float> _cpuBackend = new(1);
        public readonly TensorScope<float> Cpu, Gpu;

        public Twin()
        {
            Cpu = new TensorScope<float>(_cpuBackend);
            Gpu = new TensorScope<float>(CudaGpu.Backend);
        }

        public Backend<float> C => _cpuBackend;
        public Backend<float> G => CudaGpu.Backend;

        public (TensorView C, TensorView G) New(Shape s) => (Cpu.New(s), Gpu.New(s));
        public (TensorView C, TensorView G) From(Shape s, float[] v) => (Cpu.From(s, v), Gpu.From(s, v));
        public (float[] C, float[] G) Read((TensorView C, TensorView G) t) => (Cpu.Read(t.C), Gpu.Read(t.G));

        /// <summary>A workspace of the given size on each side (at least one element).</summary>
        public (TensorView C, TensorView G) Workspace(long cpu, long gpu) =>
            (Cpu.New(new Shape(checked((int)Math.Max(1, cpu)))), Gpu.New(new Shape(checked((int)Math.Max(1, gpu)))));

        public void Dispose()
        {
            Cpu.Dispose();
            Gpu.Dispose();
            _cpuBackend.Dispose();
        }
    }

    static float[] Random(Random r, long n, double scale = 1) => Rand.UniformF(r, n, -scale, scale);

    /// <summary>x with NaN in frames t &gt;= lengths[b] of [B, C, T, F].</summary>
    static float[] PadNaN(float[] x, int c, int t, int f, int[] lengths)
    {
        var y = (float[])x.Clone();
        for (int b = 0; b < lengths.Length; b++)
        for (int ch = 0; ch < c; ch++)
        for (int r = lengths[b]; r < t; r++)
            Array.Fill(y, float.NaN, ((b * c + ch) * t + r) * f, f);
        return y;
    }

    /// <summary>Only the valid frames of [B, C, T, F] (the part the contract specifies).</summary>
    static float[] Valid(float[] x, int c, int t, int f, int[] lengths)
    {
        var list = new List<float>();
        for (int b = 0; b < lengths.Length; b++)
        for (int ch = 0; ch < c; ch++)
            list.AddRange(x.AsSpan(((b * c + ch) * t) * f, lengths[b] * f).ToArray());
        return list.ToArray();
    }

    static void Close(float[] expected, float[] actual, double rtol, string what)
    {
        double scale = expected.Length == 0 ? 1 : expected.Max(v => Math.Abs(v));
        Check.Close(expected, actual, rtol, 1e-5 * scale + 1e-7, what);
    }

    [Theory]
    [InlineData(2, 3, 4, 6, 13)]   // even KT and KF: the extended-input path
    [InlineData(3, 2, 5, 7, 11)]   // odd both: cuDNN on x itself, masked in place
    [InlineData(1, 4, 3, 4, 9)]    // odd KT, even KF
    public void Convolution_matches_the_cpu(int cin, int cout, int kt, int kf, int f)
    {
        Assert.SkipUnless(CudaGpu.Available, CudaGpu.Reason);
        int batch = 3, t = 9;
        int[] lengths = [9, 2, 5];
        var r = new Random(cin * 31 + kf);
        using var tw = new Twin();
        var desc = new ConvDesc(cin, cout, kt, kf, f);
        var xs = new Shape(batch, cin, t, f);
        var ys = new Shape(batch, cout, t, f);
        var x = tw.From(xs, PadNaN(Random(r, xs.Elements), cin, t, f, lengths));
        var w = tw.From(new Shape(cout, cin, kt, kf), Random(r, cout * cin * kt * kf, 0.5));
        var bias = tw.From(new Shape(cout), Random(r, cout));
        var dy = tw.From(ys, PadNaN(Random(r, ys.Elements), cout, t, f, lengths));
        var ws = tw.Workspace(Math.Max(tw.C.ConvWorkspace(desc, batch, t, (long)batch * t), tw.C.BiasWorkspace(cout, batch)),
            Math.Max(tw.G.ConvWorkspace(desc, batch, t, (long)batch * t), tw.G.BiasWorkspace(cout, batch)));
        var y = tw.New(ys);
        var dx = tw.New(xs);
        var dw = tw.New(w.C.Shape);
        var db = tw.New(bias.C.Shape);
        foreach (var (be, side) in new[] { (tw.C, 0), (tw.G, 1) })
        {
            TensorView Pick((TensorView C, TensorView G) p) => side == 0 ? p.C : p.G;
            be.ConvForward(desc, Pick(x), Pick(w), Pick(bias), Pick(y), lengths, Pick(ws));
            be.BiasBackward(Pick(dy), Pick(db), lengths, Pick(ws));
            be.ConvBackwardFilter(desc, Pick(x), Pick(dy), Pick(dw), lengths, Pick(ws));
            be.ConvBackwardData(desc, Pick(dy), Pick(w), Pick(dx), lengths, Pick(ws));
        }
        var (yc, yg) = tw.Read(y);
        Close(Valid(yc, cout, t, f, lengths), Valid(yg, cout, t, f, lengths), 1e-4, "conv y");
        var (dxc, dxg) = tw.Read(dx);
        Close(Valid(dxc, cin, t, f, lengths), Valid(dxg, cin, t, f, lengths), 1e-4, "conv dx");
        var (dwc, dwg) = tw.Read(dw);
        Close(dwc, dwg, 1e-4, "conv dw");
        var (dbc, dbg) = tw.Read(db);
        Close(dbc, dbg, 1e-5, "conv db");
    }

    [Fact]
    public void Relu_and_mask_match_the_cpu_exactly()
    {
        Assert.SkipUnless(CudaGpu.Available, CudaGpu.Reason);
        int batch = 3, c = 2, t = 7, f = 5;
        int[] lengths = [7, 1, 4];
        var r = new Random(5);
        using var tw = new Twin();
        var s = new Shape(batch, c, t, f);
        var y = tw.From(s, PadNaN(Random(r, s.Elements), c, t, f, lengths));
        var dy = tw.From(s, Random(r, s.Elements));
        var flat = tw.From(new Shape(4, 6), Random(r, 24));
        var dflat = tw.From(new Shape(4, 6), Random(r, 24));
        foreach (var (be, side) in new[] { (tw.C, 0), (tw.G, 1) })
        {
            TensorView Pick((TensorView C, TensorView G) p) => side == 0 ? p.C : p.G;
            be.ReluForward(Pick(y), lengths);
            be.ReluBackward(Pick(y), Pick(dy), lengths);
            be.Mask(Pick(y), lengths);
            be.Mask(Pick(dy), lengths);
            be.ReluForward(Pick(flat), default);
            be.ReluBackward(Pick(flat), Pick(dflat), default);
        }
        var (yc, yg) = tw.Read(y);
        Assert.Equal(yc, yg);
        var (dc, dg) = tw.Read(dy);
        Assert.Equal(dc, dg);
        // Equal arrays could both still hold the NaN padding y started with: the padded frames must be +0 on both.
        for (int b = 0; b < batch; b++)
        for (int ch = 0; ch < c; ch++)
        {
            int at = ((b * c + ch) * t + lengths[b]) * f, n = (t - lengths[b]) * f;
            foreach (var (padding, what) in new[] { (yg, "y"), (dg, "dy") })
                Assert.All(padding.AsSpan(at, n).ToArray(), v => Assert.True(BitConverter.SingleToUInt32Bits(v) == 0, $"GPU {what}[{b}, {ch}] padding holds {v}"));
        }
        Assert.Equal(tw.Read(flat).C, tw.Read(flat).G);
        Assert.Equal(tw.Read(dflat).C, tw.Read(dflat).G);
    }

    /// <summary>Values from {0, 1, 2}: most windows have tied maxima, which must go to the first, as on the CPU.</summary>
    [Theory]
    [InlineData(9, 37)]
    [InlineData(6, 8)]
    public void Pooling_matches_the_cpu_exactly_including_ties(int t, int f)
    {
        Assert.SkipUnless(CudaGpu.Available, CudaGpu.Reason);
        int batch = 3, c = 2;
        int[] lengths = [t, 1, t - 2 | 1];
        var r = new Random(f);
        using var tw = new Twin();
        var xs = new Shape(batch, c, t, f);
        var ys = new Shape(batch, c, (t + 1) / 2, (f + 1) / 2);
        var xv = Enumerable.Range(0, (int)xs.Elements).Select(_ => (float)r.Next(3)).ToArray();
        var x = tw.From(xs, PadNaN(xv, c, t, f, lengths));
        var y = tw.New(ys);
        var dy = tw.From(ys, Enumerable.Range(0, (int)ys.Elements).Select(i => (float)(i + 1)).ToArray());
        var dx = tw.New(xs);
        foreach (var (be, side) in new[] { (tw.C, 0), (tw.G, 1) })
        {
            TensorView Pick((TensorView C, TensorView G) p) => side == 0 ? p.C : p.G;
            be.PoolForward(Pick(x), Pick(y), lengths);
            be.PoolBackward(Pick(x), Pick(y), Pick(dy), Pick(dx), lengths);
        }
        var (yc, yg) = tw.Read(y);
        Assert.Equal(yc, yg);
        var (dxc, dxg) = tw.Read(dx);
        Assert.Equal(dxc, dxg); // every element: valid windows routed identically, padded frames zero on both
    }

    [Fact]
    public void Maps_and_sequence_reshapes_match_the_cpu_exactly()
    {
        Assert.SkipUnless(CudaGpu.Available, CudaGpu.Reason);
        int batch = 3, c = 4, t = 6, f = 5;
        int[] lengths = [6, 2, 3];
        var r = new Random(8);
        using var tw = new Twin();
        var ms = new Shape(batch, c, t, f);
        var ss = new Shape(batch, t, c * f);
        var maps = tw.From(ms, PadNaN(Random(r, ms.Elements), c, t, f, lengths));
        var seq = tw.New(ss);
        var back = tw.New(ms);
        foreach (var (be, side) in new[] { (tw.C, 0), (tw.G, 1) })
        {
            TensorView Pick((TensorView C, TensorView G) p) => side == 0 ? p.C : p.G;
            be.MapsToSequence(Pick(maps), Pick(seq), lengths);
            be.SequenceToMaps(Pick(seq), Pick(back), lengths);
        }
        Assert.Equal(tw.Read(seq).C, tw.Read(seq).G);
        Assert.Equal(tw.Read(back).C, tw.Read(back).G);
    }

    static (float[] Out, float[] DSeq, float[][] DW) RunLstm(Backend<float> be, TensorScope<float> s, LstmDesc desc, float[] x,
        float[][] weights, float[] dOut, int[] lengths, int t)
    {
        int batch = lengths.Length;
        var seq = s.From(new Shape(batch, t, desc.InputSize), x);
        Shape[] shapes = [new(desc.Gates, desc.InputSize), new(desc.Gates, desc.Hidden), new(desc.Gates)];
        var w = Enumerable.Range(0, 6).Select(i => s.From(shapes[i % 3], weights[i])).ToArray();
        var g = Enumerable.Range(0, 6).Select(i => s.New(shapes[i % 3])).ToArray();
        var p = new LstmParams(w[0], w[1], w[2], w[3], w[4], w[5]);
        var dp = new LstmParams(g[0], g[1], g[2], g[3], g[4], g[5]);
        var output = s.New(new Shape(batch, 2 * desc.Hidden));
        var reserve = s.New(new Shape(checked((int)be.LstmReserve(desc, batch, t, (long)batch * t, training: true))));
        var work = s.New(new Shape(checked((int)be.LstmWorkspace(desc, batch, t, (long)batch * t, training: true))));
        var dseq = s.New(seq.Shape);
        be.LstmForward(desc, seq, p, output, reserve, work, lengths, training: true);
        be.LstmBackward(desc, seq, p, reserve, s.From(output.Shape, dOut), dseq, dp, work, lengths);
        return (s.Read(output), s.Read(dseq), g.Select(s.Read).ToArray());
    }

    /// <summary>
    /// The cuDNN BiLSTM (padded I/O, per-sample lengths) against the CPU oracle on a batch with very different lengths
    /// (1 to 40 steps). The backward half of the output must be the backward direction started at each sample's OWN last
    /// step: it is also compared with the CPU run on the same batch treated as full length (starting at T-1 in the
    /// zero padding), which it must NOT match for the short samples.
    /// </summary>
    [Fact]
    public void Lstm_reverse_direction_starts_at_each_samples_own_last_step()
    {
        Assert.SkipUnless(CudaGpu.Available, CudaGpu.Reason);
        int[] lengths = [1, 40, 7, 23, 2];
        int batch = lengths.Length, t = 40, input = 6, hidden = 5;
        var desc = new LstmDesc(input, hidden);
        var r = new Random(17);
        var x = PadNaN(Random(r, batch * t * input), 1, t, input, lengths);
        var weights = Enumerable.Range(0, 6).Select(i => Random(r, i % 3 == 0 ? desc.Gates * input : i % 3 == 1 ? desc.Gates * hidden : desc.Gates, 0.5)).ToArray();
        var dOut = Random(r, batch * 2 * hidden);
        using var tw = new Twin();
        var cpu = RunLstm(tw.C, tw.Cpu, desc, x, weights, dOut, lengths, t);
        var gpu = RunLstm(tw.G, tw.Gpu, desc, x, weights, dOut, lengths, t);
        Close(cpu.Out, gpu.Out, 1e-4, "lstm output");
        Close(Valid(cpu.DSeq, 1, t, input, lengths), Valid(gpu.DSeq, 1, t, input, lengths), 1e-4, "lstm dx");
        string[] names = ["fw.w_ih", "fw.w_hh", "fw.bias", "bw.w_ih", "bw.w_hh", "bw.bias"];
        for (int i = 0; i < 6; i++) Close(cpu.DW[i], gpu.DW[i], 1e-4, $"lstm d{names[i]}");

        // Started in the padding instead (every sample as long as the batch, zero inputs past its end):
        var zeroPadded = x.Select(v => float.IsNaN(v) ? 0f : v).ToArray();
        var full = RunLstm(tw.C, tw.Cpu, desc, zeroPadded, weights, dOut, Enumerable.Repeat(t, batch).ToArray(), t);
        // Only the shortest samples: after a few real steps the forget gates wash out where the recurrence started.
        for (int b = 0; b < batch; b++)
        {
            if (lengths[b] > 2) continue;
            double diff = 0;
            for (int j = 0; j < hidden; j++)
                diff = Math.Max(diff, Math.Abs(full.Out[b * 2 * hidden + hidden + j] - gpu.Out[b * 2 * hidden + hidden + j]));
            Assert.True(diff > 1e-3, $"sample {b} (length {lengths[b]}): the backward half equals a run started at step {t - 1}");
        }
    }

    [Fact]
    public void Dense_matches_the_cpu()
    {
        Assert.SkipUnless(CudaGpu.Available, CudaGpu.Reason);
        int batch = 5, inputs = 37, outputs = 11;
        var r = new Random(3);
        using var tw = new Twin();
        var x = tw.From(new Shape(batch, inputs), Random(r, batch * inputs));
        var w = tw.From(new Shape(outputs, inputs), Random(r, outputs * inputs));
        var b = tw.From(new Shape(outputs), Random(r, outputs));
        var dy = tw.From(new Shape(batch, outputs), Random(r, batch * outputs));
        var y = tw.New(new Shape(batch, outputs));
        var dx = tw.New(x.C.Shape);
        var dw = tw.New(w.C.Shape);
        var db = tw.New(b.C.Shape);
        foreach (var (be, side) in new[] { (tw.C, 0), (tw.G, 1) })
        {
            TensorView Pick((TensorView C, TensorView G) p) => side == 0 ? p.C : p.G;
            be.DenseForward(Pick(x), Pick(w), Pick(b), Pick(y));
            be.DenseBackward(Pick(x), Pick(w), Pick(dy), Pick(dx), Pick(dw), Pick(db));
        }
        Close(tw.Read(y).C, tw.Read(y).G, 1e-5, "dense y");
        Close(tw.Read(dx).C, tw.Read(dx).G, 1e-5, "dense dx");
        Close(tw.Read(dw).C, tw.Read(dw).G, 1e-5, "dense dw");
        Assert.Equal(tw.Read(db).C, tw.Read(db).G); // column sums in batch order on both
    }

    [Fact]
    public void Loss_matches_the_cpu_and_queued_totals_add_up()
    {
        Assert.SkipUnless(CudaGpu.Available, CudaGpu.Reason);
        int batch = 7, k = 4;
        var r = new Random(4);
        using var tw = new Twin();
        var logits = tw.From(new Shape(batch, k), Random(r, batch * k, 3));
        var dl = tw.New(logits.C.Shape);
        int[] labels = [0, 3, 1, 1, 2, 0, 3];
        double[] weights = labels.Select((_, i) => 1.0 / (10 + i)).ToArray();
        const double Norm = 0.9;   // a constant normaliser, not the batch's sum of weights (0.53): the kernel must use it
        var psC = new double[batch];
        var psG = new double[batch];
        double lc = tw.C.SoftmaxCrossEntropy(logits.C, labels, weights, Norm, dl.C, psC);
        double lg = tw.G.SoftmaxCrossEntropy(logits.G, labels, weights, Norm, dl.G, psG);
        Assert.Equal(lc, lg, 1e-12);
        Check.Close(psC, psG, 1e-12, 1e-14, "per-sample CE");
        Close(tw.Read(dl).C, tw.Read(dl).G, 1e-6, "dlogits");

        var gpu = CudaGpu.Backend;
        gpu.TakeTotals(); // start from zero
        gpu.LossMode = CudaLossMode.Accumulate;
        try
        {
            Assert.True(double.IsNaN(gpu.SoftmaxCrossEntropy(logits.G, labels, weights, Norm, dl.G)));
            Assert.True(double.IsNaN(gpu.SoftmaxCrossEntropy(logits.G, labels, weights, Norm, dl.G)));
        }
        finally
        {
            gpu.LossMode = CudaLossMode.Read;
        }
        var logitsHost = tw.Read(logits).C;
        int correct = 0;
        for (int b = 0; b < batch; b++)
        {
            int best = 0;
            for (int j = 1; j < k; j++) if (logitsHost[b * k + j] > logitsHost[b * k + best]) best = j;
            if (best == labels[b]) correct++;
        }
        var (steps, sum, right, samples) = gpu.TakeTotals();
        Assert.Equal((2, 2 * correct, 2 * batch), (steps, right, samples));
        Assert.Equal(2 * lc, sum, 1e-12);
        Assert.Equal(0, gpu.TakeTotals().Steps);

        gpu.LossMode = CudaLossMode.Defer; // TrainStep's mode: nothing waits until ReadLoss, nothing accumulates
        try
        {
            Assert.True(double.IsNaN(gpu.SoftmaxCrossEntropy(logits.G, labels, weights, Norm, dl.G)));
        }
        finally
        {
            gpu.LossMode = CudaLossMode.Read;
        }
        var (deferred, deferredCorrect) = gpu.ReadLoss();
        Assert.Equal(lc, deferred, 1e-12);
        Assert.Equal(correct, deferredCorrect);
        Assert.Equal(0, gpu.TakeTotals().Steps);
    }

    [Fact]
    public void Dropout_draws_the_cpus_mask_bit_for_bit()
    {
        Assert.SkipUnless(CudaGpu.Available, CudaGpu.Reason);
        var r = new Random(6);
        using var tw = new Twin();
        var s = new Shape(9, 70);
        var x = tw.From(s, Random(r, s.Elements));
        var y = tw.New(s);
        var mask = tw.New(s);
        var dy = tw.From(s, Random(r, s.Elements));
        var dx = tw.New(s);
        foreach (var (be, side) in new[] { (tw.C, 0), (tw.G, 1) })
        {
            TensorView Pick((TensorView C, TensorView G) p) => side == 0 ? p.C : p.G;
            be.DropoutForward(Pick(x), Pick(y), Pick(mask), 0.3, 0xDEADBEEFUL);
            be.DropoutBackward(Pick(dy), Pick(mask), Pick(dx));
        }
        Assert.Equal(tw.Read(mask).C, tw.Read(mask).G);
        Assert.Equal(tw.Read(y).C, tw.Read(y).G);
        Assert.Equal(tw.Read(dx).C, tw.Read(dx).G);
    }

    [Fact]
    public void Adam_sum_of_squares_and_scale_match_the_cpu()
    {
        Assert.SkipUnless(CudaGpu.Available, CudaGpu.Reason);
        var r = new Random(7);
        using var tw = new Twin();
        var s = new Shape(100_003); // more than one grid-stride pass's worth of blocks is not needed; an odd tail is
        var p = tw.From(s, Random(r, s.Elements));
        var g = tw.From(s, Random(r, s.Elements, 0.1));
        var m = tw.From(s, Random(r, s.Elements, 0.01));
        var v = tw.From(s, Rand.UniformF(r, s.Elements, 0, 1e-3));
        // The CPU sums squares in float within 65,536-element chunks, the GPU in double: agree to float rounding.
        Assert.Equal(tw.C.SumOfSquares(g.C), tw.G.SumOfSquares(g.G), 1e-5 * tw.C.SumOfSquares(g.C));
        var step = new AdamStep(1e-3, 0.9, 0.999, 1e-8, 1e-4, 1 - Math.Pow(0.9, 3), 1 - Math.Pow(0.999, 3), 0.7);
        tw.C.AdamUpdate(p.C, g.C, m.C, v.C, step);
        tw.G.AdamUpdate(p.G, g.G, m.G, v.G, step);
        tw.C.Scale(g.C, 0.25);
        tw.G.Scale(g.G, 0.25);
        // Same float operations in the same order on both sides (no FMA contraction on the GPU): equal up to the last
        // bit in practice; allowed 2e-7 relative in case a compiler on either side still fuses something.
        Check.Close(tw.Read(p).C, tw.Read(p).G, 2e-7, 0, "adam p");
        Check.Close(tw.Read(m).C, tw.Read(m).G, 2e-7, 0, "adam m");
        Check.Close(tw.Read(v).C, tw.Read(v).G, 2e-7, 0, "adam v");
        Assert.Equal(tw.Read(g).C, tw.Read(g).G);
    }
}
