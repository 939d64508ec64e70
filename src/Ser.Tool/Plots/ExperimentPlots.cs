using ScottPlot;
using Ser.Engine.Experiments;
using Ser.Engine.Metrics;

namespace Ser.Tool.Plots;

/// <summary>The pictures of an experiment: the confusion matrix, the learning curves and the reliability diagram.</summary>
internal static class ExperimentPlots
{
    /// <summary>Row-normalised confusion matrix (rows actual, columns predicted) with the percentage in each cell.</summary>
    public static void SaveConfusion(ConfusionMatrix m, string title, string path)
    {
        int k = m.ClassCount;
        var pct = m.RowPercent();
        var plot = new Plot();
        // ScottPlot draws row 0 of the data at the top (y = k-1), so the first class is the top row as in the paper's tables.
        var heat = plot.Add.Heatmap(pct);
        heat.Colormap = new ScottPlot.Colormaps.Blues().Reversed(); // dark = many
        heat.ManualRange = new ScottPlot.Range(0, 100);
        plot.Add.ColorBar(heat).Label = "percent of actual class";
        for (int a = 0; a < k; a++)
            for (int p = 0; p < k; p++)
            {
                var text = plot.Add.Text($"{pct[a, p]:F1}%", p, k - 1 - a);
                text.LabelAlignment = Alignment.MiddleCenter;
                text.LabelFontSize = 16;
                text.LabelFontColor = pct[a, p] > 55 ? Colors.White : Colors.Black;
            }
        double[] ticks = Enumerable.Range(0, k).Select(i => (double)i).ToArray();
        plot.Axes.Bottom.SetTicks(ticks, m.Labels.ToArray());
        plot.Axes.Left.SetTicks(ticks, m.Labels.Reverse().ToArray());
        plot.XLabel("predicted");
        plot.YLabel("actual");
        plot.Title(title);
        PlotFiles.SavePng(plot, path, 720, 600);
    }

    /// <summary>
    /// Reliability diagram of the pooled test speakers: accuracy against mean confidence in each confidence bin, with T = 1
    /// and with the fitted temperatures; a calibrated model lies on the diagonal. Marker area follows the bin's count.
    /// </summary>
    public static void SaveReliability(Reliability before, Reliability after, string title, string path)
    {
        var plot = new Plot();
        var diagonal = plot.Add.Line(0, 0, 100, 100);
        diagonal.Color = Colors.Gray;
        diagonal.LinePattern = LinePattern.Dotted;
        diagonal.LegendText = "perfect calibration";
        var palette = new ScottPlot.Palettes.Category10();
        foreach (var (r, name, i) in new[] { (before, "T = 1", 0), (after, "calibrated", 1) })
        {
            var bins = Enumerable.Range(0, Reliability.BinCount).Where(b => r.Counts[b] > 0).ToArray();
            if (bins.Length == 0) continue;
            double[] confidence = bins.Select(b => 100 * r.ConfidenceSums[b] / r.Counts[b]).ToArray();
            double[] accuracy = bins.Select(b => 100.0 * r.Correct[b] / r.Counts[b]).ToArray();
            var line = plot.Add.Scatter(confidence, accuracy);
            line.Color = palette.GetColor(i);
            line.MarkerSize = 0;
            line.LegendText = $"{name}: ECE {100 * r.ExpectedCalibrationError:F1}%, NLL {r.NegativeLogLikelihood:F3}";
            long most = bins.Max(b => r.Counts[b]);
            foreach (int b in bins)
            {
                var dot = plot.Add.Marker(100 * r.ConfidenceSums[b] / r.Counts[b], 100.0 * r.Correct[b] / r.Counts[b]);
                dot.Color = palette.GetColor(i);
                dot.Size = (float)(5 + 15 * Math.Sqrt((double)r.Counts[b] / most));
            }
        }
        plot.Axes.SetLimits(0, 100, 0, 100);
        plot.XLabel("mean confidence in bin (%)");
        plot.YLabel("accuracy in bin (%)");
        plot.Title(title);
        plot.ShowLegend(Alignment.UpperLeft);
        PlotFiles.SavePng(plot, path, 720, 600);
    }

