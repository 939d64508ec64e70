using ScottPlot;
using Ser.Engine.Profiling;

namespace Ser.Tool.Plots;

/// <summary>Per-layer time of a training step as horizontal stacked bars (forward, then backward/update), first layer on top.</summary>
internal static class ProfilePlot
{
    public static void Save(StepProfile profile, string title, string path)
    {
        var layers = profile.Layers;
        int n = layers.Count;
        var forwardColor = Colors.SteelBlue;
        var backwardColor = Colors.DarkOrange;
        var bars = new List<Bar>();
        double longest = layers.Count == 0 ? 1 : layers.Max(l => l.TotalSeconds) * 1000;
        for (int i = 0; i < n; i++)
        {
            var l = layers[i];
            double y = n - 1 - i; // first layer at the top
            double fwd = l.ForwardSeconds * 1000, bwd = l.BackwardSeconds * 1000;
            bars.Add(new Bar { Position = y, ValueBase = 0, Value = fwd, FillColor = forwardColor, LineWidth = 0 });
            bars.Add(new Bar
            {
                Position = y, ValueBase = fwd, Value = fwd + bwd, FillColor = backwardColor, LineWidth = 0,
                // the rate only where the layer matters: tiny layers' rates are timer noise
                Label = $"{100 * profile.Share(l):F1}%" +
                        (l.TotalFlops > 0 && profile.Share(l) >= 0.005 ? $"  {l.TotalFlops / l.TotalSeconds / 1e9:F1} GFLOP/s" : ""),
            });
        }
        var plot = new Plot();
        var barPlot = plot.Add.Bars(bars);
        barPlot.Horizontal = true;
        barPlot.ValueLabelStyle.FontSize = 12;
        plot.Axes.Left.SetTicks(Enumerable.Range(0, n).Select(i => (double)(n - 1 - i)).ToArray(), layers.Select(l => l.Layer).ToArray());
        plot.Axes.SetLimitsX(0, longest * 1.45); // room for the labels right of the longest bar
        plot.Axes.SetLimitsY(-0.7, n - 0.3);
        plot.XLabel("median time per training step (ms): forward + backward (adam: update); label = share of the step, achieved rate");
        plot.Title(title);
        plot.Legend.ManualItems.Add(new LegendItem { LabelText = "forward", FillColor = forwardColor });
        plot.Legend.ManualItems.Add(new LegendItem { LabelText = "backward / update", FillColor = backwardColor });
        plot.ShowLegend(Alignment.LowerRight);
        PlotFiles.SavePng(plot, path, 1100, Math.Max(420, 110 + 26 * n));
    }
}
