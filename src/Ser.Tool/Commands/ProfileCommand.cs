using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using CommandLine;
using Ser.Engine;
using Ser.Engine.Backends.Cpu;
using Ser.Engine.Data;
using Ser.Engine.Models;
using Ser.Engine.Profiling;
using Ser.Engine.Training;
using Ser.Tool.Plots;
using Spectre.Console;

namespace Ser.Tool.Commands;

/// <summary>
/// `sertool profile`: where a training step's time goes, layer by layer. Runs training steps on one batch of random
/// features (fixed shape B x T; with --ragged, per-sample lengths vary and only valid frames count), with the
/// executor's per-layer observer attached: forward and backward (adam: update) time of every layer, its share of the
/// step and its achieved GFLOP/s (FLOPs from shapes and valid lengths, see each layer's Flops), medians over --repeats
/// steps after --warmup untimed ones. Times come from the backend's timer (host clock after a sync on the CPU, device
/// events on a GPU backend). On the CPU the machine's roofline is measured first, and each layer's GFLOP/s is also shown
/// as a percentage of the FMA peak of the kernels' path times the threads.
/// </summary>
[Verb("profile", HelpText = "Per-layer time, share and GFLOP/s of a training step (table, JSON, PNG).")]
internal sealed class ProfileCommand : ICommand
{
    [Option("preset", Default = "small", HelpText = "Model preset: small or paper.")]
    public string Preset { get; set; } = "small";

    [Option("batch", Default = 16, HelpText = "Batch size B.")]
    public int Batch { get; set; } = 16;

    [Option("frames", Default = 450, HelpText = "Frames T per sample (100 per second of audio).")]
    public int Frames { get; set; } = 450;

    [Option("ragged", Default = false, HelpText = "Per-sample lengths uniform in [T/4, T] (the first is T) instead of all T.")]
    public bool Ragged { get; set; }

    [Option("device", Default = "cpu", HelpText = "Backend device: cpu (cuda when built).")]
    public string Device { get; set; } = "cpu";

    [Option("threads", Default = 0, HelpText = "CPU threads (0 = all cores).")]
    public int Threads { get; set; }

    [Option("repeats", Default = 5, HelpText = "Profiled training steps (medians reported).")]
    public int Repeats { get; set; } = 5;

    [Option("warmup", Default = 1, HelpText = "Untimed training steps first.")]
    public int Warmup { get; set; } = 1;

    [Option("seed", Default = 1, HelpText = "Seed of features, lengths, labels and weights.")]
    public int Seed { get; set; } = 1;

    [Option("simd", HelpText = "CPU kernels' vector width: avx512, avx2 or scalar (default: SER_SIMD, else the widest this CPU accelerates).")]
    public string? Simd { get; set; }

    [Option("out", HelpText = "Write the profile as JSON here.")]
    public string? Out { get; set; }

    [Option("png", HelpText = "Write a horizontal bar chart (PNG) here.")]
    public string? Png { get; set; }

