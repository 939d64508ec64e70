using Ser.Engine.Models;
using Ser.Engine.Training;

namespace Ser.Engine.Tests.Training;

/// <summary>
/// Gradient-norm clipping as training uses it (Executor.TrainStep with AdamOptions.ClipNorm, 5 by default in training):
/// a gradient of known norm G, then one step. On Adam's first step the update is lr * g_s / (|g_s| + eps) with
/// g_s = g * min(1, clip / G); with eps = 1 it is proportional to g_s where |g_s| is small, so the clip scale shows in
/// the update (with the default eps = 1e-8 the first update is lr * sign(g), whatever the scale).
/// </summary>
public class ClippingTests
{
    static readonly ModelConfig Config = new()
    {
        Bins = 16, Channels = [2, 3, 4], Kernels = [[3, 3], [3, 2], [2, 2]], Hidden = 5, Dense = 6, Classes = 4,
        Dropout = 0, // the training forward equals the gradient-only forward
    };

    const double LearningRate = 1, Epsilon = 1; // a large step, so the updates stand far above float rounding of the weights

    static Executor Create()
    {
        var ex = Executor.Create(Config, new ExecutorOptions { MaxBatch = 4, MaxFrames = 30, Threads = 2 });
        ex.InitializeParameters(21, InitMode.AllPathsLive);
        return ex;
    }

    static Ser.Engine.Data.Batch Batch() => SyntheticBatches.Make(SyntheticBatches.Set(6, 4, Config.Bins, Config.Classes, 5, 30), Config.Bins);

    [Theory]
    [InlineData(1.0 / 50)]   // a gradient 50 times the clip norm: scaled down by 50
    [InlineData(1.0 / 1.5)]
    [InlineData(2.0)]        // below the clip norm: untouched
    public void The_update_follows_the_gradient_scaled_to_the_clip_norm(double clipOverNorm)
    {
        var batch = Batch();
        // The gradient, without an update.
        using var probe = Create();
        probe.ComputeGradients(batch);
        var g = probe.ParameterNames.ToDictionary(n => n, probe.GetGradient);
        double norm = Math.Sqrt(g.Values.Sum(v => v.Sum(x => (double)x * x)));
        Assert.True(norm > 1e-3, $"gradient norm {norm} too small to test clipping");

        double clip = norm * clipOverNorm;
        double scale = Math.Min(1, clip / norm);
        using var ex = Create();
        ex.Adam = new AdamOptions { LearningRate = LearningRate, Epsilon = Epsilon, ClipNorm = clip };
        var before = ex.ParameterNames.ToDictionary(n => n, ex.GetParameter);
        var step = ex.TrainStep(batch);
        Assert.Equal(norm, step.GradientNorm, norm * 1e-5); // the norm before clipping, summed in another order

        int resolved = 0;
        foreach (var name in ex.ParameterNames)
        {
            var after = ex.GetParameter(name);
            for (int i = 0; i < after.Length; i++)
            {
                double gs = g[name][i] * scale;
                double expected = -LearningRate * gs / (Math.Abs(gs) + Epsilon);
                double actual = (double)after[i] - before[name][i];
                // float32: p rounds once when the update lands (half an ulp of |p|), the update itself is a few float
                // operations (relative 1e-6); the gradient comes from the same code on the same input.
                double ulp = Math.Max(float.Epsilon, MathF.BitIncrement(Math.Max(Math.Abs(after[i]), Math.Abs(before[name][i]))) -
                                                     Math.Max(Math.Abs(after[i]), Math.Abs(before[name][i])));
                double tolerance = ulp + 1e-5 * Math.Abs(expected);
                Assert.True(Math.Abs(actual - expected) <= tolerance,
                    $"{name}[{i}]: update {actual:E4}, expected {expected:E4} (g {g[name][i]:E4}, scale {scale:G4}, tolerance {tolerance:E2})");
                if (Math.Abs(expected) > 100 * ulp) resolved++;
            }
        }
        // Most updates are far above float rounding, so the comparison above really measures the scale.
        Assert.True(resolved > ex.ParameterCount / 2, $"only {resolved} of {ex.ParameterCount} updates are resolvable");
    }
}
