using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using CommandLine;
using Ser.Engine;
using Ser.Engine.Backends.Cpu;
using Ser.Engine.Data;
using Ser.Engine.Backends.Cuda;
using Ser.Engine.Graph;
using Ser.Engine.IO;
using Ser.Engine.Models;
using Ser.Engine.Training;
using Spectre.Console;

namespace Ser.Tool.Commands;

/// <summary>
/// `sertool bench`: forward-only and training-step throughput of the engine on a fixed synthetic batch set with
/// IEMOCAP-like lengths (log-normal, median 3.5 s, clipped to 1..12 s; random features), for each preset and batch
/// size; the same batches are also run fully padded (every sample treated as length T) so the gain from skipping
/// padded frames is a ratio measured in the same run. Reports peak working memory (arena bytes) per batch size, and the
/// machine's measured roofline (FMA peak per core per vector width, memory bandwidth; --peak measures only that).
/// </summary>
[Verb("bench", HelpText = "Measure engine throughput (forward and training step, variable-length vs fully padded).")]
internal sealed class BenchCommand : ICommand
{
    [Option("preset", Default = "both", HelpText = "Model preset: small, paper or both.")]
    public string Preset { get; set; } = "both";

    [Option("batch-sizes", Default = "8,16,32", HelpText = "Comma-separated batch sizes.")]
    public string BatchSizes { get; set; } = "8,16,32";

    [Option("out", HelpText = "Where to write the JSON results (default bench/results/DEVICE-bench.json, or DEVICE-epoch-bench.json with --epochs).")]
    public string? Out { get; set; }

    string OutPath => Out ?? $"bench/results/{Device.ToLowerInvariant()}-{(Epochs > 0 ? "epoch-" : "")}bench.json";

    [Option("device", Default = "cpu", HelpText = "Backend device: cpu (cuda when built).")]
    public string Device { get; set; } = "cpu";

    [Option("threads", Default = 0, HelpText = "CPU threads (0 = all cores).")]
    public int Threads { get; set; }

    [Option("repeats", Default = 5, HelpText = "Timed repeats per measurement (the median is reported); paper uses at most --paper-repeats.")]
    public int Repeats { get; set; } = 5;

    [Option("paper-repeats", Default = 1, HelpText = "Timed repeats for the paper preset (it is ~20x slower than small).")]
    public int PaperRepeats { get; set; } = 1;

    [Option("warmup", Default = 1, HelpText = "Untimed warm-up runs per measurement.")]
    public int Warmup { get; set; } = 1;

    [Option("seed", Default = 7, HelpText = "Seed of the synthetic batch set.")]
    public int Seed { get; set; } = 7;

    [Option("epochs", Default = 0, HelpText = "Epoch mode (--device cuda): train this many epochs over an IEMOCAP-sized synthetic set resident on the GPU, per batch size; report time per epoch, audio-s/s and peak GPU memory.")]
    public int Epochs { get; set; }

    [Option("utterances", Default = 2280, HelpText = "Epoch mode: utterances in the synthetic set (IEMOCAP improvised: 2,280).")]
    public int Utterances { get; set; } = 2280;

    [Option("tf32", Default = false, HelpText = "Epoch mode: allow TF32 (and FFT/Winograd convolutions) for speed.")]
    public bool Tf32 { get; set; }

    [Option("peak", Default = false, HelpText = "Only measure this machine's roofline: float32 FMA peak per core (scalar, Vector256, Vector512) and memory bandwidth (read, triad).")]
    public bool Peak { get; set; }

    [Option("no-roofline", Default = false, HelpText = "Skip measuring the roofline first (about 3 s; for timing whole bench processes).")]
    public bool NoRoofline { get; set; }

    [Option("simd", HelpText = "CPU kernels' vector width: avx512, avx2 or scalar (default: SER_SIMD, else the widest this CPU accelerates).")]
    public string? Simd { get; set; }

    [Option("layers", Default = false, HelpText = "Also print per-layer times of one training step (variable-length and padded).")]
    public bool Layers { get; set; }

