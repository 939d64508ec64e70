using Ser.Engine.Backends.Cpu;
using Ser.Engine.Graph;
using Ser.Engine.Models;
using Ser.Engine.Tensors;
using Ser.Engine.Training;

namespace Ser.Engine.Tests.Graph;

/// <summary>
/// The loss against its formula, computed here independently: w_b = 1 / (V_b n_{y_b}) (V_b only with length weighting),
/// loss = sum_b w_b CE_b / N (N the set normaliser, else sum_b w_b), CE_b = logsumexp(z_b) - z_b[y_b] in double, and
/// dlogits = (w_b / N)(softmax(z_b) - onehot(y_b)).
/// </summary>
public class LossTests
{
    static readonly ModelConfig Config = new()
    {
        Bins = 8, Channels = [2, 2, 2], Kernels = [[3, 3], [3, 3], [2, 2]], Hidden = 3, Dense = 4, Classes = 4, Dropout = 0,
    };
    static readonly int[] Lengths = [9, 3, 6];
    static readonly int[] Labels = [0, 2, 2];
    static readonly float[] Counts = [3, 1, 2, 5];

    static GraphExecutor<float> Ready(bool training = true)
    {
        var ex = new GraphExecutor<float>(Config, new CpuBackend<float>(1, SimdPath.Scalar), Lengths.Length, Lengths.Max(), training);
        ex.InitializeParameters(5, InitMode.AllPathsLive);
        var features = PaddingInvariance.RaggedFeatures(new Random(4), Lengths, Lengths.Max(), Config.Bins);
        ex.SetInput(features, Lengths.Length, Lengths.Max(), Lengths, Labels);
        ex.Forward(training: false);
        return ex;
    }

    /// <summary>CE of each row of logits [B, K] for its label, shifted by the row's largest logit.</summary>
    static double[] CrossEntropy(double[] logits, int k, int[] labels) => labels.Select((y, b) =>
    {
        var row = logits.AsSpan(b * k, k).ToArray();
        double max = row.Max();
        return Math.Log(row.Sum(z => Math.Exp(z - max))) + max - row[y];
    }).ToArray();

    [Theory]
    [InlineData(true, 0.0)]
    [InlineData(false, 0.0)]
    [InlineData(true, 2.5)]
    [InlineData(false, 0.75)]
    public void Weights_and_normaliser_follow_the_formula(bool lengthWeight, double normalizer)
    {
        using var ex = Ready();
        ex.LossOptions = new LossOptions { LengthWeight = lengthWeight, Normalizer = normalizer };
        var perSample = new double[Lengths.Length];
        double loss = ex.Loss(Counts, gradient: true, perSample);

        var w = Lengths.Select((v, b) => 1.0 / ((lengthWeight ? v : 1) * Counts[Labels[b]])).ToArray();
        Check.Close(w, ex.LossWeights, 1e-15, 0, "weights");
        var logits = Array.ConvertAll(ex.Logits().ToArray(), v => (double)v);
        var ce = CrossEntropy(logits, Config.Classes, Labels);
        Check.Close(ce, perSample, 1e-12, 1e-15, "CE");
        double n = normalizer > 0 ? normalizer : w.Sum();
        Assert.Equal(w.Zip(ce).Sum(p => p.First * p.Second) / n, loss, 1e-12);

    }

    [Fact]
    public void Without_class_counts_every_class_counts_once()
    {
        using var ex = Ready();
        ex.LossOptions = new LossOptions { LengthWeight = true };
        ex.Loss(default, gradient: false);
        Check.Close(Lengths.Select(v => 1.0 / v).ToArray(), ex.LossWeights, 1e-15, 0, "weights");
    }

    [Fact]
    public void Bad_counts_and_a_gradient_of_an_inference_executor_are_refused()
    {
        using var ex = Ready();
        Assert.Contains("3 class counts for 4 classes", Assert.Throws<ArgumentException>(() => ex.Loss([1, 1, 1], false)).Message);
        foreach (float bad in new[] { 0f, -1f, float.NaN })
        {
            var e = Assert.Throws<ArgumentException>(() => ex.Loss([1, 1, bad, 1], false));   // class 2 is in the batch
            Assert.Contains("class 2 has count", e.Message);
        }
        ex.Loss([1, 1, 1, 0], false);                                   // class 3 is absent: its count is not read
        using var infer = Ready(training: false);
        Assert.Contains("inference executor has no gradients", Assert.Throws<InvalidOperationException>(() => infer.Loss(Counts, gradient: true)).Message);
        infer.Loss(Counts, gradient: false);
    }

    [Fact]
    public void Large_logits_give_the_finite_loss_of_the_shifted_formula()
    {
        // exp(1000) overflows a double: only a loss shifted by the row's maximum stays finite.
        using var be = new CpuBackend<double>(1, SimdPath.Scalar);
        using var s = new TensorScope<double>(be);
        double[] z = [1000, 0, -1000, -1000, 999, 1000];
        var logits = s.From(new Shape(2, 3), z);
        var dl = s.New(new Shape(2, 3));
        var perSample = new double[2];
        double loss = be.SoftmaxCrossEntropy(logits, [1, 2], [1, 3], 4, dl, perSample);
        var ce = CrossEntropy(z, 3, [1, 2]);
        Assert.Equal(1000, ce[0], 9);
        Check.Close(ce, perSample, 1e-14, 0, "CE");
        Assert.Equal((ce[0] + 3 * ce[1]) / 4, loss, 1e-12);
        var g = s.Read(dl);
        Assert.All(g, v => Assert.True(double.IsFinite(v)));
        Assert.Equal(-0.25, g[1], 12);                                   // (1/4)(p ~ 0 - 1)
        Assert.Equal(0.25, g[0], 12);                                    // (1/4)(p ~ 1)

        // Each row is shifted by its own maximum: a far larger logit in the next row must not leak into it.
        var pair = s.From(new Shape(2, 2), [0, 0, 1000, 0]);
        be.SoftmaxCrossEntropy(pair, [0, 1], [1, 1], 2, default, perSample);
        Assert.Equal([Math.Log(2), 1000], perSample, (a, b) => Math.Abs(a - b) < 1e-12);
    }