    public int Run()
    {
        var config = ModelConfig.Preset(Preset);
        if (Batch is < 1 or > 1024) throw new SerException($"--batch must be in 1..1024, got {Batch}");
        if (Frames is < 1 or > 100_000) throw new SerException($"--frames must be in 1..100000, got {Frames}");
        if (Repeats < 1 || Warmup < 0) throw new SerException("--repeats must be >= 1 and --warmup >= 0");

        CpuKernels.Force(Simd);
        var roof = Device.Equals("cpu", StringComparison.OrdinalIgnoreCase) ? Roofline.Measure(Threads) : null;
        var batch = RandomBatch(config);
        using var ex = Executor.Create(config, new ExecutorOptions { MaxBatch = Batch, MaxFrames = Frames, Threads = Threads, Device = Device });
        ex.InitializeParameters((ulong)Seed);
        var profiler = new LayerProfiler();
        ex.Observer = profiler; // attached during warm-up too, so every step pays the same synchronisation
        for (int i = 0; i < Warmup; i++) ex.TrainStep(batch);
        for (int i = 0; i < Repeats; i++)
        {
            profiler.BeginStep();
            ex.TrainStep(batch);
            profiler.EndStep();
        }
        var profile = profiler.Summarize();

        string simd = ex.Device == "cpu" ? $" {CpuKernels.Name(CpuKernels.Current)}" : "";
        string title = $"{Preset} preset, B={Batch}, T={Frames}{(Ragged ? " (ragged)" : "")}, {ex.Device}{simd} x{ex.Threads}";
        double? peak = roof is null ? null : roof.PeakPerCore(CpuKernels.Current) * ex.Threads;
        WriteTable(profile, title, batch, peak, ex.FusedLayers);
        if (peak is { } p)
            AnsiConsole.MarkupLine($"% of peak: of {F(p, "0.0")} GFLOP/s = {ex.Threads} x the measured FMA peak of one core on this path " +
                                   $"({F(roof!.PeakPerCore(CpuKernels.Current), "0.0")}; memory {F(roof.ReadGBPerSecond, "0.0")} GB/s read)");
        if (Out is not null) Engine.IO.AtomicFile.WriteAllText(Out, Json(profile, config, batch, ex, roof, peak).ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        if (Png is not null) ProfilePlot.Save(profile, $"Training step profile: {title}", Png);
        if (Out is not null) AnsiConsole.MarkupLine($"wrote [bold]{Markup.Escape(Out)}[/]");
        if (Png is not null) AnsiConsole.MarkupLine($"wrote [bold]{Markup.Escape(Png)}[/]");
        return 0;
    }

    /// <summary>Features uniform with unit variance on valid frames, zero on padding; labels uniform.</summary>
    Batch RandomBatch(ModelConfig config)
    {
        var rng = new Random(Seed);
        var batch = new Batch(Batch, Frames, config.Bins) { Count = Batch, Frames = Frames };
        for (int b = 0; b < Batch; b++)
        {
            int length = Ragged && b > 0 ? rng.Next((Frames + 3) / 4, Frames + 1) : Frames;
            batch.Lengths[b] = length;
            batch.Labels[b] = rng.Next(config.Classes);
            batch.Indices[b] = b;
            var sample = batch.Sample(b);                                          // [T, F]
            for (int j = 0; j < length * config.Bins; j++) sample[j] = (float)(2 * rng.NextDouble() - 1) * 1.7f;
        }
        return batch;
    }

    static double? LoadAverage()
    {
        try
        {
            return double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or FormatException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    static string F(double v, string format) => v.ToString(format, CultureInfo.InvariantCulture);

    static string Percent(double gflops, double? peak) => peak is { } p ? $" ({F(100 * gflops / p, "0")}%)" : "";

    static void WriteTable(StepProfile profile, string title, Batch batch, double? peak, IReadOnlyDictionary<string, string> fused)
    {
        var table = new Table().Border(TableBorder.Rounded).Title(Markup.Escape(title))
            .AddColumn("layer").AddColumn(new TableColumn("fwd ms").RightAligned()).AddColumn(new TableColumn("bwd ms").RightAligned())
            .AddColumn(new TableColumn("share").RightAligned()).AddColumn(new TableColumn("GFLOP").RightAligned())
            .AddColumn(new TableColumn("fwd GFLOP/s").RightAligned()).AddColumn(new TableColumn("bwd GFLOP/s").RightAligned());
        foreach (var l in profile.Layers)
            table.AddRow(fused.TryGetValue(l.Layer, out var into) ? $"{l.Layer} [dim](in {into})[/]" : l.Layer, F(l.ForwardSeconds * 1000, "0.00"), F(l.BackwardSeconds * 1000, "0.00"), F(100 * profile.Share(l), "0.0") + "%",
                l.TotalFlops > 0 ? F(l.TotalFlops / 1e9, "0.000") : "-",
                l.ForwardFlops > 0 && l.ForwardSeconds > 0 ? F(l.ForwardGflops, "0.0") + Percent(l.ForwardGflops, peak) : "-",
                l.BackwardFlops > 0 && l.BackwardSeconds > 0 ? F(l.BackwardGflops, "0.0") + Percent(l.BackwardGflops, peak) : "-");
        table.AddRow("[dim](other)[/]", "", "", F(100 * profile.OtherSeconds / profile.StepSeconds, "0.0") + "%", "", "", "");
        table.AddRow("[bold]step[/]", F(profile.Layers.Sum(l => l.ForwardSeconds) * 1000, "0.00"), F(profile.Layers.Sum(l => l.BackwardSeconds) * 1000, "0.00"),
            $"[bold]{F(profile.StepSeconds * 1000, "0.0")} ms[/]", F(profile.TotalFlops / 1e9, "0.000"),
            F(profile.TotalFlops / profile.StepSeconds / 1e9, "0.0") + Percent(profile.TotalFlops / profile.StepSeconds / 1e9, peak) + " (step)", "");
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine($"medians over {profile.Steps} steps; {batch.Lengths.AsSpan(0, batch.Count).ToArray().Sum() / 100.0:0.0} s of audio per step " +
                               "(valid frames); (other) = step time no layer accounts for (input upload, bookkeeping).");
        if (fused.Count > 0)
            AnsiConsole.MarkupLine("(in convN) = fused: convN runs that layer's forward and backward in its own pass (no time of its own).");
    }

    JsonObject Json(StepProfile profile, ModelConfig config, Batch batch, Executor ex, Roofline? roof, double? peak) => new()
    {
        ["tool"] = "sertool profile",
        ["date_utc"] = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
        ["machine"] = new JsonObject
        {
            ["cores"] = Environment.ProcessorCount,
            ["os"] = RuntimeInformation.OSDescription,
            ["runtime"] = RuntimeInformation.FrameworkDescription,
            ["load_average_1min"] = LoadAverage(), // a busy machine slows every layer
        },
        ["device"] = ex.Device,
        ["threads"] = ex.Threads,
        ["simd"] = ex.Device == "cpu" ? CpuKernels.Name(CpuKernels.Current) : null,
        ["roofline"] = roof?.ToJson(),
        ["peak_gflops_per_s"] = peak, // threads x the path's FMA peak per core
        ["preset"] = Preset.ToLowerInvariant(),
        ["config"] = JsonNode.Parse(config.ToJson()),
        ["batch"] = Batch,
        ["frames"] = Frames,
        ["lengths"] = new JsonArray(batch.Lengths.AsSpan(0, batch.Count).ToArray().Select(l => (JsonNode)l).ToArray()),
        ["warmup"] = Warmup,
        ["repeats"] = Repeats,
        ["step_seconds"] = profile.StepSeconds,
        ["other_seconds"] = profile.OtherSeconds,
        ["total_flops"] = profile.TotalFlops,
        ["layers"] = new JsonArray(profile.Layers.Select(l => (JsonNode)new JsonObject
        {
            ["layer"] = l.Layer,
            ["fused_into"] = ex.FusedLayers.GetValueOrDefault(l.Layer), // null unless another layer does this one's work
            ["forward_seconds"] = l.ForwardSeconds,
            ["backward_seconds"] = l.BackwardSeconds,
            ["share"] = profile.Share(l),
            ["forward_flops"] = l.ForwardFlops,
            ["backward_flops"] = l.BackwardFlops,
            ["forward_gflops_per_s"] = l.ForwardGflops,
            ["backward_gflops_per_s"] = l.BackwardGflops,
            ["forward_percent_of_peak"] = peak is { } p && l.ForwardSeconds > 0 ? 100 * l.ForwardGflops / p : null,
            ["backward_percent_of_peak"] = peak is { } q && l.BackwardSeconds > 0 ? 100 * l.BackwardGflops / q : null,
        }).ToArray()),
    };
}
