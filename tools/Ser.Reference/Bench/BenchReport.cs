using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Ser.Engine;

namespace Ser.Reference.Bench;

/// <summary>
/// The benchmark result file (schema "ser-bench/1"), shared by this harness and tools/pytorch/ser_reference.py so
/// runs from different machines and programs can be joined:
/// <code>
/// { "schema": "ser-bench/1", "tool", "date_utc", "git_commit", "machine": {cpu, cores, os, runtime, gpu},
///   "preset", "config": {channels, kernels, hidden, dense, classes, dropout, bins}, "seed", "warmup", "repeats",
///   "implementations": { name: {device, threads, computes, version} },
///   "batches": [ {distribution, batch, frames, audio_seconds, lengths: [frames...]} ],
///   "measurements": [ {implementation, distribution, batch, mode ("forward" | "train_step"), median_seconds,
///                      times: [...], utterances_per_s, audio_seconds_per_s} ],
///   "comparisons": [ {a, b, distribution, batch, mode, a_seconds, b_seconds, time_ratio (a/b), throughput_ratio (b/a)} ] }
/// </code>
/// Keys of a measurement row: (implementation, distribution, batch, mode); time is wall-clock seconds per step.
/// </summary>
public static class BenchReport
{
    public const string Schema = "ser-bench/1";

    public sealed record Measurement(string Implementation, string Distribution, int Batch, string Mode, double MedianSeconds,
        double[] Times, double AudioSeconds)
    {
        public double UtterancesPerSecond => Batch / MedianSeconds;
        public double AudioSecondsPerSecond => AudioSeconds / MedianSeconds;

        public JsonObject ToJson() => new()
        {
            ["implementation"] = Implementation,
            ["distribution"] = Distribution,
            ["batch"] = Batch,
            ["mode"] = Mode,
            ["median_seconds"] = MedianSeconds,
            ["times"] = new JsonArray(Times.Select(t => (JsonNode)t).ToArray()),
            ["audio_seconds"] = AudioSeconds,
            ["utterances_per_s"] = UtterancesPerSecond,
            ["audio_seconds_per_s"] = AudioSecondsPerSecond,
        };

        public static Measurement FromJson(JsonNode n) => new(
            (string)n["implementation"]!, (string)n["distribution"]!, (int)n["batch"]!, (string)n["mode"]!,
            (double)n["median_seconds"]!, n["times"]?.AsArray().Select(t => (double)t!).ToArray() ?? [],
            (double?)n["audio_seconds"] ?? 0);
    }

    public sealed record Comparison(Measurement A, Measurement B)
    {
        public double TimeRatio => A.MedianSeconds / B.MedianSeconds;
        public double ThroughputRatio => B.MedianSeconds / A.MedianSeconds;

        public JsonObject ToJson() => new()
        {
            ["a"] = A.Implementation,
            ["b"] = B.Implementation,
            ["distribution"] = A.Distribution,
            ["batch"] = A.Batch,
            ["mode"] = A.Mode,
            ["a_seconds"] = A.MedianSeconds,
            ["b_seconds"] = B.MedianSeconds,
            ["time_ratio"] = TimeRatio,
            ["throughput_ratio"] = ThroughputRatio,
        };
    }

    /// <summary>Pairs every measurement of <paramref name="a"/> with the one of <paramref name="b"/> on the same key.</summary>
    public static List<Comparison> Compare(IEnumerable<Measurement> measurements, string a, string b)
    {
        var list = measurements.ToList();
        var result = new List<Comparison>();
        foreach (var m in list.Where(m => m.Implementation == a))
        {
            var other = list.FirstOrDefault(o => o.Implementation == b && o.Distribution == m.Distribution && o.Batch == m.Batch && o.Mode == m.Mode);
            if (other is not null) result.Add(new Comparison(m, other));
        }
        return result;
    }

