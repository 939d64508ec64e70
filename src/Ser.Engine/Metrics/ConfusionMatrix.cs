namespace Ser.Engine.Metrics;

/// <summary>
/// Counts of (actual, predicted) class pairs, and the paper's two scores:
/// WA (weighted accuracy) = accuracy over all utterances; UA (unweighted accuracy) = mean of per-class recalls.
/// Rows are actual classes, columns predicted, as in the paper's Tables 2 and 3.
/// </summary>
public sealed class ConfusionMatrix
{
    readonly long[,] _counts;

    public ConfusionMatrix(IReadOnlyList<string> labels)
    {
        if (labels.Count == 0) throw new ArgumentException("at least one class is needed", nameof(labels));
        Labels = labels.ToArray();
        _counts = new long[labels.Count, labels.Count];
    }

    public IReadOnlyList<string> Labels { get; }
    public int ClassCount => Labels.Count;

    public long this[int actual, int predicted] => _counts[actual, predicted];

    public long Total { get; private set; }

    /// <summary>Counts <paramref name="count"/> utterances of class <paramref name="actual"/> predicted as <paramref name="predicted"/>.</summary>
    public void Add(int actual, int predicted, long count = 1)
    {
        if ((uint)actual >= (uint)ClassCount) throw new ArgumentOutOfRangeException(nameof(actual));
        if ((uint)predicted >= (uint)ClassCount) throw new ArgumentOutOfRangeException(nameof(predicted));
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        _counts[actual, predicted] += count;
        Total += count;
    }

    /// <summary>Adds another matrix over the same labels (pooling folds).</summary>
    public void Add(ConfusionMatrix other)
    {
        if (!other.Labels.SequenceEqual(Labels)) throw new ArgumentException("label sets differ", nameof(other));
        for (int a = 0; a < ClassCount; a++)
            for (int p = 0; p < ClassCount; p++)
                _counts[a, p] += other._counts[a, p];
        Total += other.Total;
    }

    public long ActualCount(int actual)
    {
        long n = 0;
        for (int p = 0; p < ClassCount; p++) n += _counts[actual, p];
        return n;
    }

    /// <summary>Recall of one class, or NaN when the class has no utterances.</summary>
    public double Recall(int actual)
    {
        long n = ActualCount(actual);
        return n == 0 ? double.NaN : (double)_counts[actual, actual] / n;
    }

    /// <summary>WA: correct / total (NaN when empty).</summary>
    public double WeightedAccuracy
    {
        get
        {
            if (Total == 0) return double.NaN;
            long correct = 0;
            for (int c = 0; c < ClassCount; c++) correct += _counts[c, c];
            return (double)correct / Total;
        }
    }

    /// <summary>UA: mean recall over the classes that occur (a class absent from the test set has no recall).</summary>
    public double UnweightedAccuracy
    {
        get
        {
            var recalls = Enumerable.Range(0, ClassCount).Select(Recall).Where(r => !double.IsNaN(r)).ToArray();
            return recalls.Length == 0 ? double.NaN : recalls.Average();
        }
    }

    /// <summary>Row-normalised percentages (rows actual, columns predicted); rows without utterances are zero.</summary>
    public double[,] RowPercent()
    {
        var pct = new double[ClassCount, ClassCount];
        for (int a = 0; a < ClassCount; a++)
        {
            long n = ActualCount(a);
            for (int p = 0; p < ClassCount && n > 0; p++) pct[a, p] = 100.0 * _counts[a, p] / n;
        }
        return pct;
    }

    public long[][] ToJaggedCounts() =>
        Enumerable.Range(0, ClassCount).Select(a => Enumerable.Range(0, ClassCount).Select(p => _counts[a, p]).ToArray()).ToArray();
}