    [Fact]
    public void Dlogits_are_the_weighted_softmax_minus_the_label_and_optional()
    {
        using var be = new CpuBackend<double>(1, SimdPath.Scalar);
        using var s = new TensorScope<double>(be);
        double[] z = [0.5, -1, 2, 0.25, 0.75, -0.5];
        int[] labels = [2, 0];
        double[] w = [0.5, 2];
        var logits = s.From(new Shape(2, 3), z);
        using var arena = be.Allocate(7, "dlogits and a sentinel");      // [2, 3] then one element that is not dlogits'
        var dl = arena.View(0, new Shape(2, 3));
        var sentinel = arena.View(6, new Shape(1));
        s.Write(sentinel, [-3]);
        s.Write(dl, [7, 7, 7, 7, 7, 7]);
        double with = be.SoftmaxCrossEntropy(logits, labels, w, 2.5, dl);
        Assert.Equal([-3.0], s.Read(sentinel));                            // nothing written past the last row
        var ce = CrossEntropy(z, 3, labels);
        Assert.Equal((0.5 * ce[0] + 2 * ce[1]) / 2.5, with, 1e-14);
        var expected = new double[6];
        for (int b = 0; b < 2; b++)
        for (int j = 0; j < 3; j++)
        {
            double p = Math.Exp(z[b * 3 + j] - (ce[b] + z[b * 3 + labels[b]]));   // exp(z - logsumexp)
            expected[b * 3 + j] = w[b] / 2.5 * (p - (j == labels[b] ? 1 : 0));
        }
        Check.Close(expected, s.Read(dl), 1e-13, 1e-15, "dlogits");

        s.Write(dl, [7, 7, 7, 7, 7, 7]);
        Assert.Equal(with, be.SoftmaxCrossEntropy(logits, labels, w, 2.5, default));
        Assert.All(s.Read(dl), v => Assert.Equal(7, v));                   // no gradient asked: untouched
    }

    [Fact]
    public void Backend_refuses_arguments_that_do_not_fit_the_logits()
    {
        using var be = new CpuBackend<double>(1, SimdPath.Scalar);
        using var s = new TensorScope<double>(be);
        var logits = s.From(new Shape(2, 3), [0, 1, 2, 3, 4, 5]);
        var dl = s.New(new Shape(2, 3));
        double[] w = [1, 1];
        var rank3 = s.New(new Shape(2, 3, 1));                           // B and K fit: only the rank is wrong
        Assert.Contains("logits must be [B, K]", Assert.Throws<ArgumentException>(() => be.SoftmaxCrossEntropy(rank3, [0, 1], w, 1, default)).Message);
        Assert.Contains("B = 2", Assert.Throws<ArgumentException>(() => be.SoftmaxCrossEntropy(logits, [0], w, 1, default)).Message);
        Assert.Contains("B = 2", Assert.Throws<ArgumentException>(() => be.SoftmaxCrossEntropy(logits, [0, 1], [1], 1, default)).Message);
        Assert.Contains("perSample", Assert.Throws<ArgumentException>(() => be.SoftmaxCrossEntropy(logits, [0, 1], w, 1, default, new double[3])).Message);
        foreach (int label in new[] { -1, 3 })
            Assert.Contains($"label {label} outside 0..2",
                Assert.Throws<ArgumentOutOfRangeException>(() => be.SoftmaxCrossEntropy(logits, [0, label], w, 1, default)).Message);
        Assert.Throws<ArgumentException>(() => be.SoftmaxCrossEntropy(logits, [0, 1], w, 1, s.New(new Shape(3, 2))));
        foreach (double n in new[] { 0, -1, double.NaN, double.PositiveInfinity })
            Assert.Contains("the loss normaliser must be positive and finite",
                Assert.Throws<ArgumentOutOfRangeException>(() => be.SoftmaxCrossEntropy(logits, [0, 1], w, n, dl)).Message);
        be.SoftmaxCrossEntropy(logits, [0, 2], w, 1e-300, dl, new double[2]);   // the edges that are fine
    }

    sealed class Recorder : IExecutorObserver
    {
        public readonly List<(string Layer, LayerPass Pass)> Started = [];
        public readonly List<(string Layer, LayerPass Pass, double Flops)> Ended = [];
        public void LayerStarted(string layer, LayerPass pass) => Started.Add((layer, pass));
        public void LayerEnded(string layer, LayerPass pass, long elapsedTicks, double flops) => Ended.Add((layer, pass, flops));
    }

    [Fact]
    public void The_loss_reports_itself_to_the_profiler_with_five_flops_per_logit()
    {
        using var ex = Ready();
        var rec = new Recorder();
        ex.Observer = rec;
        ex.Loss(Counts, gradient: true);
        Assert.Equal([("loss", LayerPass.Forward)], rec.Started);
        Assert.Equal([("loss", LayerPass.Forward, 5.0 * Lengths.Length * Config.Classes)], rec.Ended);
    }
}
