using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using CommandLine;
using Ser.Engine;
using Ser.Engine.Data;
using Ser.Engine.Data.Store;
using Ser.Engine.Experiments;
using Ser.Engine.Inference;
using Ser.Engine.Metrics;
using Ser.Tool.Progress;
using Spectre.Console;

namespace Ser.Tool.Commands;

/// <summary>
/// `sertool evaluate --model M [--corpus SPEC] [--speakers A,B] [--json]`: WA, UA and the confusion matrix (paper layout)
/// of a trained model on a corpus, through <see cref="EmotionRecognizer"/> (the checkpoint's feature statistics, labels
/// and length mode: a fixed-length model averages its 3 s pieces). Utterances whose label the model does not know are
/// skipped and counted. By default it scores the speakers the checkpoint may honestly be scored on: its corpus and the
/// fold's tested speaker (metadata scored_on, or test_speakers for older checkpoints); scoring a speaker the model
/// was trained on, or the one that chose its epoch, is allowed with a warning.
/// </summary>
[Verb("evaluate", HelpText = "Score a trained model on a corpus: WA, UA and the confusion matrix.")]
internal sealed class EvaluateCommand : ICommand
{
    [Option("model", HelpText = ModelChoice.HelpText)]
    public string? ModelOption { get; set; }

    string Model => _model ??= ModelChoice.Resolve(ModelOption);
    string? _model;

    [Option("corpus", HelpText = "Corpus spec (default: the one the model was trained on, else train's default synthetic:utterances=2280): synthetic[:utterances=N,seed=S,span=F], iemocap:PATH, ravdess:PATH, cremad:PATH, emodb:PATH, manifest:FILE.csv")]
    public string? Corpus { get; set; }

    [Option("speakers", HelpText = "Only these speakers (comma-separated ids; all = every speaker). Default on the model's own corpus: the fold's tested speaker.")]
    public string? Speakers { get; set; }

    [Option("json", HelpText = "Print machine-readable JSON instead of tables.")]
    public bool Json { get; set; }

    [Option("feature-cache", HelpText = "Feature store folder (default: $SER_FEATURE_CACHE, else ~/.cache/ser/features): when it holds the corpus's spectrograms (sertool train or features build made them), they are read from it instead of recomputed; off always computes from the audio.")]
    public string? FeatureCache { get; set; }

    [Option("feature-precision", HelpText = "The store to look for: float32 (default) or float16.")]
    public string? FeaturePrecision { get; set; }

    [Option("threads", Default = 0, HelpText = "Utterances scored in parallel (0 = all cores).")]
    public int Threads { get; set; }

