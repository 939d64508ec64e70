namespace Ser.Engine.Inference;

/// <summary>Temperature scaling, shared by every inference door so that they all report the same probabilities.</summary>
public static class Calibration
{
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
}
