using System.Diagnostics;
using System.Globalization;
using System.Runtime.Intrinsics.X86;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.ML.OnnxRuntime;
using Ser.Engine.Checkpoints;
using Ser.Engine.Data;
using Ser.Engine.Export;
using Ser.Engine.Features;
using Ser.Engine.Inference;
using Ser.Engine.Models;
using Ser.Engine.Profiling;
using Ser.Engine.Training;

// The engine vs ONNX Runtime (CPU), same model, same audio, front end included on both sides (the ONNX model takes
// PCM). Cases: batch 1 at 1, 5 and 20 s, and a ragged batch of 16 utterances (engine: one padded batch computing valid
// frames only; ONNX Runtime: the --batched export with lengths), on 1 thread and on all cores, presets small and paper.
// Runs alternate engine / ONNX Runtime (order flipped every repeat) after warm-up; medians; ratio = ORT / engine (> 1:
// the engine is faster).
//
//   dotnet run --project tools/Ser.OnnxBench -c Release -- [--repeats 7] [--presets small,paper] [--out DIR]
//   dotnet run --project tools/Ser.OnnxBench -c Release -- --profile paper --seconds 5 --threads 1 [--out DIR]
//
// Weights are random (every path live): time does not depend on their values. Timing is only meaningful on a quiet
// machine; the tool prints the machine it ran on.
var options = Options.Parse(args);
string dir = Directory.CreateTempSubdirectory("ser-onnxbench-").FullName;
try
{
    if (options.Profile is { } profilePreset) Bench.Profile(options, profilePreset, dir);
    else Bench.Run(options, dir);
}
finally
{
    Directory.Delete(dir, recursive: true);
}

sealed record Options(int Repeats, string[] Presets, string? Out, string? Profile, double Seconds, int Threads, int Ragged)
{
    public static Options Parse(string[] args)
    {
        var o = new Options(7, ["small", "paper"], null, null, 5, 1, 16);
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            o = args[i] switch
            {
                "--repeats" => o with { Repeats = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--presets" => o with { Presets = Next().Split(',') },
                "--out" => o with { Out = Next() },
                "--profile" => o with { Profile = Next() },
                "--seconds" => o with { Seconds = double.Parse(Next(), CultureInfo.InvariantCulture) },
                "--threads" => o with { Threads = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--ragged" => o with { Ragged = int.Parse(Next(), CultureInfo.InvariantCulture) },
                _ => throw new ArgumentException($"unknown option {args[i]}"),
            };
        }
        return o;
    }
}

static class Bench
{
    const int Rate = FrontEnd.SampleRate;

    static string SaveModel(string preset, string dir)
    {
        string path = Path.Combine(dir, preset + ".ser");
        using var ex = Executor.Create(ModelConfig.Preset(preset), new ExecutorOptions { Training = false, MaxBatch = 1, MaxFrames = 10 });
        ex.InitializeParameters(1, InitMode.AllPathsLive);
        var r = new Random(1);
        var stats = new FeatureStats(Enumerable.Range(0, FrontEnd.Bins).Select(_ => -45f + 20 * r.NextSingle()).ToArray(),
                                     Enumerable.Range(0, FrontEnd.Bins).Select(_ => 12f + 6 * r.NextSingle()).ToArray());
        Checkpoint.Save(path, ex, ["neutral", "angry", "happy", "sad"], stats, new Dictionary<string, string> { ["length_mode"] = "variable" });
        return path;
    }

    static float[] Audio(int seed, int samples)
    {
        // speech-band noise with a slow envelope: the cost does not depend on the content, only on the length
        var r = new Random(seed);
        var x = new float[samples];
        for (int i = 0; i < samples; i++) x[i] = (float)(0.3 * (2 * r.NextDouble() - 1) * (0.6 + 0.4 * Math.Sin(2 * Math.PI * 3 * i / Rate)));
        return x;
    }