    public int Run()
    {
        var clock = Stopwatch.StartNew();
        if (Threads < 0) throw new SerException($"--threads must be 0 (all cores) or positive (got {Threads})");
        using var recognizer = EmotionRecognizer.Load(Model, new EmotionRecognizerOptions { MaxConcurrency = Threads, ThreadsPerPrediction = 1 });
        Program.Note(recognizer.Notices);
        var meta = recognizer.Metadata;
        string? trainedOn = meta.GetValueOrDefault("corpus");
        var corpus = CorpusSpec.Load(Corpus ?? trainedOn ?? TrainingSettings.DefaultCorpus);
        bool ownCorpus = trainedOn is not null && corpus.Name == trainedOn;
        string? tested = meta.GetValueOrDefault("scored_on") ?? meta.GetValueOrDefault("test_speakers");
        if (Speakers is null && ownCorpus && tested is not null)
        {
            Speakers = tested;
            Console.Error.WriteLine($"sertool: note: scoring the model's tested speaker {tested} (its fold's held-out test speaker); --speakers all scores every speaker");
        }
        if (Speakers?.Trim().Equals("all", StringComparison.OrdinalIgnoreCase) == true) Speakers = null;
        var utterances = corpus.Utterances.AsEnumerable();
        if (Speakers is not null)
        {
            var wanted = Speakers.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToHashSet();
            var unknown = wanted.Except(corpus.Speakers).ToList();
            if (unknown.Count > 0) throw new SerException($"--speakers: corpus {corpus.Name} has no speaker {string.Join(", ", unknown)}");
            utterances = utterances.Where(u => wanted.Contains(u.Speaker));
        }
        if (ownCorpus) WarnAboutSeenSpeakers(meta, utterances.Select(u => u.Speaker).Distinct().ToList());
        var labels = recognizer.Labels;
        var known = utterances.Where(u => labels.Contains(u.Label)).ToList();
        int skipped = utterances.Count() - known.Count;
        if (known.Count == 0) throw new SerException($"corpus {corpus.Name}: no utterances with a label the model knows ({string.Join(", ", labels)})");

        // Spectrograms from the corpus's feature store when there is one (the same numbers in float32), else from the audio.
        var storeOptions = FeatureCacheOption.Resolve(FeatureCache, FeaturePrecision, Threads);
        using var stored = storeOptions is null ? null : FeatureStore.OpenExisting(corpus, storeOptions, m => Console.Error.WriteLine($"sertool: {m}"));
        if (stored is not null) Console.Error.WriteLine($"sertool: note: spectrograms read from the feature store {stored.Path}");
        using var cache = stored is null ? null : Ser.Engine.Data.FeatureCache.FromStore(stored, corpus.LabelIndices());
        var item = corpus.Utterances.Select((u, i) => (u, i)).ToDictionary(p => p.u, p => p.i);
        var predicted = new int[known.Count];
        Parallel.For(0, known.Count, new ParallelOptions { MaxDegreeOfParallelism = Threads > 0 ? Threads : Environment.ProcessorCount }, i =>
        {
            var p = cache is null
                ? recognizer.Predict(known[i].Audio.Load(), 16000)
                : recognizer.PredictSpectrogram(cache.Features(item[known[i]]), cache.Frames(item[known[i]]));
            predicted[i] = IndexOf(labels, p.Label);
        });
        var confusion = new ConfusionMatrix(labels);
        for (int i = 0; i < known.Count; i++) confusion.Add(IndexOf(labels, known[i].Label), predicted[i]);

        if (Json)
        {
            Console.Out.WriteLine(JsonSerializer.Serialize(new
            {
                model = Model,
                corpus = corpus.Name,
                speakers = Speakers,
                length_mode = recognizer.Mode.ToString().ToLowerInvariant(),
                utterances = known.Count,
                skipped,
                wa = confusion.WeightedAccuracy,
                ua = confusion.UnweightedAccuracy,
                labels,
                confusion_counts = confusion.ToJaggedCounts(),
                confusion_percent = ToJagged(confusion.RowPercent()),
            }, new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        }
        var console = ToolConsole.Create();
        console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{Model} ({recognizer.Mode.ToString().ToLowerInvariant()}-length) on {corpus.Name}{(Speakers is null ? "" : $", speakers {Speakers}")}: " +
            $"{known.Count} utterances{(skipped > 0 ? $" ({skipped} skipped: label unknown to the model)" : "")}"));
        console.WriteLine($"WA {ResultTables.Pct(confusion.WeightedAccuracy)}  UA {ResultTables.Pct(confusion.UnweightedAccuracy)}");
        console.Write(ResultTables.Confusion(confusion, "confusion (rows actual, % of row)"));
        console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"done in {clock.Elapsed.TotalSeconds:F1} s"));
        return 0;
    }

    /// <summary>A score on speakers the model learned from, or on the speaker that chose its epoch, is not a test score.</summary>
    static void WarnAboutSeenSpeakers(IReadOnlyDictionary<string, string> meta, IReadOnlyList<string> scored)
    {
        static HashSet<string> Set(string? s) => (s ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToHashSet();
        var heldOut = Set(meta.GetValueOrDefault("validation_speakers"));
        heldOut.UnionWith(Set(meta.GetValueOrDefault("test_speakers")));
        if (heldOut.Count == 0) return;   // not a sertool train checkpoint: nothing known about its training speakers
        var trained = scored.Where(s => !heldOut.Contains(s)).ToList();
        if (trained.Count > 0)
            Console.Error.WriteLine($"sertool: warning: {trained.Count} of the scored speakers were in the model's training split ({string.Join(",", trained.Take(6))}{(trained.Count > 6 ? ",..." : "")}): this is not a test score");
        var selector = Set(meta.GetValueOrDefault("selected_by") ?? meta.GetValueOrDefault("validation_speakers"));
        var chose = scored.Where(selector.Contains).ToList();
        if (chose.Count > 0)
            Console.Error.WriteLine($"sertool: warning: {string.Join(",", chose)} chose the model's epoch (validation): its score is optimistic");
    }

    static int IndexOf(IReadOnlyList<string> labels, string label)
    {
        for (int i = 0; i < labels.Count; i++) if (labels[i] == label) return i;
        return -1;
    }

    static double[][] ToJagged(double[,] a) =>
        Enumerable.Range(0, a.GetLength(0)).Select(r => Enumerable.Range(0, a.GetLength(1)).Select(c => Math.Round(a[r, c], 4)).ToArray()).ToArray();
}
