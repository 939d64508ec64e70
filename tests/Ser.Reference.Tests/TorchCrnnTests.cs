using Ser.Engine.Models;

namespace Ser.Reference.Tests;

/// <summary>
/// The benchmark's timed TorchSharp model (batched padded convs + one fused nn.LSTM on a packed, length-sorted batch)
/// computes exactly what the step-by-step oracle computes: logits, loss and every gradient agree to float64 precision on
/// an unsorted ragged batch, so the speed comparison compares like with like.
/// </summary>
public class TorchCrnnTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("tiny", 31)]
    [InlineData("small400", 32)]
    public void Fast_torch_model_matches_the_oracle_in_float64(string configName, int seed)
    {
        var config = configName == "tiny" ? EngineEquivalenceTests.Tiny : ModelConfig.Small;
        var refConfig = ReferenceConfig.From(config);
        int[] lengths = [9, 17, 1, 6, 12]; // unsorted on purpose: the fast model sorts for packing and must restore the order
        var batch = EngineSupport.RaggedBatch(config.Bins, config.Classes, lengths, seed);
        float[] counts = [3, 1, 2, 5];
        var features = batch.Features.AsSpan(0, batch.Count * batch.Frames * batch.Bins).ToArray();
        var labels = batch.Labels[..batch.Count];
        var weights = ReferenceCrnn.RandomWeights(refConfig, seed);

        using var oracle = new ReferenceCrnn(refConfig, weights, float64: true);
        using var fast = new TorchCrnn(refConfig, weights, float64: true);
        var expected = oracle.Step(features, lengths, labels, counts);
        var actual = fast.Gradients(features, lengths, labels, counts);

        Assert.Equal(expected.Logits, fast.Logits(features, lengths), (a, b) => Math.Abs(a - b) <= 1e-12);
        Assert.Equal(expected.Logits, actual.Logits, (a, b) => Math.Abs(a - b) <= 1e-12);
        Assert.True(Math.Abs(expected.Loss - actual.Loss) <= 1e-12, $"loss {actual.Loss} vs {expected.Loss}");
        Assert.Equal(expected.Gradients.Keys.Order(), actual.Gradients.Keys.Order());
        foreach (var (name, g) in expected.Gradients)
        {
            double scale = g.Max(Math.Abs);
            Assert.True(scale > 0, $"{name}: zero gradient");
            for (int i = 0; i < g.Length; i++)
                Assert.True(Math.Abs(g[i] - actual.Gradients[name][i]) <= 1e-10 * scale,
                    $"d{name}[{i}]: fast {actual.Gradients[name][i]:R}, oracle {g[i]:R}");
        }
    }

    [Fact]
    public void Training_steps_follow_the_engine_step_for_step()
    {
        // Same weights, same batch, dropout off: torch.optim.Adam and the engine's Adam must walk the same path, so the
        // benchmark's "training step" is the same computation on both sides. Adam's step is lr * m / (sqrt(v) + eps):
        // with the default eps 1e-8 a gradient at float32's noise floor (~1e-7 of the tensor's largest, and different
        // on AVX2 and AVX-512 kernels) still moves its weight by ~lr, in a direction set by noise. With eps = 1e-4 the
        // step is ~lr * g / eps for such gradients (at most ~1e-6 here), and ~lr * sign(g) for real ones, which the two
        // sides agree on: the weights then agree to float32 rounding of the steps taken (5 steps of lr 1e-3).
        const double eps = 1e-4;
        var config = ModelConfig.Small with { Dropout = 0 };
        var batch = EngineSupport.RaggedBatch(config.Bins, config.Classes, [14, 5, 1, 9], seed: 12);
        var features = batch.Features.AsSpan(0, batch.Count * batch.Frames * batch.Bins).ToArray();
        float[] counts = [2, 1, 3, 1];
        using var engine = EngineSupport.CreateEngine(config, batch, 12);
        engine.Adam = engine.Adam with { Epsilon = eps };
        using var fast = new TorchCrnn(ReferenceConfig.From(config), EngineSupport.WeightsOf(engine)) { AdamEpsilon = eps };
        var losses = new List<(double Engine, double Torch)>();
        for (int step = 0; step < 5; step++)
            losses.Add((engine.TrainStep(batch, counts).Loss, fast.TrainStep(features, batch.Lengths, batch.Labels, counts)));
        // float32 loss of 4 samples: rounding ~1e-7 relative; 1e-5 leaves room for 5 steps of float32 weight drift.
        foreach (var (e, t) in losses) Assert.True(Math.Abs(e - t) <= 1e-5 * Math.Abs(t), $"losses engine/torch: {string.Join(", ", losses)}");
        Assert.True(losses[^1].Torch < losses[0].Torch, $"loss did not fall: {string.Join(", ", losses)}");
        double worst = 0;
        foreach (var (name, w) in fast.Weights())
        {
            var mine = engine.GetParameter(name);
            for (int i = 0; i < w.Data.Length; i++)
            {
                worst = Math.Max(worst, Math.Abs(mine[i] - w.Data[i]));
                // A real disagreement (a wrong gradient, a different Adam) moves a weight by ~lr per step (1e-3); rounding
                // moved none by more than 2e-7 on AVX2 and AVX-512 kernels (ONEDNN_MAX_CPU_ISA=AVX2, AVX512_CORE).
                Assert.True(Math.Abs(mine[i] - w.Data[i]) <= 1e-5, $"{name}[{i}] after 5 steps: engine {mine[i]}, torch {w.Data[i]}");
            }
        }
        output.WriteLine($"losses (engine, torch): {string.Join(", ", losses)}; max |weight diff| after 5 Adam steps {worst:E2} (lr 1e-3, eps {eps})");
    }
}