    /// <summary>Utterance lengths of the synthetic corpus' shape: log-normal, median 3.5 s, sigma 0.5, 1-12 s.</summary>
    static int[] RaggedLengths(int count)
    {
        var r = new Random(2);
        return Enumerable.Range(0, count).Select(_ =>
        {
            double z = Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble());
            return (int)(Math.Clamp(3.5 * Math.Exp(0.5 * z), 1, 12) * Rate);
        }).ToArray();
    }

    /// <summary>The engine on one utterance, front end included: features, normalisation, executor, temperature.</summary>
    sealed class EngineOne(Checkpoint checkpoint, int threads, int maxSamples) : IDisposable
    {
        readonly Executor _ex = checkpoint.CreateExecutor(new ExecutorOptions
            { Training = false, MaxBatch = 1, MaxFrames = FrontEnd.FrameCount(maxSamples), Threads = threads });
        readonly float[] _features = new float[FrontEnd.FrameCount(maxSamples) * FrontEnd.Bins];
        readonly float[] _probs = new float[checkpoint.Config.Classes];

        public Executor Executor => _ex;

        public float[] Run(float[] pcm)
        {
            int frames = FrontEnd.FrameCount(pcm.Length);
            var x = _features.AsSpan(0, frames * FrontEnd.Bins);
            FrontEnd.Compute(pcm, x, threads == 1 ? 1 : -1);
            checkpoint.Stats.Normalize(x);
            _ex.Predict(x, frames, _probs);
            Calibration.ApplyTemperature(_probs, checkpoint.Temperature);
            return _probs;
        }

        public void Dispose() => _ex.Dispose();
    }

    /// <summary>The engine on a ragged batch: per-utterance front end into one padded batch, valid frames only.</summary>
    sealed class EngineBatch : IDisposable
    {
        readonly Checkpoint _checkpoint;
        readonly int _threads;
        readonly Executor _ex;
        readonly Batch _batch;
        readonly float[] _logits;

        public EngineBatch(Checkpoint checkpoint, int threads, int[] lengths)
        {
            _checkpoint = checkpoint;
            _threads = threads;
            int maxFrames = lengths.Max(FrontEnd.FrameCount);
            _ex = checkpoint.CreateExecutor(new ExecutorOptions { Training = false, MaxBatch = lengths.Length, MaxFrames = maxFrames, Threads = threads });
            _batch = new Batch(lengths.Length, maxFrames, FrontEnd.Bins);
            _logits = new float[lengths.Length * checkpoint.Config.Classes];
        }

        public float[] Run(float[][] utterances)
        {
            int frames = utterances.Max(u => FrontEnd.FrameCount(u.Length)), f = FrontEnd.Bins;
            _batch.Count = utterances.Length;
            _batch.Frames = frames;
            for (int b = 0; b < utterances.Length; b++)
            {
                int t = FrontEnd.FrameCount(utterances[b].Length);
                var row = _batch.Sample(b);
                FrontEnd.Compute(utterances[b], row[..(t * f)], _threads == 1 ? 1 : -1);
                _checkpoint.Stats.Normalize(row[..(t * f)]);
                row[(t * f)..].Clear();
                _batch.Lengths[b] = t;
                _batch.Labels[b] = 0;
            }
            _ex.Evaluate(_batch, default, _logits);
            int k = _checkpoint.Config.Classes;
            for (int b = 0; b < utterances.Length; b++)
            {
                var row = _logits.AsSpan(b * k, k);
                Executor.Softmax(row, row);
                Calibration.ApplyTemperature(row, _checkpoint.Temperature);
            }
            return _logits;
        }

        public void Dispose() => _ex.Dispose();
    }

