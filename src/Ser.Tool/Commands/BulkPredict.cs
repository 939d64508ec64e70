using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Ser.Engine;
using Ser.Engine.Data.Corpora;
using Ser.Engine.Inference;

namespace Ser.Tool.Commands;

/// <summary>
/// `sertool predict --manifest list.csv | --dir DIR --out preds.jsonl`: whole-corpus prediction.
/// <list type="bullet">
/// <item>One JSON object per line, shaped as an item of `predict --json`'s results: {"file", "label", "seconds",
/// "probabilities"} at full precision, or {"file", "error"} for a file that cannot be read (the run goes on).
/// "file" is the path as the manifest gives it (or relative to --dir).</item>
/// <item>Files are sorted by size (a proxy for length) and classified in chunks on all cores (one utterance per
/// executor, no padding), so the cores finish a chunk together.</item>
/// <item>Resumable: a re-run skips files already in the output. Each chunk is appended and flushed to disk before the next
/// starts, so a kill loses at most the chunk in flight; a torn last line is cut off on resume.</item>
/// </list>
/// </summary>
internal static class BulkPredict
{
    const int ChunkFiles = 256;

    public static int Run(EmotionRecognizer recognizer, List<(string Given, string Path)> files, string output, int threads)
    {
        var done = ReadDone(output);
        var todo = files.Where(f => !done.Contains(f.Given)).ToList();
        // Length-sorted: file size ~ duration. A file that cannot be stat'ed sorts first and becomes an error record.
        var sized = todo.Select(f => (f.Given, f.Path, Bytes: SizeOrZero(f.Path))).OrderBy(f => f.Bytes).ToList();
        Console.Error.WriteLine($"predict: {files.Count} files, {files.Count - todo.Count} already in {output}, {todo.Count} to do");

        var labels = recognizer.Labels;
        int errors = 0, finished = 0;
        double audioSeconds = 0;
        var clock = Stopwatch.StartNew();
        var progress = new ProgressLine(sized.Count);
        using var stream = new FileStream(output, FileMode.Append, FileAccess.Write, FileShare.Read);
        for (int first = 0; first < sized.Count; first += ChunkFiles)
        {
            int n = Math.Min(ChunkFiles, sized.Count - first);
            var lines = new string[n];
            var seconds = new double[n];
            Parallel.For(0, n, new ParallelOptions { MaxDegreeOfParallelism = threads > 0 ? threads : Environment.ProcessorCount }, i =>
            {
                var (given, path, _) = sized[first + i];
                try
                {
                    var p = recognizer.PredictFile(path);
                    seconds[i] = p.Seconds;
                    lines[i] = Line(w =>
                    {
                        w.WriteString("file", given);
                        w.WriteString("label", p.Label);
                        w.WriteNumber("seconds", p.Seconds);
                        w.WriteStartObject("probabilities");
                        foreach (var l in labels) w.WriteNumber(l, p.Probabilities[l]);
                        w.WriteEndObject();
                    });
                }
                catch (Exception e) when (e is SerException or IOException or UnauthorizedAccessException)
                {
                    string message = e.Message.ReplaceLineEndings(" ").Trim();
                    lines[i] = Line(w =>
                    {
                        w.WriteString("file", given);
                        w.WriteString("error", message);
                    });
                    seconds[i] = -1;
                }
            });
            var bytes = Encoding.UTF8.GetBytes(string.Concat(lines.Select(l => l + "\n")));
            stream.Write(bytes);
            stream.Flush(flushToDisk: true);
            errors += seconds.Count(s => s < 0);
            audioSeconds += seconds.Where(s => s > 0).Sum();
            finished += n;
            progress.Update(finished, clock.Elapsed);
        }
        progress.Done();
        double wall = Math.Max(clock.Elapsed.TotalSeconds, 1e-9);
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"predict: {finished} files in {wall:F1} s ({finished / wall:F1} files/s, {audioSeconds / 3600:F2} h of audio = {audioSeconds / wall:F0} audio hours per hour), {errors} errors -> {output}"));
        return errors > 0 ? 1 : 0;
    }

    static string Line(Action<Utf8JsonWriter> body)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    static long SizeOrZero(string path)
    {
        try { return new FileInfo(path).Length; } catch (IOException) { return 0; } catch (UnauthorizedAccessException) { return 0; }
    }

    /// <summary>The files already recorded in the output; a torn last line (a kill mid-write) is cut off first.</summary>
    static HashSet<string> ReadDone(string output)
    {
        var done = new HashSet<string>(StringComparer.Ordinal);
        if (!File.Exists(output)) return done;
        var bytes = File.ReadAllBytes(output);
        int end = Array.LastIndexOf(bytes, (byte)'\n') + 1;    // complete lines only
        if (end < bytes.Length)
            using (var f = new FileStream(output, FileMode.Open, FileAccess.Write)) f.SetLength(end);
        foreach (var line in Encoding.UTF8.GetString(bytes, 0, end).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            try
            {
                using var doc = JsonDocument.Parse(line);
                if (doc.RootElement.TryGetProperty("file", out var file) && file.GetString() is { } name) done.Add(name);
            }
            catch (JsonException)
            {
                throw new SerException($"{output}: not a predictions file (a line is not JSON); give another --out");
            }
        }
        return done;
    }

    /// <summary>What --dir picks up: the formats WavReader reads (it tells them by their bytes; the name only selects).</summary>
    static readonly HashSet<string> AudioExtensions = new([".wav", ".aif", ".aiff", ".mp3", ".ogg", ".oga"], StringComparer.OrdinalIgnoreCase);

    /// <summary>The files of a manifest (its path column; labels are not needed) or of a folder tree (*.wav, *.aif(f), *.mp3, *.ogg).</summary>
    public static List<(string Given, string Path)> Inputs(string? manifest, string? dir)
    {
        if (manifest is not null)
        {
            if (!File.Exists(manifest)) throw new SerException($"manifest: file not found: {manifest}");
            string folder = Path.GetDirectoryName(Path.GetFullPath(manifest))!;
            var lines = File.ReadAllLines(manifest);
            int column = 0, first = 0;
            if (lines.Length > 0)
            {
                var header = ManifestCorpus.SplitCsv(lines[0]).Select(h => h.Trim().ToLowerInvariant()).ToArray();
                if (header.Contains("path")) (column, first) = (Array.IndexOf(header, "path"), 1);
            }
            var list = new List<(string, string)>();
            for (int i = first; i < lines.Length; i++)
            {
                if (string.IsNullOrWhiteSpace(lines[i])) continue;
                var f = ManifestCorpus.SplitCsv(lines[i]);
                string given = column < f.Length ? f[column].Trim() : "";
                if (given.Length == 0) throw new SerException($"{manifest}:{i + 1}: no path in '{lines[i].Trim()}'");
                list.Add((given, Path.GetFullPath(Path.Combine(folder, given))));
            }
            return list;
        }
        if (!Directory.Exists(dir)) throw new SerException($"--dir: folder not found: {dir}");
        return Directory.EnumerateFiles(dir!, "*", SearchOption.AllDirectories)
            .Where(f => AudioExtensions.Contains(Path.GetExtension(f)))
            .Select(f => (Path.GetRelativePath(dir!, f), Path.GetFullPath(f)))
            .OrderBy(f => f.Item1, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>A progress bar with rate and ETA on stderr (redrawn in place on a terminal, a line every 10 s otherwise).</summary>
    sealed class ProgressLine(int total)
    {
        readonly bool _terminal = !Console.IsErrorRedirected;
        TimeSpan? _lastLine;

        public void Update(int done, TimeSpan elapsed)
        {
            if (!_terminal && _lastLine is { } last && elapsed - last < TimeSpan.FromSeconds(10) && done < total) return;
            _lastLine = elapsed;
            double rate = done / Math.Max(elapsed.TotalSeconds, 1e-9);
            var eta = TimeSpan.FromSeconds(rate > 0 ? (total - done) / rate : 0);
            int width = 30, filled = total == 0 ? width : (int)((long)width * done / total);
            string text = string.Create(CultureInfo.InvariantCulture,
                $"[{new string('#', filled)}{new string('.', width - filled)}] {done}/{total} files  {rate:F1} files/s  ETA {(int)eta.TotalHours}:{eta:mm\\:ss}");
            if (_terminal) Console.Error.Write("\r" + text);
            else Console.Error.WriteLine(text);
        }

        public void Done()
        {
            if (_terminal) Console.Error.WriteLine();
        }
    }
}
