using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Ser.Engine.Data;
using Ser.Engine.Features;
using Ser.Engine.Models;

namespace Ser.Engine.Experiments;

/// <summary>
/// What a user of a trained model needs to know about it (after Mitchell et al., "Model Cards for Model Reporting"):
/// labels, data, protocol, scores, front end, size, how and where it was trained, and what it is not for. Written beside
/// model.ser as MODEL_CARD.md and into model.ser's metadata as JSON under <see cref="MetadataKey"/>, so every door
/// (sertool info, the C ABI's ser_model_metadata, the ONNX export's metadata_props) shows the same facts.
/// </summary>
public sealed record ModelCard
{
    public const string MetadataKey = "model_card", FileName = "MODEL_CARD.md";

    [JsonPropertyName("labels")] public required IReadOnlyList<string> Labels { get; init; }
    [JsonPropertyName("corpus")] public required string Corpus { get; init; }
    [JsonPropertyName("corpus_name")] public required string CorpusName { get; init; }
    [JsonPropertyName("synthetic")] public required bool Synthetic { get; init; }
    [JsonPropertyName("utterances")] public required int Utterances { get; init; }
    [JsonPropertyName("hours")] public required double Hours { get; init; }
    /// <summary>Utterances per speaker and class: speaker → [K] counts in <see cref="Labels"/> order.</summary>
    [JsonPropertyName("counts")] public required IReadOnlyDictionary<string, int[]> Counts { get; init; }
    [JsonPropertyName("protocol")] public required string Protocol { get; init; }
    [JsonPropertyName("mode")] public required string Mode { get; init; }
    [JsonPropertyName("folds")] public required IReadOnlyList<CardFold> Folds { get; init; }
    /// <summary>The fold whose model this is (model.ser = that fold's best.ser).</summary>
    [JsonPropertyName("model_fold")] public required int ModelFold { get; init; }
    [JsonPropertyName("pooled_wa")] public required double PooledWA { get; init; }
    [JsonPropertyName("pooled_ua")] public required double PooledUA { get; init; }
    /// <summary>Pooled test confusion counts [K, K], rows actual.</summary>
    [JsonPropertyName("pooled_confusion")] public required long[][] PooledConfusion { get; init; }
    [JsonPropertyName("temperature")] public required double Temperature { get; init; }
    [JsonPropertyName("front_end")] public required string FrontEndDescription { get; init; }
    [JsonPropertyName("sample_rate")] public required int SampleRate { get; init; }
    [JsonPropertyName("preset")] public required string Preset { get; init; }
    [JsonPropertyName("parameters")] public required long Parameters { get; init; }
    [JsonPropertyName("config")] public required string Config { get; init; }
    [JsonPropertyName("training_seconds")] public required double TrainingSeconds { get; init; }
    [JsonPropertyName("hardware")] public required string Hardware { get; init; }
    [JsonPropertyName("build")] public required string Build { get; init; }
    [JsonPropertyName("created_utc")] public required string CreatedUtc { get; init; }

    /// <summary>One fold's line of the card.</summary>
    public sealed record CardFold(
        [property: JsonPropertyName("fold")] int Fold,
        [property: JsonPropertyName("validation_speaker")] string ValidationSpeaker,
        [property: JsonPropertyName("test_speaker")] string TestSpeaker,
        [property: JsonPropertyName("best_epoch")] int BestEpoch,
        [property: JsonPropertyName("test_wa")] double TestWA,
        [property: JsonPropertyName("test_ua")] double TestUA,
        [property: JsonPropertyName("temperature")] double Temperature);

