using Ser.Engine.Features;

namespace Ser.Engine.Data;

/// <summary>
/// A deliberately simple reference classifier, to tell how hard a corpus is before training the CRNN:
/// each utterance becomes the per-band mean and std over time of its dB spectrogram (40 bands of 100 Hz → 80 values),
/// z-scored with the training split's statistics, then a class-balanced multinomial logistic regression
/// (full-batch gradient descent, 300 steps, rate 0.05, L2 0.01) is trained on each fold's training split and scored on its
/// test speaker. On the default synthetic corpus it lands near 50–60% UA: well above chance (25%), well below perfect,
/// since it sees only utterance averages while the emotion sits in part of each utterance.
/// </summary>
public static class SpectralBaseline
{
    public const int Bands = 40;

    public sealed record FoldResult(int Fold, string TestSpeakers, double UnweightedAccuracy, double WeightedAccuracy, int[,] Confusion);

    /// <summary>[N][2·Bands] utterance descriptors from a feature cache (raw dB).</summary>
    public static double[][] Describe(FeatureCache cache)
    {
        int width = cache.Bins / Bands;
        var result = new double[cache.Count][];
        for (int i = 0; i < cache.Count; i++)
        {
            var x = cache.Features(i);   // [T, F]
            int frames = cache.Frames(i);
            var d = new double[2 * Bands];
            for (int b = 0; b < Bands; b++)
            {
                double sum = 0, sq = 0;
                for (int t = 0; t < frames; t++)
                {
                    double v = 0;
                    for (int k = 0; k < width; k++) v += x[t * cache.Bins + b * width + k];
                    v /= width;
                    sum += v;
                    sq += v * v;
                }
                d[b] = sum / frames;
                d[Bands + b] = Math.Sqrt(Math.Max(0, sq / frames - d[b] * d[b]));
            }
            result[i] = d;
        }
        return result;
    }

    public static IReadOnlyList<FoldResult> Evaluate(Corpus corpus, FeatureCache cache)
    {
        var x = Describe(cache);
        int classes = corpus.Classes.Count;
        var results = new List<FoldResult>();
        foreach (var fold in Folds.LeaveOneSessionOut(corpus))
        {
            var model = Train(x, fold.Train, cache, classes);
            var confusion = new int[classes, classes];
            foreach (int i in fold.Test)
                confusion[cache.Label(i), model.Predict(x[i])]++;
            results.Add(new FoldResult(fold.Number, string.Join(",", fold.TestSpeakers), Unweighted(confusion), Weighted(confusion), confusion));
        }
        return results;
    }

    public static double Unweighted(int[,] confusion)
    {
        double sum = 0;
        int present = 0;
        for (int c = 0; c < confusion.GetLength(0); c++)
        {
            int row = 0;
            for (int p = 0; p < confusion.GetLength(1); p++) row += confusion[c, p];
            if (row == 0) continue;   // a class absent from the test speaker does not count
            sum += confusion[c, c] / (double)row;
            present++;
        }
        return present == 0 ? 0 : sum / present;
    }

    static double Weighted(int[,] confusion)
    {
        int right = 0, total = 0;
        for (int c = 0; c < confusion.GetLength(0); c++)
            for (int p = 0; p < confusion.GetLength(1); p++)
            {
                total += confusion[c, p];
                if (c == p) right += confusion[c, p];
            }
        return total == 0 ? 0 : right / (double)total;
    }

    sealed class Model(double[] mean, double[] invStd, double[,] w)
    {
        public int Predict(double[] x)
        {
            int classes = w.GetLength(0), d = mean.Length, best = 0;
            double bestScore = double.NegativeInfinity;
            for (int c = 0; c < classes; c++)
            {
                double s = w[c, d];
                for (int j = 0; j < d; j++) s += w[c, j] * (x[j] - mean[j]) * invStd[j];
                if (s > bestScore) (bestScore, best) = (s, c);
            }
            return best;
        }
    }

    static Model Train(double[][] x, int[] train, FeatureCache cache, int classes)
    {
        int d = x[0].Length, n = train.Length;
        var mean = new double[d];
        var invStd = new double[d];
        foreach (int i in train) for (int j = 0; j < d; j++) mean[j] += x[i][j] / n;
        foreach (int i in train) for (int j = 0; j < d; j++) invStd[j] += (x[i][j] - mean[j]) * (x[i][j] - mean[j]) / n;
        for (int j = 0; j < d; j++) invStd[j] = 1 / (Math.Sqrt(invStd[j]) + 1e-6);
        var z = train.Select(i => x[i].Select((v, j) => (v - mean[j]) * invStd[j]).ToArray()).ToArray();
        var y = train.Select(cache.Label).ToArray();
        var count = new double[classes];
        foreach (int c in y) count[c]++;

        const double rate = 0.05, l2 = 0.01;
        var w = new double[classes, d + 1];   // last column: bias
        var g = new double[classes, d + 1];
        var p = new double[classes];
        for (int step = 0; step < 300; step++)
        {
            Array.Clear(g);
            for (int k = 0; k < n; k++)
            {
                double max = double.NegativeInfinity, total = 0;
                for (int c = 0; c < classes; c++)
                {
                    double s = w[c, d];
                    for (int j = 0; j < d; j++) s += w[c, j] * z[k][j];
                    p[c] = s;
                    max = Math.Max(max, s);
                }
                for (int c = 0; c < classes; c++) total += p[c] = Math.Exp(p[c] - max);
                double weight = 1.0 / (count[y[k]] * classes);   // each class weighs the same in the loss
                for (int c = 0; c < classes; c++)
                {
                    double e = (p[c] / total - (c == y[k] ? 1 : 0)) * weight;
                    for (int j = 0; j < d; j++) g[c, j] += e * z[k][j];
                    g[c, d] += e;
                }
            }
            for (int c = 0; c < classes; c++)
                for (int j = 0; j <= d; j++)
                    w[c, j] -= rate * (g[c, j] + (j < d ? l2 * w[c, j] : 0));
        }
        return new Model(mean, invStd, w);
    }
}
