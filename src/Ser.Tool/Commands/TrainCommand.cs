using System.Diagnostics;
using System.Globalization;
using CommandLine;
using Ser.Engine;
using Ser.Engine.Backends.Cpu;
using Ser.Engine.Data;
using Ser.Engine.Experiments;
using Ser.Engine.Profiling;
using Ser.Tool.Plots;
using Ser.Tool.Progress;
using Spectre.Console;

namespace Ser.Tool.Commands;

/// <summary>
/// `sertool train`: the paper's experiment (leave one session out, model chosen on the validation speaker's UA, scored on
/// the test speaker). With no options: the embedded synthetic corpus at 2280 utterances, small preset, variable-length mode, fold 1 only
/// (the quick start; --folds all runs the full protocol). Writes a run folder (default runs/&lt;yyyyMMdd-HHmmss&gt;):
/// fold{k}/best.ser, fold{k}/last.ser, model.ser, MODEL_CARD.md, report.md, report.json, confusion.png, learning-curves.png, reliability.png, state.json.
/// Ctrl-C stops between two batches with a resumable checkpoint; --resume continues (the newest run in runs/ when no
/// --out is given). Options left out on --resume are taken from the run; options given must match it.
/// </summary>
[Verb("train", HelpText = "Train and test the CRNN with the paper's leave-one-session-out protocol (default: synthetic corpus of 2280 utterances, small preset, fold 1).")]
internal sealed class TrainCommand : ICommand
{
    public const string RunsFolder = "runs";
    static readonly TrainingSettings Defaults = new();

    [Option("corpus", HelpText = "Corpus spec (default synthetic:utterances=2280, the synthetic corpus at IEMOCAP-improvised size): synthetic[:utterances=N,seed=S], iemocap:PATH, ravdess:PATH, cremad:PATH, emodb:PATH, manifest:FILE.csv")]
    public string? Corpus { get; set; }

    [Option("preset", HelpText = "Model size: small (default; quick on a CPU), paper (the paper's sizes), or a model config JSON file.")]
    public string? Preset { get; set; }

    [Option("mode", HelpText = "variable (default: whole utterances, the paper's method) or fixed (3 s pieces, Satt et al.'s baseline).")]
    public string? Mode { get; set; }

    [Option("folds", HelpText = "Folds to run: all, or numbers like 1,3 (default 1: one fold, so the quick start stays quick).")]
    public string? Folds { get; set; }

    [Option("epochs", HelpText = "Most epochs per fold (default 30).")]
    public int? Epochs { get; set; }

    [Option("batch-size", HelpText = "Utterances (or pieces) per training batch (default 16).")]
    public int? BatchSize { get; set; }

    [Option("lr", HelpText = "Adam learning rate (default 0.0003).")]
    public double? LearningRate { get; set; }

    [Option("seed", HelpText = "Seed of initial weights, batch order and dropout (default 1).")]
    public int? Seed { get; set; }

    [Option("patience", HelpText = "Stop a fold once both held-out speakers went this many epochs without a better UA (after the warm-up); 0 = never (default 8).")]
    public int? Patience { get; set; }

    [Option("warmup", HelpText = "Epochs before model selection: no earlier epoch is chosen and no early stop before it (default: half of --epochs).")]
    public int? Warmup { get; set; }

    [Option("length-weight", HelpText = "on (default): each sample's loss weight has the paper's 1/length factor; off: class weighting only (the ablation).")]
    public string? LengthWeight { get; set; }

    [Option("loss-normalizer", HelpText = "split (default): the weighted loss is divided by batch size x the training split's mean weight, so 1/length acts across batches; batch: by each batch's own weight sum (before 2026-12).")]
    public string? LossNormalizer { get; set; }

    [Option("split", HelpText = "Fixed mode: pieces (default: consecutive 3 s pieces, the remainder zero-padded) or equal (ceil(L/3 s) equal parts of at most 3 s).")]
    public string? Split { get; set; }

    [Option("no-calibration", HelpText = "Leave probabilities uncalibrated (T = 1). By default a softmax temperature is fitted on each fold's validation speaker and stored in the model.")]
    public bool NoCalibration { get; set; }

    [Option("simd", HelpText = "CPU kernels' vector width: avx512, avx2 or scalar (default: SER_SIMD, else the widest this CPU accelerates). Recorded in the run's state.json.")]
    public string? Simd { get; set; }

