using Ser.Engine.Inference;
using Ser.Engine.Metrics;

namespace Ser.Engine.Tests.Inference;

public class CalibrationTests
{
    [Fact]
    public void Temperature_turns_softmax_of_z_into_softmax_of_z_over_t()
    {
        double[] z = [1.5, -0.25, 0.75, -2.0];
        float[] p = Softmax(z, 1);
        Calibration.ApplyTemperature(p, 2.5f);
        var expected = Softmax(z, 2.5);
        for (int k = 0; k < z.Length; k++) Assert.True(Math.Abs(p[k] - expected[k]) <= 1e-6, $"p[{k}] = {p[k]}, softmax(z/T) = {expected[k]}");
    }

    [Fact]
    public void Temperature_one_leaves_the_bits_alone_and_bad_temperatures_are_refused()
    {
        float[] p = [0.1f, 0.2f, 0.3f, 0.4f];
        var before = p.ToArray();
        Calibration.ApplyTemperature(p, 1f);
        Assert.Equal(before, p);
        Assert.Throws<ArgumentOutOfRangeException>(() => Calibration.ApplyTemperature(p, 0f));
        Assert.Throws<ArgumentOutOfRangeException>(() => Calibration.ApplyTemperature(p, float.NaN));
    }

    /// <summary>
    /// Utterances whose labels are drawn from softmax(z) but whose reported posteriors are softmax(z / t): a model that is
    /// over-confident (t &lt; 1) or under-confident (t &gt; 1) by a known factor. [U, K] posteriors and [U] labels.
    /// </summary>
    static (float[] Posteriors, int[] Labels) Miscalibrated(int utterances, double t, int seed)
    {
        const int k = 4;
        var rng = new Random(seed);
        var posteriors = new float[utterances * k];
        var labels = new int[utterances];
        for (int u = 0; u < utterances; u++)
        {
            var z = Enumerable.Range(0, k).Select(_ => 1.5 * Normal(rng)).ToArray();
            var truth = Softmax(z, 1);
            double r = rng.NextDouble(), c = 0;
            labels[u] = k - 1;
            for (int j = 0; j < k; j++) if (r < (c += truth[j])) { labels[u] = j; break; }
            Softmax(z, t).CopyTo(posteriors, u * k);
        }
        return (posteriors, labels);
    }

    static double Normal(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

    [Theory]
    [InlineData(1 / 3.0)]   // over-confident: the fitted T should undo it (T ≈ 3)
    [InlineData(2.0)]       // under-confident: T ≈ 0.5
    public void A_fitted_temperature_undoes_a_known_miscalibration_and_helps_held_out_data(double t)
    {
        var (fitP, fitY) = Miscalibrated(4000, t, seed: 1);
        var (heldP, heldY) = Miscalibrated(4000, t, seed: 2);
        float fitted = Calibration.FitTemperature(fitP, fitY);
        // 4000 draws pin the NLL minimum to within a few percent of 1/t (the sampling error of the fit).
        Assert.True(Math.Abs(fitted * t - 1) < 0.1, $"fitted T = {fitted}, expected about {1 / t}");

        var before = Reliability.Of(heldP, heldY);
        var calibrated = heldP.ToArray();
        for (int u = 0; u < heldY.Length; u++) Calibration.ApplyTemperature(calibrated.AsSpan(u * 4, 4), fitted);
        var after = Reliability.Of(calibrated, heldY);
        Assert.True(after.NegativeLogLikelihood < before.NegativeLogLikelihood - 0.01,
            $"held-out NLL {before.NegativeLogLikelihood:F4} -> {after.NegativeLogLikelihood:F4}");
        Assert.True(after.ExpectedCalibrationError < before.ExpectedCalibrationError / 2,
            $"held-out ECE {before.ExpectedCalibrationError:F4} -> {after.ExpectedCalibrationError:F4}");
        Assert.True(after.ExpectedCalibrationError < 0.03, $"calibrated ECE {after.ExpectedCalibrationError:F4}");
    }

    [Fact]
    public void A_calibrated_model_keeps_t_near_one_and_no_data_gives_one()
    {
        var (p, y) = Miscalibrated(4000, 1, seed: 3);
        float fitted = Calibration.FitTemperature(p, y);
        Assert.True(Math.Abs(fitted - 1) < 0.1, $"fitted T = {fitted}");
        Assert.Equal(1f, Calibration.FitTemperature([], []));
    }

    static float[] Softmax(double[] z, double t)
    {
        var e = z.Select(v => Math.Exp(v / t)).ToArray();
        return e.Select(v => (float)(v / e.Sum())).ToArray();
    }
}
