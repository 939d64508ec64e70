using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using CommandLine;
using Ser.Engine;
using Ser.Engine.Models;
using Ser.Engine.Training;
using Ser.Reference.Native;

namespace Ser.Reference.Bench;

/// <summary>
/// `Ser.Reference bench`: the engine against the TorchSharp reference (<see cref="TorchCrnn"/>, torch's fast path) on
/// the SAME batches and the SAME weights, side by side in one run: inference (forward) and a training step
/// (forward + backward + Adam) for each length distribution and batch size. Warm-up first, then the two sides
/// alternate run by run (so drift on a shared machine hits both), medians reported. Writes OUT.json (schema
/// "ser-bench/1", see <see cref="BenchReport"/>) and OUT.md.
/// </summary>
[Verb("bench", HelpText = "Engine vs TorchSharp reference: forward and training-step time on the same batches and weights.")]
internal sealed class BenchCommand
{
    [Option("out", Default = "bench/results/cpu-vs-torchsharp", HelpText = "Output path without extension (writes .json and .md).")]
    public string Out { get; set; } = "bench/results/cpu-vs-torchsharp";

    [Option("preset", Default = "small", HelpText = "Model preset: small or paper.")]
    public string Preset { get; set; } = "small";

    [Option("batch-sizes", Default = "8,16,32", HelpText = "Comma-separated batch sizes.")]
    public string BatchSizes { get; set; } = "8,16,32";

    [Option("distributions", Default = "lognormal,uniform", HelpText = "Length distributions: lognormal (IEMOCAP-like), uniform (1-12 s).")]
    public string Distributions { get; set; } = "lognormal,uniform";

    [Option("repeats", Default = 3, HelpText = "Timed runs per measurement (median reported).")]
    public int Repeats { get; set; } = 3;

    [Option("warmup", Default = 1, HelpText = "Untimed warm-up runs per measurement.")]
    public int Warmup { get; set; } = 1;

    [Option("threads", Default = 0, HelpText = "Threads for both sides (engine workers, torch.set_num_threads); 0 = all cores.")]
    public int Threads { get; set; }

    [Option("device", Default = "cpu", HelpText = "Engine device (cpu; cuda once the CUDA backend lands).")]
    public string Device { get; set; } = "cpu";

    [Option("reference", Default = "torchsharp", HelpText = "torchsharp, or none to time the engine alone (e.g. on a GPU machine).")]
    public string Reference { get; set; } = "torchsharp";

    [Option("seed", Default = 7, HelpText = "Seed of lengths, features, labels and weights.")]
    public int Seed { get; set; } = 7;

    [Option("modes", Default = "forward,train_step", HelpText = "Steps to time: forward, train_step.")]
    public string Modes { get; set; } = "forward,train_step";

    public int Run()
    {
        var config = ModelConfig.Preset(Preset);
        var sizes = ParseList(BatchSizes, "--batch-sizes").Select(s => int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v is >= 1 and <= 1024
            ? v : throw new SerException($"--batch-sizes: '{s}' is not a batch size (1..1024)")).ToArray();
        var distributions = ParseList(Distributions, "--distributions");
        foreach (var d in distributions) LengthDistributions.Draw(d, 1, 0); // validates the name
        var modes = ParseList(Modes, "--modes");
        if (modes.Any(m => m is not ("forward" or "train_step"))) throw new SerException("--modes: expected forward and/or train_step");
        if (Repeats < 1 || Warmup < 0) throw new SerException("--repeats must be >= 1 and --warmup >= 0");
        bool withTorch = Reference.ToLowerInvariant() switch
        {
            "torchsharp" => true,
            "none" => false,
            _ => throw new SerException($"--reference: expected torchsharp or none, got '{Reference}'"),
        };
        int threads = Threads > 0 ? Threads : Environment.ProcessorCount;
        string engineName = $"engine-{Device.ToLowerInvariant()}", torchName = "torchsharp-cpu";
        if (withTorch)
        {
            TorchSharpLoader.EnsureLoaded();
            TorchSharp.torch.set_num_threads(threads);
        }

        var wall = Stopwatch.StartNew();
        double? loadBefore = MachineInfo.LoadAverage();
        Console.WriteLine($"bench: preset {Preset} ({config}), {Environment.ProcessorCount} cores, {threads} threads each side, " +
                          $"warm-up {Warmup}, {Repeats} timed runs");
        var batches = new JsonArray();
        var measurements = new List<BenchReport.Measurement>();
        foreach (var distribution in distributions)
        {
            // One pool of lengths per distribution; batch size B takes its first B (so batches nest and rows compare).
            var pool = LengthDistributions.Draw(distribution, sizes.Max(), Seed);
            foreach (int size in sizes)
            {
                var batch = new BenchBatch(distribution, pool[..size], config.Bins, config.Classes, Seed + size);
                batches.Add(new JsonObject
                {
                    ["distribution"] = distribution,
                    ["batch"] = size,
                    ["frames"] = batch.Frames,
                    ["audio_seconds"] = batch.AudioSeconds,
                    ["lengths"] = new JsonArray(batch.Lengths.Select(l => (JsonNode)l).ToArray()),
                });
                measurements.AddRange(MeasureBatch(config, batch, modes, threads, engineName, withTorch ? torchName : null));
            }
        }

        var comparisons = withTorch ? BenchReport.Compare(measurements, engineName, torchName) : [];
        var doc = new JsonObject
        {
            ["schema"] = BenchReport.Schema,
            ["tool"] = "dotnet run -c Release --project tools/Ser.Reference -- bench",
            ["args"] = string.Join(' ', Environment.GetCommandLineArgs().Skip(1)),
            ["date_utc"] = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
            ["git_commit"] = MachineInfo.GitCommit(),
            ["machine"] = MachineInfo.Describe(),
            ["preset"] = Preset.ToLowerInvariant(),
            ["config"] = JsonNode.Parse(config.ToJson()),
            ["config_text"] = config.ToString(),
            ["seed"] = Seed,
            ["warmup"] = Warmup,
            ["repeats"] = Repeats,
            ["wall_seconds"] = Math.Round(wall.Elapsed.TotalSeconds, 1),
            ["load_average_1min"] = new JsonObject { ["start"] = loadBefore, ["end"] = MachineInfo.LoadAverage() },
            ["implementations"] = Implementations(engineName, withTorch ? torchName : null, threads),
            ["batches"] = batches,
            ["measurements"] = new JsonArray(measurements.Select(m => (JsonNode)m.ToJson()).ToArray()),
            ["comparisons"] = new JsonArray(comparisons.Select(c => (JsonNode)c.ToJson()).ToArray()),
        };
        string title = withTorch ? $"Engine ({Device}) vs TorchSharp reference, preset {Preset}" : $"Engine ({Device}), preset {Preset}";
        string markdown = BenchReport.Markdown(title, doc, comparisons, measurements);
        string json = doc.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
        Engine.IO.AtomicFile.WriteAllText(Out + ".json", json);
        Engine.IO.AtomicFile.WriteAllText(Out + ".md", markdown);
        Console.WriteLine();
        Console.WriteLine(markdown);
        Console.WriteLine($"wrote {Out}.json and {Out}.md ({wall.Elapsed.TotalSeconds:F0} s)");
        return 0;
    }