    /// <summary>The card of a finished run whose model.ser is <paramref name="chosen"/>'s model.</summary>
    public static ModelCard Create(ExperimentReport report, Corpus corpus, TrainingSettings settings, FoldResult chosen,
        DateTime createdUtc)
    {
        var labels = report.Labels;
        var counts = new SortedDictionary<string, int[]>(StringComparer.Ordinal);
        foreach (var u in corpus.Utterances)
        {
            if (!counts.TryGetValue(u.Speaker, out var row)) counts[u.Speaker] = row = new int[labels.Count];
            row[corpus.ClassIndex(u.Label)]++;
        }
        var config = settings.Model(labels.Count);
        var pooled = report.Pooled;
        return new ModelCard
        {
            Labels = labels,
            Corpus = settings.Corpus,
            CorpusName = corpus.Name,
            Synthetic = settings.Corpus.StartsWith("synthetic", StringComparison.OrdinalIgnoreCase),
            Utterances = corpus.Count,
            Hours = corpus.TotalSeconds / 3600,
            Counts = counts,
            Protocol = $"leave one session out: {report.Folds.Count} of {corpus.Sessions.Count} fold(s) run; per fold one held-out " +
                       "speaker selects the epoch (best validation UA after the warm-up) and calibrates, the other is tested",
            Mode = settings.Mode == LengthMode.Fixed ? $"fixed-length ({TrainingSettings.SplitName(settings.Split)}, 3 s pieces, posteriors averaged)"
                                                     : "variable-length (whole utterances)",
            Folds = report.Folds.Select(f => new CardFold(f.Fold, f.ValidationSpeaker, f.TestSpeaker, f.BestEpoch,
                f.Test.WeightedAccuracy, f.Test.UnweightedAccuracy, f.Calibration?.Temperature ?? 1)).ToList(),
            ModelFold = chosen.Fold,
            PooledWA = pooled.WeightedAccuracy,
            PooledUA = pooled.UnweightedAccuracy,
            PooledConfusion = pooled.ToJaggedCounts(),
            Temperature = chosen.Calibration?.Temperature ?? 1,
            FrontEndDescription =
                $"log power spectrogram, {FrontEnd.WindowLength * 1000 / FrontEnd.SampleRate} ms Hamming window, {FrontEnd.Hop * 1000 / FrontEnd.SampleRate} ms hop, " +
                $"{FrontEnd.DftSize}-point DFT, {FrontEnd.Bins} bins (0-{(FrontEnd.Bins - 1) * FrontEnd.SampleRate / FrontEnd.DftSize} Hz), dB, " +
                "normalised per bin with the training split's mean and std",
            SampleRate = FrontEnd.SampleRate,
            Preset = settings.Preset,
            Parameters = CrnnParameters.Of(config).Sum(p => p.Shape.Aggregate(1L, (n, d) => n * d)),
            Config = config.ToString(),
            TrainingSeconds = report.Seconds,
            Hardware = $"{report.Device}; {ProcessorName()}, {Environment.ProcessorCount} logical cores, {RuntimeInformation.OSDescription}",
            Build = report.Build,
            CreatedUtc = createdUtc.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture),
        };
    }

    /// <summary>The intended use and the limits, in plain words; the synthetic corpus gets its own warning.</summary>
    public IEnumerable<string> Limits()
    {
        if (Synthetic)
            yield return "**This model was trained on Ser's synthetic corpus** (generated voiced sounds with emotion-like prosody, not " +
                         "speech). It does not recognise emotion in real speech. Use it to try the pipeline, the inference doors and " +
                         "the tools, never to judge a recording.";
        yield return $"It knows only these classes: {string.Join(", ", Labels)}. Every input gets one of them, including speech " +
                     "that expresses none (or is not speech at all).";
        yield return $"Scores were measured on {Folds.Count} held-out speaker(s) of {CorpusName}; other speakers, languages, " +
                     "microphones, rooms and acted-versus-natural emotion can score much lower.";
        yield return "Probabilities are temperature-calibrated on one held-out speaker: they are rough confidences, not guarantees.";
        yield return "Not for decisions about people (hiring, health, policing, surveillance, insurance): recognised emotion is an " +
                     "inference from the voice, not a fact about the person.";
    }

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static ModelCard? FromJson(string? json)
    {
        if (string.IsNullOrWhiteSpace(json)) return null;
        try
        {
            return JsonSerializer.Deserialize<ModelCard>(json, Json);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public string ToMarkdown()
    {
        var sb = new StringBuilder();
        string Pct(double x) => double.IsNaN(x) ? "–" : (100 * x).ToString("F2", CultureInfo.InvariantCulture) + "%";
        sb.AppendLine($"# Model card: Ser CRNN, {Mode}, preset `{Preset}`, trained on `{Corpus}`");
        sb.AppendLine();
        sb.AppendLine("## Intended use and limits");
        sb.AppendLine();
        foreach (var line in Limits()) sb.AppendLine($"- {line}");
        sb.AppendLine();
        sb.AppendLine("## Model");
        sb.AppendLine();
        sb.AppendLine($"- Labels, in output order: {string.Join(", ", Labels.Select((l, i) => $"{i} `{l}`"))}");
        sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"- Preset `{Preset}`, {Parameters:N0} parameters: {Config}"));
        sb.AppendLine($"- Input: {SampleRate} Hz mono; front end: {FrontEndDescription}");
        sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"- Probabilities: softmax(logits / T), T = {Temperature:0.###}"));
        sb.AppendLine($"- This file is fold {ModelFold}'s model (the fold with the best validation UA)");
        sb.AppendLine();
        sb.AppendLine("## Data");
        sb.AppendLine();
        sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"Corpus `{Corpus}` ({CorpusName}): {Utterances} utterances, {Hours:F2} h."));
        sb.AppendLine();
        sb.AppendLine("| speaker | " + string.Join(" | ", Labels) + " | total |");
        sb.AppendLine("|---|" + string.Concat(Enumerable.Repeat("---|", Labels.Count)) + "---|");
        foreach (var (speaker, row) in Counts) sb.AppendLine($"| {speaker} | {string.Join(" | ", row)} | {row.Sum()} |");
        var totals = Enumerable.Range(0, Labels.Count).Select(k => Counts.Values.Sum(r => r[k])).ToArray();
        sb.AppendLine($"| **all** | {string.Join(" | ", totals)} | {totals.Sum()} |");
        sb.AppendLine();
        sb.AppendLine("## Protocol and results");
        sb.AppendLine();
        sb.AppendLine($"{Protocol}.");
        sb.AppendLine();
        sb.AppendLine("| fold | validation speaker | test speaker | best epoch | test WA | test UA | T |");
        sb.AppendLine("|---|---|---|---|---|---|---|");
        foreach (var f in Folds)
            sb.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {f.Fold} | {f.ValidationSpeaker} | {f.TestSpeaker} | {f.BestEpoch} | {Pct(f.TestWA)} | {Pct(f.TestUA)} | {f.Temperature:0.###} |"));
        sb.AppendLine($"| **pooled** | | | | **{Pct(PooledWA)}** | **{Pct(PooledUA)}** | |");
        sb.AppendLine();
        sb.AppendLine("Pooled test confusion (counts; rows actual, columns predicted):");
        sb.AppendLine();
        sb.AppendLine("| actual \\ predicted | " + string.Join(" | ", Labels) + " |");
        sb.AppendLine("|---|" + string.Concat(Enumerable.Repeat("---|", Labels.Count)));
        for (int a = 0; a < Labels.Count; a++) sb.AppendLine($"| {Labels[a]} | {string.Join(" | ", PooledConfusion[a])} |");
        sb.AppendLine();
        sb.AppendLine("## Training");
        sb.AppendLine();
        sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"- Time: {TrainingSeconds / 60:F1} min on {Hardware}"));
        sb.AppendLine($"- Build: {(Build.Length > 0 ? Build : "unknown")}; created {CreatedUtc}");
        sb.AppendLine("- Full settings, per-epoch curves and calibration: report.md and report.json in the run folder");
        return sb.ToString();
    }

    /// <summary>The CPU's marketing name from /proc/cpuinfo (Linux), else the architecture.</summary>
    internal static string ProcessorName()
    {
        try
        {
            if (File.Exists("/proc/cpuinfo"))
                foreach (var line in File.ReadLines("/proc/cpuinfo"))
                    if (line.StartsWith("model name", StringComparison.Ordinal) && line.IndexOf(':') is int colon and > 0)
                        return line[(colon + 1)..].Trim();
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return RuntimeInformation.ProcessArchitecture.ToString();
    }

    static readonly JsonSerializerOptions Json = new() { NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };
}