    /// <summary>Training loss and validation UA per epoch, one line per fold; the chosen epoch marked.</summary>
    public static void SaveLearningCurves(IReadOnlyList<FoldResult> folds, string title, string path)
    {
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        var rightAxis = plot.Axes.Right;
        for (int i = 0; i < folds.Count; i++)
        {
            var f = folds[i];
            if (f.History.Count == 0) continue;
            double[] epochs = f.History.Select(h => (double)h.Epoch).ToArray();
            var color = palette.GetColor(i);
            var loss = plot.Add.Scatter(epochs, f.History.Select(h => h.TrainLoss).ToArray());
            loss.Color = color;
            loss.LinePattern = LinePattern.Dashed;
            var ua = plot.Add.Scatter(epochs, f.History.Select(h => 100 * h.ValidationUA).ToArray());
            ua.Color = color;
            ua.LegendText = $"fold {f.Fold}";   // one entry per fold: line style says loss or UA
            ua.Axes.YAxis = rightAxis;
            var best = plot.Add.Marker(f.BestEpoch, 100 * f.BestValidationUA);
            best.Color = color;
            best.Size = 12;
            best.Axes.YAxis = rightAxis;
        }
        plot.XLabel("epoch");
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        plot.YLabel("training loss (dashed)");
        rightAxis.Label.Text = "validation UA % (solid; marker = chosen epoch)";
        plot.Title(title);
        plot.ShowLegend(Edge.Right);   // beside the axes, never over the curves
        PlotFiles.SavePng(plot, path, 1040, 600);
    }

    /// <summary>
    /// A comparison of two sets of runs at a glance: each tested speaker's UA difference A − B (one dot per seed, jittered
    /// apart), the pooled difference (line) with its 95% bootstrap interval over speakers (band), and zero (dashed).
    /// </summary>
    public static void SaveComparison(RunComparison c, string nameA, string nameB, string path)
    {
        var plot = new Plot();
        var band = plot.Add.VerticalSpan(100 * c.UA.Low, 100 * c.UA.High); // a band over the y range
        band.FillStyle.Color = Colors.SteelBlue.WithAlpha(0.2);
        band.LineStyle.Width = 0;
        band.LegendText = $"95% CI [{100 * c.UA.Low:+0.0;-0.0}, {100 * c.UA.High:+0.0;-0.0}]";
        var pooled = plot.Add.HorizontalLine(100 * c.UA.Mean);
        pooled.Color = Colors.SteelBlue;
        pooled.LegendText = $"pooled {nameA} − {nameB}: {100 * c.UA.Mean:+0.0;-0.0}";
        var zero = plot.Add.HorizontalLine(0);
        zero.Color = Colors.Gray;
        zero.LinePattern = LinePattern.Dashed;
        var palette = new ScottPlot.Palettes.Category10();
        for (int p = 0; p < c.A.Count; p++)
        {
            double offset = c.A.Count == 1 ? 0 : 0.3 * (p / (c.A.Count - 1.0) - 0.5);
            double[] xs = Enumerable.Range(0, c.Speakers.Count).Select(s => s + offset).ToArray();
            double[] ys = c.Speakers.Select(s => 100 * (c.A[p].Speakers[s].UnweightedAccuracy - c.B[p].Speakers[s].UnweightedAccuracy)).ToArray();
            var dots = plot.Add.ScatterPoints(xs, ys);
            dots.Color = palette.GetColor(p);
            dots.MarkerSize = 9;
            dots.LegendText = $"seed {c.Seeds[p]}";
        }
        plot.Axes.Bottom.SetTicks(Enumerable.Range(0, c.Speakers.Count).Select(i => (double)i).ToArray(), c.Speakers.ToArray());
        plot.XLabel("tested speaker");
        plot.YLabel($"UA {nameA} − UA {nameB} (points)");
        plot.Title($"{nameA} vs {nameB}: per-speaker UA difference");
        plot.ShowLegend(Alignment.UpperRight);
        PlotFiles.SavePng(plot, path, 900, 560);
    }
}
