using System.Diagnostics;
using System.Globalization;
using Ser.Engine.Checkpoints;
using Ser.Engine.Data;
using Ser.Engine.Data.Store;
using Ser.Engine.IO;
using Ser.Engine.Training;

namespace Ser.Engine.Experiments;

/// <summary>Where and how a run executes (none of it changes the results).</summary>
public sealed record RunOptions
{
    /// <summary>The run folder: state.json, fold{k}/best.ser and last.ser, model.ser, report.md, report.json.</summary>
    public required string OutputDirectory { get; init; }
    /// <summary>Continue the run in <see cref="OutputDirectory"/> (finished folds are kept, the current one continues
    /// from its last.ser). Without it, a folder that already holds a run is refused.</summary>
    public bool Resume { get; init; }
    public string Device { get; init; } = "cpu";
    /// <summary>CPU threads; 0 = all cores.</summary>
    public int Threads { get; init; }
    /// <summary>What built the caller (e.g. sertool's git commit), written into the report so results name their code.</summary>
    public string Build { get; init; } = "";
    /// <summary>Keep features in a persistent, memory-mapped store (reused across runs); null computes them in memory.</summary>
    public FeatureStoreOptions? FeatureStore { get; init; }
}

/// <summary>
/// The experiment of the paper on one corpus: leave-one-session-out folds (<see cref="Folds.LeaveOneSessionOut"/>), each
/// trained by <see cref="FoldTrainer"/>, then the report (per fold and pooled WA/UA and confusion matrices). Files in
/// the run folder: fold{k}/best.ser (chosen weights), fold{k}/last.ser (resumable), model.ser (the best fold's
/// best.ser by validation UA: the validation speaker, never the test speaker, decides; with the model card in its
/// metadata), MODEL_CARD.md, report.md, report.json and
/// state.json (finished folds). A cancel request stops between two training batches with everything saved and throws
/// <see cref="OperationCanceledException"/>.
/// </summary>
public static class ExperimentRunner
{
    public const string ModelFile = "model.ser", ReportMarkdown = "report.md", ReportJson = "report.json";

