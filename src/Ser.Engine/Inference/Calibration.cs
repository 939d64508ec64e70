namespace Ser.Engine.Inference;

/// <summary>
/// Temperature scaling (Guo et al. 2017), shared by every inference door so that they all report the same probabilities,
/// and fitted once per trained model on its model-selecting (validation) speaker.
/// </summary>
public static class Calibration
{
    /// <summary>The range a fitted temperature is searched in; a fit at either end says the data could not pin it down.</summary>
    public const float MinTemperature = 0.05f, MaxTemperature = 20f;

    /// <summary>
    /// Turns softmax(z) into softmax(z / T) in place. log p = z - logsumexp(z), and the constant shift cancels in the
    /// second softmax, so the logits are not needed. T = 1 leaves the values untouched (bit for bit).
    /// </summary>
    public static void ApplyTemperature(Span<float> probabilities, float temperature)
    {
        if (temperature == 1f) return;
        if (!(temperature > 0) || !float.IsFinite(temperature))
            throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "temperature must be positive and finite");
        double max = double.NegativeInfinity;
        Span<double> z = stackalloc double[probabilities.Length];  // [K] log p / T
        for (int k = 0; k < z.Length; k++)
        {
            z[k] = Math.Log(Math.Max(probabilities[k], float.Epsilon)) / temperature;
            max = Math.Max(max, z[k]);
        }
        double sum = 0;
        for (int k = 0; k < z.Length; k++) sum += z[k] = Math.Exp(z[k] - max);
        for (int k = 0; k < z.Length; k++) probabilities[k] = (float)(z[k] / sum);
    }

    /// <summary>
    /// The temperature that minimises the mean negative log-likelihood of softmax(log p / T) on labelled posteriors
    /// [U, K] (the uncalibrated ones, T = 1). With β = 1/T the NLL is convex in β (a log-sum-exp of lines minus a line),
    /// so a golden-section search over β finds the one minimum; it is done on log β to spread the precision evenly over
    /// [<see cref="MinTemperature"/>, <see cref="MaxTemperature"/>]. No data, or posteriors that never err, give T = 1.
    /// </summary>
    public static float FitTemperature(ReadOnlySpan<float> posteriors, ReadOnlySpan<int> labels)
    {
        if (labels.Length == 0) return 1f;
        int k = posteriors.Length / labels.Length;
        if (k * labels.Length != posteriors.Length || k < 2) throw new ArgumentException("posteriors must be [U, K] with K >= 2", nameof(posteriors));
        var logp = new double[posteriors.Length];                     // [U, K] log p, floored like ApplyTemperature
        for (int i = 0; i < logp.Length; i++) logp[i] = Math.Log(Math.Max(posteriors[i], float.Epsilon));
        var y = labels.ToArray();

        double Nll(double logBeta)
        {
            double beta = Math.Exp(logBeta), sum = 0;
            for (int u = 0; u < y.Length; u++)
            {
                var row = logp.AsSpan(u * k, k);
                double max = double.NegativeInfinity;
                foreach (double v in row) max = Math.Max(max, beta * v);
                double z = 0;
                foreach (double v in row) z += Math.Exp(beta * v - max);
                sum += max + Math.Log(z) - beta * row[y[u]];
            }
            return sum / y.Length;
        }

        double lo = -Math.Log(MaxTemperature), hi = -Math.Log(MinTemperature);   // log β
        double g = (Math.Sqrt(5) - 1) / 2;
        double a = hi - g * (hi - lo), b = lo + g * (hi - lo), fa = Nll(a), fb = Nll(b);
        for (int i = 0; i < 80 && hi - lo > 1e-7; i++)
        {
            if (fa <= fb) { hi = b; b = a; fb = fa; a = hi - g * (hi - lo); fa = Nll(a); }
            else { lo = a; a = b; fa = fb; b = lo + g * (hi - lo); fb = Nll(b); }
        }
        double best = (lo + hi) / 2;
        // A flat NLL (e.g. every utterance right with p = 1) leaves the search anywhere: keep T = 1 unless it helps.
        return Nll(best) < Nll(0) ? (float)Math.Exp(-best) : 1f;
    }
}