    IEnumerable<BenchReport.Measurement> MeasureBatch(ModelConfig config, BenchBatch batch, IReadOnlyList<string> modes, int threads,
        string engineName, string? torchName)
    {
        bool training = modes.Contains("train_step");
        using var engine = Executor.Create(config, new ExecutorOptions
        {
            MaxBatch = batch.Count, MaxFrames = batch.Frames, Threads = threads, Device = Device, Training = training,
        });
        engine.InitializeParameters((ulong)Seed);
        using var torch = torchName is null ? null
            : new TorchCrnn(ReferenceConfig.From(config), engine.ParameterNames.ToDictionary(n => n,
                n => new Checkpoints.HostTensor(engine.ParameterShape(n), engine.GetParameter(n))));

        Console.Write($"  {batch.Distribution,-9} B={batch.Count,-3} T={batch.Frames,-5} ({batch.AudioSeconds,6:F1} s audio):");
        foreach (var mode in modes)
        {
            Action runEngine = mode == "forward" ? () => engine.Evaluate(batch.Engine) : () => engine.TrainStep(batch.Engine);
            Action? runTorch = torch is null ? null
                : mode == "forward" ? () => torch.Infer(batch.Features, batch.Lengths)
                : () => torch.TrainStep(batch.Features, batch.Lengths, batch.Labels);
            for (int i = 0; i < Warmup; i++)
            {
                runEngine();
                runTorch?.Invoke();
            }
            var engineTimes = new double[Repeats];
            var torchTimes = new double[Repeats];
            for (int r = 0; r < Repeats; r++) // alternate, so slow phases of a shared machine hit both sides
            {
                engineTimes[r] = Time(runEngine);
                if (runTorch is not null) torchTimes[r] = Time(runTorch);
            }
            var e = new BenchReport.Measurement(engineName, batch.Distribution, batch.Count, mode, Median(engineTimes), engineTimes, batch.AudioSeconds);
            yield return e;
            Console.Write($"  {mode} engine {e.MedianSeconds * 1000:F0} ms");
            if (runTorch is not null)
            {
                var t = new BenchReport.Measurement(torchName!, batch.Distribution, batch.Count, mode, Median(torchTimes), torchTimes, batch.AudioSeconds);
                yield return t;
                Console.Write($" / torch {t.MedianSeconds * 1000:F0} ms");
            }
        }
        Console.WriteLine();
    }

    JsonObject Implementations(string engineName, string? torchName, int threads)
    {
        var o = new JsonObject
        {
            [engineName] = new JsonObject
            {
                ["device"] = Device.ToLowerInvariant(),
                ["threads"] = threads,
                ["version"] = $"Ser.Engine {typeof(Executor).Assembly.GetName().Version}",
                ["computes"] = "float32; convolutions, pooling and LSTM over each sample's valid frames only; " +
                               "training step = forward (dropout on) + weighted loss + backward + Adam (lr 1e-3)",
            },
        };
        if (torchName is not null)
            o[torchName] = new JsonObject
            {
                ["device"] = "cpu",
                ["threads"] = TorchSharp.torch.get_num_threads(),
                ["version"] = $"TorchSharp-cpu {typeof(TorchSharp.torch).Assembly.GetName().Version} (libtorch CPU)",
                ["computes"] = "float32; convolutions + ReLU + mask + ceil max-pool on the whole padded batch; one fused " +
                               "bidirectional torch.nn.LSTM on a length-sorted PackedSequence (valid steps only); " +
                               "training step = forward (dropout on) + weighted loss + autograd backward + torch.optim.Adam (lr 1e-3)",
            };
        return o;
    }

    static double Time(Action action)
    {
        long start = Stopwatch.GetTimestamp();
        action();
        return Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    static double Median(double[] values)
    {
        var s = values.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    static List<string> ParseList(string text, string option)
    {
        var items = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(s => s.ToLowerInvariant()).ToList();
        return items.Count > 0 ? items : throw new SerException($"{option}: nothing given");
    }
}
