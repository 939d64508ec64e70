using ScottPlot;

namespace Ser.Tool.Plots;

/// <summary>
/// A dB spectrogram [T, F] as a heatmap: time (s) on x, frequency (Hz) on y with 0 Hz at the bottom,
/// colour bar in dB. The colour map spans the loudest cell down to <c>rangeDb</c> below it, so the
/// -100 dB floor of silent stretches does not flatten the speech into one colour.
/// </summary>
internal static class SpectrogramPlot
{
    /// <param name="db">[frames, bins] row-major dB values.</param>
    /// <param name="secondsPerFrame">hop in seconds (frame t is drawn over [t, t+1) * hop).</param>
    /// <param name="hzPerBin">bin spacing (bin k is drawn over [k, k+1) * spacing).</param>
    public static Plot Create(ReadOnlySpan<float> db, int frames, int bins, double secondsPerFrame, double hzPerBin,
                              string title, int maxColumns, double rangeDb)
    {
        if (frames < 1 || bins < 1 || db.Length != frames * bins)
            throw new ArgumentException($"spectrogram has {db.Length} values, not {frames} x {bins}");
        ArgumentOutOfRangeException.ThrowIfLessThan(maxColumns, 1);

        // Long files: average runs of frames into at most maxColumns columns (a bitmap wider than the
        // image gains nothing and costs memory).
        int columns = Math.Min(frames, maxColumns);
        var cells = new double[bins, columns];            // [F, columns]; row 0 = 0 Hz
        var counts = new int[columns];
        for (int t = 0; t < frames; t++)
        {
            int c = (int)((long)t * columns / frames);
            counts[c]++;
            var row = db.Slice(t * bins, bins);
            for (int k = 0; k < bins; k++)
                cells[k, c] += row[k];
        }
        double max = double.NegativeInfinity;
        for (int c = 0; c < columns; c++)
            for (int k = 0; k < bins; k++)
            {
                cells[k, c] /= counts[c];
                max = Math.Max(max, cells[k, c]);
            }

        var plot = new Plot();
        var heatmap = plot.Add.Heatmap(cells);
        heatmap.FlipVertically = true;                     // ScottPlot draws row 0 at the top by default
        heatmap.Colormap = new ScottPlot.Colormaps.Inferno();
        heatmap.Rectangle = new CoordinateRect(0, frames * secondsPerFrame, 0, bins * hzPerBin);
        heatmap.ManualRange = new ScottPlot.Range(max - rangeDb, max);

        var colorBar = plot.Add.ColorBar(heatmap);
        colorBar.Label = "Power (dB)";

        plot.Title(title);
        plot.XLabel("Time (s)");
        plot.YLabel("Frequency (Hz)");
        plot.Axes.SetLimits(0, frames * secondsPerFrame, 0, bins * hzPerBin);
        return plot;
    }
}
