using ScottPlot;
using Ser.Engine.Inference;

namespace Ser.Tool.Plots;

/// <summary>
/// The BiLSTM's hidden states over time as a grey-scale image, like the paper's Figures 3 and 4: time on x, hidden units
/// on y (forward direction's units in the top half, backward's in the bottom half), darker = higher activation on a
/// fixed scale from -1 (white) to 1 (black), the range of h = o * tanh(c).
/// </summary>
internal static class ActivationPlot
{
    public static Plot Create(BiLstmActivations a, string title)
    {
        int h = a.Hidden, steps = a.Steps;
        var cells = new double[2 * h, steps];              // [2H, S]; row 0 (drawn at the top) = forward unit 1
        for (int s = 0; s < steps; s++)
            for (int j = 0; j < h; j++)
            {
                cells[j, s] = a.ForwardAt(s, j);
                cells[h + j, s] = a.BackwardAt(s, j);
            }
        double seconds = steps * a.SecondsPerStep;
        var plot = new Plot();
        var heat = plot.Add.Heatmap(cells);
        heat.Colormap = new ScottPlot.Colormaps.GrayscaleReversed();   // low = white, high = black
        heat.ManualRange = new ScottPlot.Range(-1, 1);
        heat.Rectangle = new CoordinateRect(0, seconds, 0, 2 * h);
        plot.Add.ColorBar(heat).Label = "activation h (darker = higher)";
        var divider = plot.Add.HorizontalLine(h);
        divider.Color = Colors.Red;
        divider.LineWidth = 1.5f;
        plot.Axes.Left.SetTicks([2 * h - 0.5, h + 0.5, h - 0.5, 0.5], ["fw 1", $"fw {h}", "bw 1", $"bw {h}"]);
        plot.XLabel("time (s)");
        plot.YLabel("BiLSTM hidden unit (forward above the red line, backward below)");
        plot.Title(title);
        plot.Axes.SetLimits(0, seconds, 0, 2 * h);
        return plot;
    }
}