    public int Run()
    {
        var presets = Preset.ToLowerInvariant() switch
        {
            "both" => new[] { "small", "paper" },
            "small" or "paper" => [Preset.ToLowerInvariant()],
            _ => throw new SerException($"--preset: expected small, paper or both, got '{Preset}'"),
        };
        CpuKernels.Force(Simd);
        if (Peak) return RunPeak();
        var sizes = ParseSizes(BatchSizes);
        if (Epochs > 0) return RunEpochs(presets, sizes);
        if (Repeats < 1 || PaperRepeats < 1 || Warmup < 0) throw new SerException("--repeats/--paper-repeats must be >= 1 and --warmup >= 0");
        string loadBefore = LoadAverage();
        var lengths = SyntheticLengths(Seed, sizes.Max());
        int cores = Environment.ProcessorCount;
        var roof = Device.Equals("cpu", StringComparison.OrdinalIgnoreCase) && !NoRoofline ? Roofline.Measure(Threads) : null;

        AnsiConsole.MarkupLine($"[bold]sertool bench[/]: device {Markup.Escape(Device)}, {cores} cores (Environment.ProcessorCount), " +
                               $"threads {(Threads > 0 ? Threads : cores)}, CPU kernels {CpuKernels.Name(CpuKernels.Current)}, {RuntimeInformation.FrameworkDescription}");
        if (roof is not null) WriteRoofline(roof);
        AnsiConsole.MarkupLine($"batch set: {lengths.Length} utterances, lengths {lengths.Min() / 100.0:0.00}..{lengths.Max() / 100.0:0.00} s, " +
                               $"median {Median(lengths.Select(l => (double)l).ToList()) / 100:0.00} s (seed {Seed}); warm-up {Warmup}, median of repeats");

        var results = new JsonArray();
        var table = new Table().Border(TableBorder.Rounded)
            .AddColumns("preset", "B", "T", "audio s", "fwd utt/s", "fwd audio-s/s", "fwd pad x", "train utt/s", "train audio-s/s",
                        "train pad x", "train GFLOP/s", "arena MiB");
        table.Expand = false;
        foreach (var preset in presets)
        foreach (int b in sizes)
        {
            var r = Measure(preset, ModelConfig.Preset(preset), lengths[..b], preset == "paper" ? Math.Min(Repeats, PaperRepeats) : Repeats);
            results.Add(r.Json);
            table.AddRow(preset, b.ToString(CultureInfo.InvariantCulture), r.Frames.ToString(CultureInfo.InvariantCulture),
                F(r.AudioSeconds, "0.0"),
                F(b / r.Forward, "0.0"), F(r.AudioSeconds / r.Forward, "0.0"), F(r.ForwardPadded / r.Forward, "0.00"),
                F(b / r.Train, "0.0"), F(r.AudioSeconds / r.Train, "0.0"), F(r.TrainPadded / r.Train, "0.00"),
                F(r.TrainFlops / r.Train / 1e9, "0.0"), F(r.ArenaBytes / 1048576.0, "0"));
        }
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine("pad x = time of the same batch computed fully padded (every sample length T) / time with per-sample lengths.");
        AnsiConsole.MarkupLine($"load average before/after: {loadBefore} / {LoadAverage()} (other processes on these cores slow every number)");

        var doc = new JsonObject
        {
            ["tool"] = "sertool bench",
            ["commit"] = BuildInfo.Commit(),
            ["date_utc"] = DateTime.UtcNow.ToString("o", CultureInfo.InvariantCulture),
            ["device"] = Device,
            ["cores"] = cores,
            ["threads"] = Threads > 0 ? Threads : cores,
            ["simd"] = CpuKernels.Name(CpuKernels.Current),
            ["roofline"] = roof?.ToJson(),
            ["runtime"] = RuntimeInformation.FrameworkDescription,
            ["os"] = RuntimeInformation.OSDescription,
            ["load_average_before"] = loadBefore,
            ["load_average_after"] = LoadAverage(),
            ["seed"] = Seed,
            ["warmup"] = Warmup,
            ["repeats"] = Repeats,
            ["paper_repeats"] = PaperRepeats,
            ["lengths_frames"] = new JsonArray(lengths.Select(l => (JsonNode)l).ToArray()),
            ["results"] = results,
        };
        AtomicFile.WriteAllText(OutPath, doc.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        AnsiConsole.MarkupLine($"wrote [bold]{Markup.Escape(OutPath)}[/]");
        return 0;
    }

    /// <summary>--peak: the roofline alone, printed and (with --out) written as JSON.</summary>
    int RunPeak()
    {
        AnsiConsole.MarkupLine($"[bold]sertool bench --peak[/]: {Environment.ProcessorCount} cores, {RuntimeInformation.FrameworkDescription}, measuring ...");
        string loadBefore = LoadAverage();
        var roof = Roofline.Measure(Threads);
        WriteRoofline(roof);
        AnsiConsole.MarkupLine($"load average before/after: {loadBefore} / {LoadAverage()} (other processes on these cores lower every number)");
        if (Out is null) return 0;
        var doc = new JsonObject
        {
            ["tool"] = "sertool bench --peak",
            ["commit"] = BuildInfo.Commit(),
            ["date_utc"] = DateTime.UtcNow.ToString("o", CultureInfo.InvariantCulture),
            ["cores"] = Environment.ProcessorCount,
            ["runtime"] = RuntimeInformation.FrameworkDescription,
            ["os"] = RuntimeInformation.OSDescription,
            ["load_average_before"] = loadBefore,
            ["load_average_after"] = LoadAverage(),
            ["roofline"] = roof.ToJson(),
        };
        AtomicFile.WriteAllText(Out, doc.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        AnsiConsole.MarkupLine($"wrote [bold]{Markup.Escape(Out)}[/]");
        return 0;
    }

    static void WriteRoofline(Roofline r)
    {
        AnsiConsole.MarkupLine($"roofline: float32 FMA peak per core {F(r.ScalarGflopsPerCore, "0.0")} (scalar) / {F(r.Vector256GflopsPerCore, "0.0")} (Vector256) / " +
                               $"{(r.Vector512GflopsPerCore is { } v ? F(v, "0.0") : "n/a")} (Vector512) GFLOP/s; memory {F(r.ReadGBPerSecond, "0.0")} GB/s read, " +
                               $"{F(r.TriadGBPerSecond, "0.0")} GB/s triad ({r.BandwidthThreads} threads, {r.BufferBytes >> 20} MiB buffers)");
    }

    /// <summary>
    /// Epoch mode on the GPU, the way `train --device cuda` runs: the whole synthetic set resident as PCM, features by the
    /// cuFFT front end per batch, queued steps and one synchronisation per epoch (<see cref="CudaEpochBenchmark"/>).
    /// </summary>
    int RunEpochs(string[] presets, int[] sizes)
    {
        if (!Device.Equals("cuda", StringComparison.OrdinalIgnoreCase))
            throw new SerException("--epochs (epoch mode) runs on the GPU: add --device cuda");
        if (Utterances < 1) throw new SerException($"--utterances must be >= 1, got {Utterances}");
        var (pcm, labels) = CudaEpochBenchmark.SyntheticSet(Utterances, 4, Seed);
        double hours = pcm.Sum(p => (double)p.Length) / 16000 / 3600;
        AnsiConsole.MarkupLine($"[bold]sertool bench --epochs {Epochs}[/]: {Utterances} synthetic utterances ({hours:0.00} h of audio) " +
                               $"resident on the GPU, TF32 {(Tf32 ? "on" : "off")}");
        var results = new JsonArray();
        var table = new Table().Border(TableBorder.Rounded)
            .AddColumns("preset", "B", "batches", "first epoch s", "epoch s", "audio-s/s", "peak MiB", "driver used MiB");
        var log = Console.Out;
        foreach (var preset in presets)
        foreach (int b in sizes)
        {
            try
            {
                var r = CudaEpochBenchmark.Run(preset, b, pcm, labels, Epochs, Seed, Tf32, log);
                results.Add(r.ToJson());
                table.AddRow(preset, F(b, "0"), F(r.Batches, "0"), F(r.FirstEpochSeconds, "0.00"), F(r.EpochSeconds, "0.00"),
                    F(r.AudioSecondsPerSecond, "0"), F((r.BackendPeakBytes + r.SourceBytes) / 1048576.0, "0"), F(r.DriverUsedBytes / 1048576.0, "0"));
            }
            catch (GpuOutOfMemoryException e)
            {
                // One batch size that does not fit must not hide the others.
                results.Add(new JsonObject { ["preset"] = preset, ["batch"] = b, ["error"] = e.Message });
                table.AddRow(preset, F(b, "0"), Markup.Escape(e.Message), "", "", "", "", "");
            }
        }
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine("epoch s = median of the epochs after the first (the first also picks cuDNN algorithms and builds cuFFT plans); " +
                               "peak = backend arenas + resident audio.");
        var doc = new JsonObject
        {
            ["tool"] = "sertool bench --epochs",
            ["commit"] = BuildInfo.Commit(),
            ["date_utc"] = DateTime.UtcNow.ToString("o", CultureInfo.InvariantCulture),
            ["device"] = Device,
            ["tf32"] = Tf32,
            ["epochs"] = Epochs,
            ["utterances"] = Utterances,
            ["seed"] = Seed,
            ["results"] = results,
        };
        AtomicFile.WriteAllText(OutPath, doc.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        AnsiConsole.MarkupLine($"wrote [bold]{Markup.Escape(OutPath)}[/]");
        return 0;
    }

    sealed record Result(JsonObject Json, int Frames, double AudioSeconds, double Forward, double ForwardPadded, double Train,
        double TrainPadded, double TrainFlops, long ArenaBytes);

    Result Measure(string preset, ModelConfig config, int[] lengths, int repeats)
    {
        int b = lengths.Length, frames = lengths.Max(), bins = config.Bins;
        var batch = new Batch(b, frames, bins) { Count = b, Frames = frames };
        var rng = new Random(Seed + b);
        for (int i = 0; i < b; i++)
        {
            batch.Lengths[i] = lengths[i];
            batch.Labels[i] = rng.Next(config.Classes);
            batch.Indices[i] = i;
            var sample = batch.Sample(i);
            for (int j = 0; j < lengths[i] * bins; j++) sample[j] = (float)(rng.NextDouble() * 2 - 1);
        }
        var padded = new Batch(b, frames, bins) { Count = b, Frames = frames };
        batch.Features.AsSpan().CopyTo(padded.Features);
        batch.Labels.AsSpan().CopyTo(padded.Labels);
        padded.Lengths.AsSpan(0, b).Fill(frames);

        using var ex = Executor.Create(config, new ExecutorOptions { MaxBatch = b, MaxFrames = frames, Device = Device, Threads = Threads });
        ex.InitializeParameters(1);
        double audio = lengths.Sum() / 100.0;
        AnsiConsole.MarkupLine($"  {preset} B={b} T={frames} ({audio:0.0} s of audio, {b * frames / 100.0:0.0} s padded) ...");

        // Warm-up compiles the kernels (tiered JIT); for paper a 1 s single-utterance batch does that at 1/30 the cost.
        var warm = b > 1 && preset == "paper" ? Tiny(config, rng) : (batch, padded);
        for (int i = 0; i < Warmup; i++)
        {
            ex.Evaluate(warm.Item1); ex.Evaluate(warm.Item2);
            ex.TrainStep(warm.Item1); ex.TrainStep(warm.Item2);
        }
        // Variable-length and padded runs alternate so background load hits both alike; medians of the repeats.
        var flops = new FlopCounter();
        var t = new List<double>[4];
        for (int i = 0; i < 4; i++) t[i] = [];
        for (int i = 0; i < repeats; i++)
        {
            t[0].Add(Seconds(() => ex.Evaluate(batch)));
            t[1].Add(Seconds(() => ex.Evaluate(padded)));
            flops.Reset();
            ex.Observer = flops; // FLOP counts come from the executor's per-layer hook (it costs a timestamp per layer)
            t[2].Add(Seconds(() => ex.TrainStep(batch)));
            ex.Observer = null;
            t[3].Add(Seconds(() => ex.TrainStep(padded)));
        }
        double fwd = Median(t[0]), fwdPad = Median(t[1]), train = Median(t[2]), trainPad = Median(t[3]);
        if (Layers)
        {
            var padFlops = new FlopCounter();
            ex.Observer = padFlops;
            ex.TrainStep(padded);
            ex.Observer = null;
            var lt = new Table().Border(TableBorder.Simple).AddColumns("layer", "pass", "ms", "GFLOP/s", "padded ms", "pad x");
            foreach (var key in flops.Order)
            {
                var (ms, f) = flops.Layers[key];
                var (pms, _) = padFlops.Layers[key];
                lt.AddRow(key.Layer, key.Pass.ToString(), F(ms, "0.0"), F(f / ms / 1e6, "0.0"), F(pms, "0.0"), F(pms / ms, "0.00"));
            }
            AnsiConsole.Write(lt);
        }

        var json = new JsonObject
        {
            ["preset"] = preset,
            ["config"] = JsonNode.Parse(config.ToJson()),
            ["batch"] = b,
            ["frames"] = frames,
            ["audio_seconds"] = audio,
            ["padded_audio_seconds"] = b * frames / 100.0,
            ["forward"] = Stats(b, audio, t[0], t[1]),
            ["train_step"] = Stats(b, audio, t[2], t[3]),
            ["train_step_gflop"] = flops.Total / 1e9,
            ["train_step_gflops_per_s"] = flops.Total / train / 1e9,
            ["arena_bytes"] = ex.ArenaBytes,
            ["arenas"] = new JsonObject(ex.ArenaUsage.Select(a => KeyValuePair.Create(a.Name, (JsonNode?)a.Bytes))),
        };
        return new Result(json, frames, audio, fwd, fwdPad, train, trainPad, flops.Total, ex.ArenaBytes);
    }

    static JsonObject Stats(int b, double audio, List<double> variableRuns, List<double> paddedRuns)
    {
        double variable = Median(variableRuns), padded = Median(paddedRuns);
        return new JsonObject
        {
            ["variable_seconds"] = variable,
            ["padded_seconds"] = padded,
            ["variable_utterances_per_s"] = b / variable,
            ["variable_audio_seconds_per_s"] = audio / variable,
            ["padded_utterances_per_s"] = b / padded,
            ["padded_audio_seconds_per_s"] = audio / padded,
            ["padding_speedup"] = padded / variable,
            ["padding_speedup_of_minima"] = paddedRuns.Min() / variableRuns.Min(),
            ["variable_seconds_runs"] = new JsonArray(variableRuns.Select(v => (JsonNode)v).ToArray()),
            ["padded_seconds_runs"] = new JsonArray(paddedRuns.Select(v => (JsonNode)v).ToArray()),
        };
    }

    static double Seconds(Action step)
    {
        long t0 = Stopwatch.GetTimestamp();
        step();
        return Stopwatch.GetElapsedTime(t0).TotalSeconds;
    }

    /// <summary>A one-utterance, one-second batch (and its padded twin, the same thing) for warming up.</summary>
    static (Batch, Batch) Tiny(ModelConfig config, Random rng)
    {
        var tiny = new Batch(1, 100, config.Bins) { Count = 1, Frames = 100 };
        tiny.Lengths[0] = 100;
        for (int j = 0; j < 100 * config.Bins; j++) tiny.Features[j] = (float)(rng.NextDouble() * 2 - 1);
        return (tiny, tiny);
    }

    sealed class FlopCounter : IExecutorObserver
    {
        public double Total;
        public void Reset()
        {
            Total = 0;
            Layers.Clear();
            Order.Clear();
        }
        public readonly Dictionary<(string Layer, LayerPass Pass), (double Ms, double Flops)> Layers = [];
        public readonly List<(string Layer, LayerPass Pass)> Order = [];
        public void LayerStarted(string layer, LayerPass pass) { }
        public void LayerEnded(string layer, LayerPass pass, long elapsedTicks, double flops)
        {
            Total += flops;
            if (!Layers.ContainsKey((layer, pass))) Order.Add((layer, pass));
            Layers[(layer, pass)] = (elapsedTicks * 1000.0 / Stopwatch.Frequency, flops);
        }
    }

    /// <summary>Utterance lengths in frames (100 per second): log-normal, median 3.5 s, sigma 0.6, clipped to 1..12 s.</summary>
    static int[] SyntheticLengths(int seed, int count)
    {
        var r = new Random(seed);
        var lengths = new int[count];
        for (int i = 0; i < count; i++)
        {
            double z = Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble());
            double seconds = Math.Clamp(3.5 * Math.Exp(0.6 * z), 1.0, 12.0);
            lengths[i] = (int)Math.Round(seconds * 100);
        }
        return lengths;
    }

    static int[] ParseSizes(string text)
    {
        var parts = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var sizes = new List<int>();
        foreach (var p in parts)
        {
            if (!int.TryParse(p, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) || v < 1 || v > 4096)
                throw new SerException($"--batch-sizes: '{p}' is not a batch size (1..4096)");
            sizes.Add(v);
        }
        return sizes.Count > 0 ? sizes.ToArray() : throw new SerException("--batch-sizes: no sizes given");
    }

    /// <summary>/proc/loadavg (Linux): other processes on the same cores slow every number down.</summary>
    static string LoadAverage()
    {
        try { return File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "n/a"; }
        catch (IOException) { return "n/a"; }
    }

    static double Median(IEnumerable<double> values)
    {
        var v = values.Order().ToList();
        return v.Count % 2 == 1 ? v[v.Count / 2] : (v[v.Count / 2 - 1] + v[v.Count / 2]) / 2;
    }

    static string F(double v, string format) => v.ToString(format, CultureInfo.InvariantCulture);
}