    public static ExperimentReport Run(TrainingSettings settings, RunOptions run, TrainingObserver? observer = null,
        CancellationToken cancel = default)
    {
        observer ??= new SilentObserver();
        settings.Validate();
        var clock = Stopwatch.StartNew();
        string dir = run.OutputDirectory;
        RunState state;
        if (run.Resume)
        {
            state = RunState.Load(dir);
            if (!state.Settings.Equals(settings))
                throw new SerException($"{RunState.PathIn(dir)}: the run was started with other settings ({Describe(state.Settings)}); " +
                                       $"resume it with the same options or start a new --out");
        }
        else
        {
            if (File.Exists(RunState.PathIn(dir)))
                throw new SerException($"{dir}: already holds a run (state.json); continue it with --resume or choose another --out");
            state = new RunState { Settings = settings, CpuKernels = run.Device == "cpu" ? RunState.KernelPath : null };
        }
        if (run.Resume && run.Device == "cpu" && state.CpuKernels is { } path && path != RunState.KernelPath)
            observer.Message($"note: this run started on {path} CPU kernels and continues on {RunState.KernelPath}: " +
                             "its results are no longer bit-identical to an uninterrupted run");

        var corpus = CorpusSpec.Load(settings.Corpus);
        var folds = Folds.LeaveOneSessionOut(corpus);
        foreach (int f in settings.Folds)
            if (f > folds.Count) throw new SerException($"--folds: corpus {corpus.Name} has {folds.Count} folds (sessions), there is no fold {f}");
        var labels = corpus.Classes;
        if (state.Labels.Count > 0 && !state.Labels.SequenceEqual(labels))
            throw new SerException($"{RunState.PathIn(dir)}: the run's classes ({string.Join(", ", state.Labels)}) differ from the corpus's ({string.Join(", ", labels)})");
        state.Labels = labels.ToList();
        Directory.CreateDirectory(dir);
        state.Save(dir);

        double priorSeconds = state.Seconds;   // earlier sessions of a resumed run
        var done = state.Completed.ToDictionary(c => c.Fold);
        var todo = settings.Folds.Where(f => !done.ContainsKey(f)).ToArray();
        foreach (int f in settings.Folds.Where(done.ContainsKey))
            observer.Message($"fold {f}: already finished in this run, kept");

        string device = run.Device;
        if (todo.Length > 0)
        {
            using var cache = Data.Store.FeatureStore.Load(corpus, run.FeatureStore, observer.Message, cancel);
            var executorOptions = new ExecutorOptions { Device = run.Device, Threads = run.Threads };
            foreach (int f in todo)
            {
                var fold = folds[f - 1];
                string foldDir = Path.Combine(dir, $"fold{f}");
                var trainer = new FoldTrainer(settings, fold, Array.IndexOf(settings.Folds, f), settings.Folds.Length, cache, labels,
                    foldDir, executorOptions, observer);
                var result = trainer.Run(run.Resume, cancel);
                done[f] = RunState.CompletedFold.From(result);
                state.Completed = settings.Folds.Where(done.ContainsKey).Select(k => done[k]).ToList();
                state.Seconds = priorSeconds + clock.Elapsed.TotalSeconds;
                state.Save(dir);
            }
        }

        var results = settings.Folds.Select(f => done[f].ToResult(labels)).ToList();
        var report = new ExperimentReport
        {
            Mode = TrainingSettings.ModeName(settings.Mode),
            Preset = settings.Preset,
            Corpus = corpus.Name,
            Device = $"{device} ({(run.Threads > 0 ? run.Threads : Environment.ProcessorCount)} threads)",
            Build = run.Build,
            Labels = labels,
            Settings = WithFoldNote(settings, folds.Count),
            Folds = results,
            Seconds = priorSeconds + clock.Elapsed.TotalSeconds,
        };
        AtomicFile.WriteAllText(Path.Combine(dir, ReportMarkdown), report.ToMarkdown());
        AtomicFile.WriteAllText(Path.Combine(dir, ReportJson), report.ToJson());

        // model.ser: the fold whose best weights scored highest on their validation speaker (ties: the earlier fold), with
        // the model card in its metadata; MODEL_CARD.md beside it says the same in prose.
        var chosen = ChooseModel(results);
        var card = ModelCard.Create(report, corpus, settings, chosen, DateTime.UtcNow);
        Checkpoint.CopyWithMetadata(Path.Combine(dir, chosen.CheckpointPath), Path.Combine(dir, ModelFile),
            new Dictionary<string, string> { [ModelCard.MetadataKey] = card.ToJson() });
        AtomicFile.WriteAllText(Path.Combine(dir, ModelCard.FileName), card.ToMarkdown());
        return report;
    }

    /// <summary>The fold whose model becomes model.ser: the highest validation UA (its selecting speaker's; the test
    /// speaker's score never decides), ties to the earlier fold.</summary>
    internal static FoldResult ChooseModel(IEnumerable<FoldResult> folds) =>
        folds.OrderByDescending(r => r.BestValidationUA).ThenBy(r => r.Fold).First();

    internal static IReadOnlyDictionary<string, string> WithFoldNote(TrainingSettings settings, int foldCount)
    {
        var d = new Dictionary<string, string>(settings.ToDictionary());
        d["folds"] = settings.Folds.Length == foldCount
            ? $"all {foldCount} (leave one session out)"
            : $"{string.Join(",", settings.Folds)} of {foldCount} (a subset of the leave-one-session-out protocol)";
        return d;
    }

    static string Describe(TrainingSettings s) => string.Create(CultureInfo.InvariantCulture,
        $"corpus {s.Corpus}, preset {s.Preset}, mode {TrainingSettings.ModeName(s.Mode)}, folds {string.Join(",", s.Folds)}, epochs {s.Epochs}, " +
        $"batch {s.BatchSize}, lr {s.LearningRate}, seed {s.Seed}, patience {s.Patience}");

    sealed class SilentObserver : TrainingObserver;
}
