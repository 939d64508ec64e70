namespace Ser.Engine.IO;

/// <summary>
/// Writes a file so that readers see either the old contents or the new, never a torn file:
/// write a temporary file beside the target, flush it to disk, then rename over the target.
/// </summary>
public static class AtomicFile
{
    /// <summary>
    /// Test seam: wraps the temporary file's stream, so a test can make a write fail midway (as a full disk does) and
    /// check that the old file survives. Per async flow, so tests running in parallel do not see each other's. Null in
    /// production.
    /// </summary>
    internal static readonly AsyncLocal<Func<Stream, Stream>?> StreamFilter = new();

    public static void Write(string path, Action<Stream> write)
    {
        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(dir);
        string temp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                if (StreamFilter.Value is { } filter)
                {
                    var filtered = filter(stream); // does not own the file stream
                    write(filtered);
                    filtered.Flush();
                }
                else
                {
                    write(stream);
                }
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    public static void WriteAllText(string path, string text) =>
        Write(path, s => { using var w = new StreamWriter(s, leaveOpen: true); w.Write(text); });

    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        byte[] copy = bytes.ToArray();
        Write(path, s => s.Write(copy));
    }
}