    static InferenceSession Session(string path, int threads, string? profilePrefix = null)
    {
        using var o = new SessionOptions
        {
            IntraOpNumThreads = threads,   // 0: ONNX Runtime's default, one per core
            InterOpNumThreads = 1,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        // the prefix first: setting EnableProfiling starts the profiler with the prefix set at that moment
        if (profilePrefix is not null) { o.ProfileOutputPathPrefix = profilePrefix; o.EnableProfiling = true; }
        return new InferenceSession(path, o);
    }

    static float[] RunOrt(InferenceSession s, float[] pcm)
    {
        using var input = OrtValue.CreateTensorValueFromMemory(pcm, [1, pcm.Length]);
        using var outputs = s.Run(new RunOptions(), ["pcm"], [input], ["probs"]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    static float[] RunOrtBatch(InferenceSession s, float[] rows, int[] lengths)
    {
        int width = rows.Length / lengths.Length;
        using var input = OrtValue.CreateTensorValueFromMemory(rows, [lengths.Length, width]);
        using var lens = OrtValue.CreateTensorValueFromMemory(lengths.Select(l => (long)l).ToArray(), [lengths.Length]);
        using var outputs = s.Run(new RunOptions(), ["pcm", "lengths"], [input, lens], ["probs"]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    static double Median(List<double> v)
    {
        var s = v.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    /// <summary>Times a and b alternately (order flipped every repeat) after warm-up runs; medians in ms.</summary>
    static (double A, double B, double Diff) Alternate(int repeats, Func<float[]> a, Func<float[]> b)
    {
        for (int w = 0; w < 2; w++) { a(); b(); }   // warm-up
        var pa = a(); var pb = b();                 // the answers must agree
        double diff = pa.Zip(pb).Max(p => Math.Abs(p.First - p.Second));
        var ta = new List<double>(); var tb = new List<double>();
        for (int r = 0; r < repeats; r++)
        {
            foreach (bool first in r % 2 == 0 ? new[] { true, false } : [false, true])
            {
                long t0 = Stopwatch.GetTimestamp();
                if (first) a(); else b();
                double ms = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                (first ? ta : tb).Add(ms);
            }
        }
        return (Median(ta), Median(tb), diff);
    }

    static string Machine() =>
        $"{Environment.ProcessorCount} logical cores, {CpuName()}, AVX2 {Avx2.IsSupported}, AVX-512F {Avx512F.IsSupported}, " +
        $".NET {Environment.Version}, ONNX Runtime {OrtEnv.Instance().GetVersionString()}, load average {LoadAverage()}";

    static string Commit()
    {
        try
        {
            using var git = Process.Start(new ProcessStartInfo("git", "describe --always --dirty") { RedirectStandardOutput = true, RedirectStandardError = true })!;
            string head = git.StandardOutput.ReadToEnd().Trim();
            git.WaitForExit();
            return git.ExitCode == 0 ? head : "unknown";
        }
        catch (System.ComponentModel.Win32Exception) { return "unknown"; }
    }

    static string LoadAverage()
    {
        try { return string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)); }
        catch (IOException) { return "unknown"; }
    }

    static string CpuName()
    {
        try
        {
            return File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown CPU";
        }
        catch (IOException) { return "unknown CPU"; }
    }

    public static void Run(Options o, string dir)
    {
        int all = Environment.ProcessorCount;
        var rows = new List<JsonObject>();
        var md = new StringBuilder();
        md.AppendLine(CultureInfo.InvariantCulture, $"Machine: {Machine()}; {o.Repeats} alternating repeats per case, medians (ms); ratio = ONNX Runtime / engine (> 1: engine faster).");
        md.AppendLine();
        md.AppendLine("| preset | threads | input | engine ms | ONNX Runtime ms | ratio | max abs prob diff |");
        md.AppendLine("|---|---:|---|---:|---:|---:|---:|");
        Console.WriteLine(Machine());
        foreach (string preset in o.Presets)
        {
            string ckptPath = SaveModel(preset, dir);
            var ckpt = Checkpoint.Load(ckptPath);
            string single = Path.Combine(dir, preset + ".onnx"), batched = Path.Combine(dir, preset + ".batched.onnx");
            OnnxExporter.Save(ckpt, single);
            OnnxExporter.Save(ckpt, batched, new OnnxExportOptions { Batched = true });
            var lengths = RaggedLengths(o.Ragged);
            var utterances = lengths.Select((n, i) => Audio(100 + i, n)).ToArray();
            int width = lengths.Max();
            var padded = new float[lengths.Length * width];
            for (int b = 0; b < lengths.Length; b++) utterances[b].CopyTo(padded, b * width);

            foreach (int threads in all > 1 ? new[] { 1, all } : [1])
            {
                using var ort = Session(single, threads == all ? 0 : threads);
                using var ortBatch = Session(batched, threads == all ? 0 : threads);
                int engineThreads = threads == all ? 0 : threads;
                foreach (double seconds in new[] { 1.0, 5.0, 20.0 })
                {
                    var pcm = Audio(7, (int)(seconds * Rate));
                    using var engine = new EngineOne(ckpt, engineThreads, pcm.Length);
                    var (e, r, d) = Alternate(o.Repeats, () => engine.Run(pcm), () => RunOrt(ort, pcm));
                    Add(preset, threads, $"1 x {seconds:F0} s", e, r, d);
                }
                using (var engine = new EngineBatch(ckpt, engineThreads, lengths))
                {
                    var (e, r, d) = Alternate(o.Repeats, () => engine.Run(utterances), () => RunOrtBatch(ortBatch, padded, lengths));
                    Add(preset, threads, $"ragged {lengths.Length} ({lengths.Sum() / (double)Rate:F0} s, {lengths.Min() / (double)Rate:F1}-{lengths.Max() / (double)Rate:F1} s)", e, r, d);
                }
            }
        }

        void Add(string preset, int threads, string input, double engineMs, double ortMs, double diff)
        {
            string line = string.Create(CultureInfo.InvariantCulture,
                $"| {preset} | {threads} | {input} | {engineMs:F2} | {ortMs:F2} | {ortMs / engineMs:F2} | {diff:E1} |");
            Console.WriteLine(line);
            md.AppendLine(line);
            rows.Add(new JsonObject
            {
                ["preset"] = preset, ["threads"] = threads, ["input"] = input, ["engine_ms"] = engineMs, ["ort_ms"] = ortMs,
                ["ratio_ort_over_engine"] = ortMs / engineMs, ["max_abs_prob_diff"] = diff,
            });
        }

        if (o.Out is null) return;
        Directory.CreateDirectory(o.Out);
        File.WriteAllText(Path.Combine(o.Out, "results.md"), md.ToString());
        var json = new JsonObject
        {
            ["machine"] = Machine(), ["commit"] = Commit(), ["args"] = string.Join(' ', Environment.GetCommandLineArgs().Skip(1)),
            ["repeats"] = o.Repeats, ["date"] = DateTime.UtcNow.ToString("u", CultureInfo.InvariantCulture), ["rows"] = new JsonArray([.. rows]),
        };
        File.WriteAllText(Path.Combine(o.Out, "results.json"), json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine($"wrote {o.Out}/results.md, results.json");
    }

    /// <summary>Per-layer time of both sides on one case: the engine's LayerProfiler and ONNX Runtime's node profile.</summary>
    public static void Profile(Options o, string preset, string dir)
    {
        var ckpt = Checkpoint.Load(SaveModel(preset, dir));
        string single = Path.Combine(dir, preset + ".onnx");
        OnnxExporter.Save(ckpt, single);
        var pcm = Audio(7, (int)(o.Seconds * Rate));
        int threads = o.Threads;
        var md = new StringBuilder();
        md.AppendLine(CultureInfo.InvariantCulture, $"Per-layer profile, preset {preset}, 1 x {o.Seconds} s, {threads} thread(s) (0 = all cores); {Machine()}; medians over {o.Repeats} runs after warm-up.");
        md.AppendLine();

        // engine: front end timed around FrontEnd.Compute, layers by the executor's observer
        using (var engine = new EngineOne(ckpt, threads, pcm.Length))
        {
            engine.Run(pcm);
            var profiler = new LayerProfiler();
            engine.Executor.Observer = profiler;
            var frontEnd = new List<double>();
            var features = new float[FrontEnd.FrameCount(pcm.Length) * FrontEnd.Bins];
            for (int r = 0; r < o.Repeats; r++)
            {
                long t0 = Stopwatch.GetTimestamp();
                FrontEnd.Compute(pcm, features, threads == 1 ? 1 : -1);
                ckpt.Stats.Normalize(features);
                frontEnd.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                profiler.BeginStep();
                engine.Executor.Predict(features, FrontEnd.FrameCount(pcm.Length), new float[ckpt.Config.Classes]);
                profiler.EndStep();
            }
            engine.Executor.Observer = null;
            var p = profiler.Summarize();
            md.AppendLine("Engine (median ms per run):");
            md.AppendLine();
            md.AppendLine("| layer | ms |");
            md.AppendLine("|---|---:|");
            md.AppendLine(CultureInfo.InvariantCulture, $"| front end (+ normalise) | {Median(frontEnd):F3} |");
            foreach (var l in p.Layers) md.AppendLine(CultureInfo.InvariantCulture, $"| {l.Layer} | {l.ForwardSeconds * 1e3:F3} |");
            md.AppendLine(CultureInfo.InvariantCulture, $"| (model step total) | {p.StepSeconds * 1e3:F3} |");
            md.AppendLine();
        }

        // ONNX Runtime: its own profiler's events (microseconds). Every node runs once per run, so a node's events in
        // file order are its runs: the first (the warm-up, where weights are reordered) is dropped, the rest give a median.
        string prefix = Path.Combine(dir, "ort-profile");
        string file;
        using (var s = Session(single, threads, prefix))
        {
            RunOrt(s, pcm);   // warm-up (profiled too, dropped below)
            for (int r = 0; r < o.Repeats; r++) RunOrt(s, pcm);
            file = s.EndProfiling();
        }
        var events = JsonNode.Parse(File.ReadAllText(file))!.AsArray();
        var byNode = new Dictionary<string, (string Op, List<double> Us)>();
        var runsUs = new List<double>();
        foreach (var e in events)
        {
            string name = e?["name"]?.GetValue<string>() ?? "";
            double us = e?["dur"]?.GetValue<double>() ?? 0;
            if (e?["cat"]?.GetValue<string>() == "Session" && name == "model_run") runsUs.Add(us);
            if (e?["cat"]?.GetValue<string>() != "Node" || !name.EndsWith("_kernel_time", StringComparison.Ordinal)) continue;
            name = name[..^"_kernel_time".Length];
            if (!byNode.TryGetValue(name, out var entry)) byNode[name] = entry = (e["args"]?["op_name"]?.GetValue<string>() ?? "?", []);
            entry.Us.Add(us);
        }
        double MedianAfterWarmup(List<double> us) => Median(us.Count > 1 ? us.Skip(1).ToList() : us) / 1e3;
        md.AppendLine(CultureInfo.InvariantCulture, $"ONNX Runtime (median ms over {o.Repeats} runs after one warm-up; nodes after its graph optimisations):");
        md.AppendLine();
        md.AppendLine("| node | op | ms |");
        md.AppendLine("|---|---|---:|");
        var medians = byNode.Select(n => (Name: n.Key, n.Value.Op, Ms: MedianAfterWarmup(n.Value.Us))).OrderByDescending(n => n.Ms).ToList();
        foreach (var (name, op, ms) in medians)
            if (ms >= 1e-3) md.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {op} | {ms:F3} |");
        md.AppendLine(CultureInfo.InvariantCulture, $"| (sum of node medians) | | {medians.Sum(n => n.Ms):F3} |");
        if (runsUs.Count > 0) md.AppendLine(CultureInfo.InvariantCulture, $"| (model_run) | | {MedianAfterWarmup(runsUs):F3} |");
        Console.Write(md.ToString());
        if (o.Out is null) return;
        Directory.CreateDirectory(o.Out);
        string path = Path.Combine(o.Out, string.Create(CultureInfo.InvariantCulture, $"profile-{preset}-{o.Seconds:F0}s-{threads}t.md"));
        File.WriteAllText(path, md.ToString());
        Console.WriteLine($"wrote {path}");
    }
}