    [Option("device", HelpText = "cpu, cuda or auto (default auto: CUDA when available, else the CPU).")]
    public string? Device { get; set; }

    [Option("threads", Default = 0, HelpText = "CPU threads (0 = all cores). Results do not depend on it.")]
    public int Threads { get; set; }

    [Option("out", HelpText = "Run folder (default runs/<yyyyMMdd-HHmmss>; with --resume, the newest folder in runs/).")]
    public string? Out { get; set; }

    [Option("feature-cache", HelpText = FeatureCacheOption.Help)]
    public string? FeatureCache { get; set; }

    [Option("feature-precision", HelpText = FeatureCacheOption.PrecisionHelp)]
    public string? FeaturePrecision { get; set; }

    [Option("resume", HelpText = "Continue an interrupted run: finished folds are kept, the current fold continues from its last.ser.")]
    public bool Resume { get; set; }

    public int Run()
    {
        var clock = Stopwatch.StartNew();
        using var memory = new PeakMemory();
        var console = ToolConsole.Create();
        CpuKernels.Force(Simd);
        if (Threads < 0) throw new SerException($"--threads must be 0 (all cores) or positive (got {Threads})");
        var featureStore = FeatureCacheOption.Resolve(FeatureCache, FeaturePrecision, Threads);
        string outDir = ResolveOutput();
        var settings = ResolveSettings(outDir, out int foldCount);
        string device = DeviceChoice.Resolve(Device, console.WriteLine);

        string split = settings.Mode == LengthMode.Fixed ? $" ({TrainingSettings.SplitName(settings.Split)})" : "";
        string lengthWeight = settings.LengthWeight ? "" : "no length weight, ";
        console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"sertool train: corpus {settings.Corpus}, preset {settings.Preset}, {TrainingSettings.ModeName(settings.Mode)}-length{split}, " +
            $"up to {settings.Epochs} epoch{(settings.Epochs == 1 ? "" : "s")} (warm-up {settings.Warmup}, patience {settings.Patience}), " +
            $"{lengthWeight}batch {settings.BatchSize}, lr {settings.LearningRate}, seed {settings.Seed}, " +
            $"device {device}, run folder {outDir}{(Resume ? " (resuming)" : "")}"));
        if (settings.Folds.Length < foldCount)
            console.WriteLine(settings.Folds.Length == 1 && Folds is null && !Resume
                ? $"NOTE: training fold {settings.Folds[0]} of {foldCount} only, to keep the default run short; the paper's full leave-one-session-out protocol is --folds all."
                : $"NOTE: running folds {string.Join(",", settings.Folds)} of {foldCount} (a subset of the leave-one-session-out protocol; --folds all runs every fold).");

        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            if (cancel.IsCancellationRequested) return;  // a second Ctrl-C ends the process at once
            e.Cancel = true;
            cancel.Cancel();
            Console.Error.WriteLine("sertool: stopping after the current batch (saving a resumable checkpoint; Ctrl-C again to kill)...");
        };
        Console.CancelKeyPress += onCancel;
        ExperimentReport report;
        var display = new TrainingDisplay(console, settings.Folds.Length * settings.Epochs);
        try
        {
            report = display.Run(() => ExperimentRunner.Run(settings,
                new RunOptions { OutputDirectory = outDir, Resume = Resume, Device = device, Threads = Threads, Build = $"commit {BuildInfo.Commit()}",
                    FeatureStore = featureStore }, display, cancel.Token));
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            Console.Error.WriteLine($"sertool: interrupted; everything up to the last batch is saved. Continue with: sertool train --resume --out {outDir}");
            return 130;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }

        string title = $"{report.Mode}-length, {report.Preset}, {(report.Folds.Count == foldCount ? "all folds pooled" : $"fold(s) {string.Join(",", settings.Folds)}")}";
        ExperimentPlots.SaveConfusion(report.Pooled, $"Test confusion (%): {title}", Path.Combine(outDir, "confusion.png"));
        ExperimentPlots.SaveLearningCurves(report.Folds, $"Learning curves: {title}", Path.Combine(outDir, "learning-curves.png"));
        if (report.PooledCalibration is { } reliability)
            ExperimentPlots.SaveReliability(reliability.Before, reliability.After, $"Reliability of test probabilities: {title}", Path.Combine(outDir, "reliability.png"));

        console.Write(ResultTables.Summary(report));
        console.Write(ResultTables.Confusion(report.Pooled, $"test confusion, {(report.Folds.Count > 1 ? "pooled over folds" : $"fold {report.Folds[0].Fold}")} (rows actual, % of row)"));
        var chosen = ExperimentRunner.ChooseModel(report.Folds);
        console.WriteLine($"model.ser = fold {chosen.Fold}'s best.ser (highest validation UA)");
        if (report.PooledCalibration is { } calibration && chosen.Calibration is { } c)
        {
            var (before, after) = calibration;
            console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"calibration: model T = {c.Temperature:0.###} (fitted on {chosen.ValidationSpeaker}); pooled test NLL {before.NegativeLogLikelihood:F3} -> {after.NegativeLogLikelihood:F3}, ECE {100 * before.ExpectedCalibrationError:F1}% -> {100 * after.ExpectedCalibrationError:F1}%"));
        }
        console.WriteLine($"wrote {Path.Combine(outDir, ExperimentRunner.ModelFile)}, {Ser.Engine.Experiments.ModelCard.FileName}, report.md, report.json, confusion.png, learning-curves.png{(report.PooledCalibration is null ? "" : ", reliability.png")}, fold*/best.ser, fold*/last.ser");
        console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"done in {clock.Elapsed.TotalSeconds:F1} s (this session)"));
        console.WriteLine($"memory: {memory.Describe()}");
        return 0;
    }

    string ResolveOutput()
    {
        if (!string.IsNullOrWhiteSpace(Out)) return Out;
        if (!Resume) return Path.Combine(RunsFolder, DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
        var newest = Directory.Exists(RunsFolder)
            ? Directory.GetDirectories(RunsFolder).Where(d => File.Exists(RunState.PathIn(d)))
                .OrderByDescending(d => File.GetLastWriteTimeUtc(RunState.PathIn(d))).FirstOrDefault()
            : null;
        return newest ?? throw new SerException($"--resume: no run to continue in {RunsFolder}/ (give the run folder with --out)");
    }

    /// <summary>The run's settings: from the options (new run) or from the run folder's state.json (resume, where options
    /// that are given must agree with the run's).</summary>
    TrainingSettings ResolveSettings(string outDir, out int foldCount)
    {
        TrainingSettings settings;
        if (Resume)
        {
            var saved = ReadSavedSettings(outDir);
            settings = saved with
            {
                Corpus = Same("--corpus", Corpus, saved.Corpus),
                Preset = Same("--preset", Preset is null ? null : ParsePreset(Preset).Name, saved.Preset),
                Mode = Same("--mode", Mode is null ? (LengthMode?)null : TrainingSettings.ParseMode(Mode), saved.Mode),
                Epochs = Same("--epochs", Epochs, saved.Epochs),
                BatchSize = Same("--batch-size", BatchSize, saved.BatchSize),
                LearningRate = Same("--lr", LearningRate, saved.LearningRate),
                Seed = Same("--seed", Seed, saved.Seed),
                Patience = Same("--patience", Patience, saved.Patience),
                WarmupEpochs = Same("--warmup", Warmup, saved.WarmupEpochs),
                LengthWeight = Same("--length-weight", LengthWeight is null ? (bool?)null : ParseOnOff("--length-weight", LengthWeight), saved.LengthWeight),
                LossNormalizer = Same("--loss-normalizer", LossNormalizer is null ? (LossNormalizer?)null : ParseNormalizer(LossNormalizer), saved.LossNormalizer),
                Split = Same("--split", Split is null ? (FixedSplit?)null : TrainingSettings.ParseSplit(Split), saved.Split),
                Calibrate = Same("--no-calibration", NoCalibration ? false : (bool?)null, saved.Calibrate),
            };
            foldCount = FoldCount(settings.Corpus);
            if (Folds is not null && !ParseFolds(Folds, foldCount).SequenceEqual(saved.Folds))
                throw new SerException($"--folds {Folds} differs from the run's folds {string.Join(",", saved.Folds)} (leave it out to resume)");
            return settings;
        }
        settings = new TrainingSettings
        {
            Corpus = Corpus ?? Defaults.Corpus,
            Preset = ParsePreset(Preset ?? Defaults.Preset).Name,
            CustomModel = ParsePreset(Preset ?? Defaults.Preset).Custom,
            Mode = Mode is null ? Defaults.Mode : TrainingSettings.ParseMode(Mode),
            Epochs = Epochs ?? Defaults.Epochs,
            BatchSize = BatchSize ?? Defaults.BatchSize,
            LearningRate = LearningRate ?? Defaults.LearningRate,
            Seed = Seed ?? Defaults.Seed,
            Patience = Patience ?? Defaults.Patience,
            WarmupEpochs = Warmup ?? Defaults.WarmupEpochs,
            LengthWeight = LengthWeight is null ? Defaults.LengthWeight : ParseOnOff("--length-weight", LengthWeight),
            LossNormalizer = LossNormalizer is null ? Defaults.LossNormalizer : ParseNormalizer(LossNormalizer),
            Split = Split is null ? Defaults.Split : TrainingSettings.ParseSplit(Split),
            Calibrate = !NoCalibration,
        };
        if (Split is not null && settings.Mode != LengthMode.Fixed) throw new SerException("--split applies to --mode fixed only");
        settings = settings with { Folds = [1] };
        settings.Validate();                                  // cheap checks before the corpus is read
        foldCount = FoldCount(settings.Corpus);
        return settings with { Folds = Folds is null ? [1] : ParseFolds(Folds, foldCount) };
    }

    /// <summary>small | paper | FILE.json (a model config: channels, kernels, hidden, dense, dropout; classes come from the corpus).</summary>
    static (string Name, Ser.Engine.Models.ModelConfig? Custom) ParsePreset(string preset)
    {
        if (File.Exists(preset))
            return (Path.GetFileName(preset), Ser.Engine.Models.ModelConfig.FromJson(File.ReadAllText(preset), preset));
        string name = preset.Trim().ToLowerInvariant();
        if (name.EndsWith(".json", StringComparison.Ordinal)) throw new SerException($"--preset {preset}: file not found");
        Ser.Engine.Models.ModelConfig.Preset(name);
        return (name, null);
    }

    static bool ParseOnOff(string option, string text) => text.Trim().ToLowerInvariant() switch
    {
        "on" or "true" or "yes" => true,
        "off" or "false" or "no" => false,
        _ => throw new SerException($"{option}: expected on or off (got '{text}')"),
    };

    static LossNormalizer ParseNormalizer(string text) => text.Trim().ToLowerInvariant() switch
    {
        "split" => Ser.Engine.Experiments.LossNormalizer.Split,
        "batch" => Ser.Engine.Experiments.LossNormalizer.Batch,
        _ => throw new SerException($"--loss-normalizer: expected split or batch (got '{text}')"),
    };

    static T Same<T>(string option, T? given, T saved) where T : struct =>
        given is null || given.Value.Equals(saved) ? saved
            : throw new SerException($"{option} {Format(given.Value)} differs from the run's {Format(saved)} (leave it out to resume)");

    static string Same(string option, string? given, string saved) =>
        given is null || given == saved ? saved : throw new SerException($"{option} {given} differs from the run's {saved} (leave it out to resume)");

    static string Format<T>(T v) => v is IFormattable f ? f.ToString(null, CultureInfo.InvariantCulture) : v?.ToString() ?? "";

    static TrainingSettings ReadSavedSettings(string outDir)
    {
        if (!File.Exists(RunState.PathIn(outDir))) throw new SerException($"--resume: {outDir} holds no run to continue (no {RunState.FileName})");
        return RunState.Load(outDir).Settings;
    }

    /// <summary>Sessions of the corpus = folds (reads only the corpus listing, no audio).</summary>
    static int FoldCount(string corpus) => CorpusSpec.Load(corpus).Sessions.Count;

    internal static int[] ParseFolds(string text, int foldCount)
    {
        if (text.Trim().Equals("all", StringComparison.OrdinalIgnoreCase)) return Enumerable.Range(1, foldCount).ToArray();
        var folds = new List<int>();
        foreach (string part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (!int.TryParse(part, NumberStyles.Integer, CultureInfo.InvariantCulture, out int f) || f < 1 || f > foldCount)
                throw new SerException($"--folds: '{part}' is not a fold number 1..{foldCount} (or use all)");
            if (folds.Contains(f)) throw new SerException($"--folds: fold {f} is listed twice");
            folds.Add(f);
        }
        return folds.Count > 0 ? folds.ToArray() : throw new SerException("--folds: no folds given (use all or numbers like 1,3)");
    }
}
