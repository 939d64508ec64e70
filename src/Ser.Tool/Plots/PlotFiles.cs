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
        WriteAtomically(path, png);
    }

    public static void WriteAtomically(string path, ReadOnlySpan<byte> bytes)
    {
        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full)!;
        if (!Directory.Exists(dir))
            throw new Ser.Engine.SerException($"{path}: folder {dir} does not exist");
        string temp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var fs = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                fs.Write(bytes);
                fs.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }
}
