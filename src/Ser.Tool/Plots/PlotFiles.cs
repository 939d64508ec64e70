using ScottPlot;

namespace Ser.Tool.Plots;

/// <summary>Saving plots: PNG bytes written atomically (temp file in the same folder, then rename).</summary>
internal static class PlotFiles
{
    public static void SavePng(Plot plot, string path, int width, int height)
    {
        if (width < 100 || height < 100 || width > 20000 || height > 20000)
            throw new Ser.Engine.SerException($"{path}: image size {width}x{height} is outside 100..20000 pixels");
        byte[] png = plot.GetImageBytes(width, height, ImageFormat.Png);
        Ser.Engine.IO.AtomicFile.WriteAllBytes(path, png);
    }
}
