using System.Numerics.Tensors;
using System.Text.Json.Serialization;

namespace Ser.Engine.Metrics;

/// <summary>
/// How well predicted probabilities match how often they are right, on labelled utterances: the negative log-likelihood
/// of the true class, and the expected calibration error (ECE) over <see cref="BinCount"/> equal-width bins of the top
/// class's probability (confidence): ECE = Σ_b n_b/N · |accuracy_b − mean confidence_b|. Kept as sums so that folds pool
/// exactly and a reliability diagram can be drawn from them.
/// </summary>
public sealed class Reliability
{
    public const int BinCount = 15;

    /// <summary>[bins] utterances whose confidence fell in the bin.</summary>
    [JsonPropertyName("counts")] public long[] Counts { get; set; } = new long[BinCount];
    /// <summary>[bins] sum of those utterances' confidence.</summary>
    [JsonPropertyName("confidence_sums")] public double[] ConfidenceSums { get; set; } = new double[BinCount];
    /// <summary>[bins] how many of them were predicted correctly.</summary>
    [JsonPropertyName("correct")] public long[] Correct { get; set; } = new long[BinCount];
    /// <summary>Σ −ln p(true class) over all utterances (p floored at 1e-12).</summary>
    [JsonPropertyName("nll_sum")] public double NllSum { get; set; }

    [JsonIgnore] public long Total => Counts.Sum();
    [JsonIgnore] public double NegativeLogLikelihood => Total == 0 ? double.NaN : NllSum / Total;

    [JsonIgnore]
    public double ExpectedCalibrationError
    {
        get
        {
            long total = Total;
            if (total == 0) return double.NaN;
            double ece = 0;
            for (int b = 0; b < BinCount; b++)
                if (Counts[b] > 0) ece += Math.Abs(Correct[b] - ConfidenceSums[b]) / total;   // n_b/N · |acc_b − conf_b|
            return ece;
        }
    }

    /// <summary>Adds one utterance: its posterior [K] (summing to 1) and true class.</summary>
    public void Add(ReadOnlySpan<float> posterior, int label)
    {
        if ((uint)label >= (uint)posterior.Length) throw new ArgumentOutOfRangeException(nameof(label));
        int top = TensorPrimitives.IndexOfMax(posterior);   // the prediction, as the confusion matrix takes it
        double confidence = posterior[top];
        int bin = Math.Clamp((int)(confidence * BinCount), 0, BinCount - 1);   // [b/15, (b+1)/15); 1.0 in the last bin
        Counts[bin]++;
        ConfidenceSums[bin] += confidence;
        if (top == label) Correct[bin]++;
        NllSum -= Math.Log(Math.Max(posterior[label], 1e-12));
    }

    /// <summary>Pools another set of utterances (folds of one run).</summary>
    public void Add(Reliability other)
    {
        for (int b = 0; b < BinCount; b++)
        {
            Counts[b] += other.Counts[b];
            ConfidenceSums[b] += other.ConfidenceSums[b];
            Correct[b] += other.Correct[b];
        }
        NllSum += other.NllSum;
    }

    /// <summary>The reliability of posteriors [U, K] against labels [U].</summary>
    public static Reliability Of(ReadOnlySpan<float> posteriors, ReadOnlySpan<int> labels)
    {
        int k = posteriors.Length / Math.Max(1, labels.Length);
        var r = new Reliability();
        for (int u = 0; u < labels.Length; u++) r.Add(posteriors.Slice(u * k, k), labels[u]);
        return r;
    }
}
