using Ser.Engine.Backends.Cpu;
using Ser.Engine.Graph;
using Ser.Engine.Models;

namespace Ser.Engine.Tests.Graph;

/// <summary>
/// Invariant 1: a sample's logits, loss and parameter gradients are the same run alone without padding as inside a
/// padded batch (float32). The batch gradient must equal sum_b (w_b / sum w) g_b with g_b the sample's own gradient.
/// Padded frames of the batch hold large garbage: the engine must never read them.
/// </summary>
public class PaddingInvarianceTests
{
    static readonly ModelConfig Config = new()
    {
        Bins = 24,
        Channels = [3, 4, 4],
        Kernels = [[4, 5], [3, 4], [3, 3]],
        Hidden = 6,
        Dense = 5,
        Classes = 4,
        Dropout = 0.5, // inactive in these passes (evaluation mode), as in every equivalence test
    };

    [Theory]
    [InlineData(1, 11, SimdPath.Scalar)]
    [InlineData(1, 11, SimdPath.Vector256)]
    [InlineData(1, 11, SimdPath.Vector512)]
    [InlineData(2, 12, SimdPath.Scalar)]
    [InlineData(2, 12, SimdPath.Vector256)]
    [InlineData(2, 12, SimdPath.Vector512)]
    public void Sample_alone_equals_sample_in_padded_batch(int threads, int seed, SimdPath path)
    {
        SimdPaths.Require(path);
        int[] lengths = [23, 1, 8, 17, 5, 2, 3];
        using var ex = new GraphExecutor<float>(Config, new CpuBackend<float>(threads, path), lengths.Length, lengths.Max(), training: true);
        PaddingInvariance.AssertHolds(ex, lengths, new Random(seed), checkAloneLossIsCe: true);
    }
}

/// <summary>The padding-invariance check, for any backend (the CUDA tests run it on the GPU).</summary>
internal static class PaddingInvariance
{
    /// <summary>Features [B, T, F] with T = max length: random values in valid frames, 1e4 garbage in padding.</summary>
    public static float[] RaggedFeatures(Random r, int[] lengths, int frames, int bins)
    {
        var x = new float[lengths.Length * frames * bins];
        for (int b = 0; b < lengths.Length; b++)
        for (int t = 0; t < frames; t++)
        for (int f = 0; f < bins; f++)
            x[(b * frames + t) * bins + f] = t < lengths[b] ? (float)(r.NextDouble() * 3 - 1.5) : 1e4f;
        return x;
    }

    /// <summary>
    /// Runs the batch of <paramref name="lengths"/> (garbage padding), then each sample alone, on <paramref name="ex"/>
    /// (built for B = lengths.Length, T = max length): logits and CE per sample agree, and the batch gradient is the
    /// loss-weighted mean of the samples' own gradients.
    /// </summary>
    /// <param name="checkAloneLossIsCe">Also check that a sample's loss run alone equals its CE to 12 digits.</param>
    public static void AssertHolds(GraphExecutor<float> ex, int[] lengths, Random r, bool checkAloneLossIsCe = false)
    {
        var config = ex.Config;
        int batch = lengths.Length, frames = lengths.Max(), bins = config.Bins, k = config.Classes;
        int[] labels = lengths.Select(_ => r.Next(k)).ToArray();
        float[] counts = [3, 1, 2, 5];
        var features = RaggedFeatures(r, lengths, frames, bins);
        ex.InitializeParameters(3, InitMode.AllPathsLive);
        int np = ex.Parameters.Count;

        ex.SetInput(features, batch, frames, lengths, labels);
        ex.Forward(training: false);
        var perSample = new double[batch];
        double loss = ex.Loss(counts, gradient: true, perSample);
        var weights = ex.LossWeights.ToArray();
        var logits = ex.Logits().ToArray();
        ex.Backward();
        var batchGrads = Enumerable.Range(0, np).Select(p => Read(ex, ex.GradientView(p))).ToArray();

        double weightSum = weights.Sum();
        Assert.Equal(weights.Zip(perSample).Sum(p => p.First * p.Second) / weightSum, loss, 1e-6);
        var expected = batchGrads.Select(g => new double[g.Length]).ToArray();
        for (int b = 0; b < batch; b++)
        {
            var alone = features.AsSpan(b * frames * bins, lengths[b] * bins).ToArray();
            ex.SetInput(alone, 1, lengths[b], [lengths[b]], [labels[b]]);
            ex.Forward(training: false);
            var ce = new double[1];
            double single = ex.Loss(counts, gradient: true, ce);
            if (checkAloneLossIsCe) Assert.Equal(ce[0], single, 12);         // alone, the loss is the sample's CE
            Check.Close(logits.AsSpan(b * k, k), ex.Logits(), 1e-5, 1e-6, $"logits of sample {b}");
            Assert.Equal(perSample[b], ce[0], 1e-5);
            ex.Backward();
            for (int p = 0; p < np; p++)
            {
                var g = Read(ex, ex.GradientView(p));
                for (int i = 0; i < g.Length; i++) expected[p][i] += weights[b] / weightSum * g[i];
            }
        }
        for (int p = 0; p < np; p++)
        {
            double scale = expected[p].Max(Math.Abs);
            Check.Close(expected[p], batchGrads[p], 1e-4, 1e-5 * scale + 1e-9, ex.Parameters[p].Name);
        }
    }

    static double[] Read(GraphExecutor<float> ex, Ser.Engine.Tensors.TensorView v)
    {
        var a = new float[v.Elements];
        ex.Backend.Download(v, a);
        return a.Select(x => (double)x).ToArray();
    }
}