    /// <summary>A markdown table of the comparisons, with a header naming the machine and a note on what each side computes.</summary>
    public static string Markdown(string title, JsonObject doc, IReadOnlyList<Comparison> comparisons, IReadOnlyList<Measurement> measurements)
    {
        var s = new StringBuilder();
        string F(double v, string format) => v.ToString(format, CultureInfo.InvariantCulture);
        s.AppendLine($"# {title}").AppendLine();
        if (doc["machine"] is JsonObject machine)
            s.AppendLine($"Machine: {machine["cpu"]}, {machine["cores"]} cores (Environment.ProcessorCount), {machine["os"]}, " +
                         $"{machine["runtime"]}{(machine["gpu"] is JsonNode gpu ? $", GPU {gpu}" : "")}.  ");
        s.AppendLine($"Commit {doc["git_commit"]}, {doc["date_utc"]}. Preset `{doc["preset"]}` ({doc["config_text"]}); " +
                     $"median of {doc["repeats"]} timed runs after {doc["warmup"]} warm-up, seed {doc["seed"]}." +
                     (doc["load_average_1min"] is JsonObject load ? $" 1-min load average {load["start"]} at start, {load["end"]} at end." : "") +
                     (doc["wall_seconds"] is JsonNode wall ? $" Wall time {wall} s." : "")).AppendLine();
        if (doc["implementations"] is JsonObject impls)
            foreach (var (name, info) in impls)
                s.AppendLine($"- **{name}** ({info?["device"]}, {info?["threads"]} threads{(info?["version"] is JsonNode v ? $", {v}" : "")}): {info?["computes"]}");
        s.AppendLine();
        if (comparisons.Count > 0)
        {
            string a = comparisons[0].A.Implementation, b = comparisons[0].B.Implementation;
            s.AppendLine($"| lengths | B | T | audio s | step | {a} ms | {b} ms | time {a} / {b} | {a} utt/s | {b} utt/s | throughput {a} / {b} |");
            s.AppendLine("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|");
            foreach (var c in comparisons)
            {
                int frames = FramesOf(doc, c.A.Distribution, c.A.Batch);
                s.AppendLine($"| {c.A.Distribution} | {c.A.Batch} | {(frames > 0 ? frames.ToString(CultureInfo.InvariantCulture) : "?")} | " +
                             $"{F(c.A.AudioSeconds, "0.0")} | {(c.A.Mode == "forward" ? "forward" : "train (fwd+bwd+Adam)")} | " +
                             $"{F(c.A.MedianSeconds * 1000, "0.0")} | {F(c.B.MedianSeconds * 1000, "0.0")} | **{F(c.TimeRatio, "0.00")}** | " +
                             $"{F(c.A.UtterancesPerSecond, "0.0")} | {F(c.B.UtterancesPerSecond, "0.0")} | {F(c.ThroughputRatio, "0.00")} |");
            }
            s.AppendLine().AppendLine($"time ratio < 1: {a} is faster. throughput ratio = utterances per second of {a} / of {b}.");
        }
        else
        {
            s.AppendLine("| implementation | lengths | B | step | ms | utt/s | audio s/s |").AppendLine("|---|---|---:|---|---:|---:|---:|");
            foreach (var m in measurements)
                s.AppendLine($"| {m.Implementation} | {m.Distribution} | {m.Batch} | {m.Mode} | {F(m.MedianSeconds * 1000, "0.0")} | " +
                             $"{F(m.UtterancesPerSecond, "0.0")} | {F(m.AudioSecondsPerSecond, "0.0")} |");
        }
        return s.ToString();
    }

    static int FramesOf(JsonObject doc, string distribution, int batch) =>
        doc["batches"]?.AsArray().FirstOrDefault(x => (string?)x?["distribution"] == distribution && (int?)x?["batch"] == batch)?["frames"]
            is JsonNode f ? (int)f : 0;

    public static JsonObject Load(string path)
    {
        try
        {
            var doc = JsonNode.Parse(File.ReadAllText(path))?.AsObject() ?? throw new SerException($"{path}: empty JSON");
            if ((string?)doc["schema"] != Schema) throw new SerException($"{path}: schema '{doc["schema"]}', expected '{Schema}'");
            return doc;
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException or FormatException)
        {
            throw new SerException($"{path}: not a benchmark result ({e.Message.ReplaceLineEndings(" ")})");
        }
    }
}
