namespace Ser.Reference.Tests;

/// <summary>
/// DESIGN invariant 1 for the reference itself: a sample's logits and gradients are the same alone (no padding) as
/// inside a padded batch. The batch loss is sum_b w_b CE_b / W, so its gradient is sum_b (w_b / W) * grad CE_b, and
/// a sample alone has loss CE_b (its weight cancels): the batch gradient must equal that mix of single-sample ones.
/// </summary>
public class PaddingInvarianceTests
{
    // Unsorted, with odd lengths so every ceil matters: 17 -> 9 -> 5 -> 3, 9 -> 5 -> 3 -> 2, 4 -> 2 -> 1 -> 1, 1.
    private static readonly int[] Lengths = [9, 17, 1, 4];
    private static readonly int[] Labels = [2, 0, 3, 2];
    private static readonly float[] ClassCounts = [30, 10, 20, 5];

    [Theory]
    [InlineData(true, false, 1e-10)]
    [InlineData(false, false, 2e-5)]
    [InlineData(true, true, 1e-10)] // garbage in the padded frames: the reference masks its input
    public void Sample_alone_equals_sample_in_padded_batch(bool float64, bool garbageInPadding, double tolerance)
    {
        var config = ReferenceConfig.Tiny();
        using var model = new ReferenceCrnn(config, ReferenceCrnn.RandomWeights(config, seed: 3), float64);
        int frames = Lengths.Max(), bins = config.Bins, batch = Lengths.Length;
        var rng = new Random(11);
        var features = new float[batch * frames * bins];                   // [B,T,F]
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < frames; t++)
                for (int f = 0; f < bins; f++)
                    features[(b * frames + t) * bins + f] =
                        t < Lengths[b] ? (float)(rng.NextDouble() * 2 - 1) : garbageInPadding ? 7.5f : 0f;

        var together = model.Step(features, Lengths, Labels, ClassCounts);
        double[] w = Lengths.Select((v, b) => 1.0 / (v * ClassCounts[Labels[b]])).ToArray();
        double total = w.Sum();

        var expectedGradients = together.Gradients.ToDictionary(g => g.Key, g => new double[g.Value.Length]);
        double expectedLoss = 0;
        for (int b = 0; b < batch; b++)
        {
            var own = features.AsSpan(b * frames * bins, Lengths[b] * bins);
            var alone = model.Step(own, [Lengths[b]], [Labels[b]], ClassCounts);
            for (int k = 0; k < config.Classes; k++)
                AssertClose(alone.Logits[k], together.Logits[b * config.Classes + k], tolerance, $"logit {k} of sample {b}");
            Assert.Equal(alone.Logits, model.Logits(own, [Lengths[b]]));
            expectedLoss += w[b] / total * alone.Loss;
            foreach (var (name, g) in alone.Gradients)
                for (int i = 0; i < g.Length; i++) expectedGradients[name][i] += w[b] / total * g[i];
        }

        AssertClose(expectedLoss, together.Loss, tolerance, "loss");
        foreach (var (name, g) in together.Gradients)
        {
            double scale = Math.Max(1e-3, expectedGradients[name].Max(Math.Abs));
            Assert.True(g.Any(v => v != 0), $"{name}: gradient is all zero");
            for (int i = 0; i < g.Length; i++)
                AssertClose(expectedGradients[name][i], g[i], tolerance * scale, $"{name}[{i}]", absolute: true);
        }
    }

    private static void AssertClose(double expected, double actual, double tolerance, string what, bool absolute = false)
    {
        double bound = absolute ? tolerance : tolerance * Math.Max(1, Math.Abs(expected));
        Assert.True(Math.Abs(expected - actual) <= bound, $"{what}: expected {expected:R}, got {actual:R} (tolerance {bound:G3})");
    }
}
