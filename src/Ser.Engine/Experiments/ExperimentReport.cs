using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Ser.Engine.Metrics;

namespace Ser.Engine.Experiments;

/// <summary>One epoch of one fold: what the learning-curve plot and the report show.</summary>
/// <remarks>Test* are the designated test speaker's scores at this epoch: they select the reverse direction's epoch (the
/// test speaker choosing for the validation speaker) and are never looked at by the forward direction.</remarks>
public sealed record EpochRecord(int Epoch, double TrainLoss, double TrainAccuracy, double ValidationLoss, double ValidationUA, double ValidationWA,
    double Seconds, double TestLoss = double.NaN, double TestUA = double.NaN, double TestWA = double.NaN);

/// <summary>The outcome of one leave-one-session-out fold.</summary>
public sealed class FoldResult
{
    public required int Fold { get; init; }
    public required string TestSession { get; init; }
    public required string ValidationSpeaker { get; init; }
    public required string TestSpeaker { get; init; }
    public required int BestEpoch { get; init; }
    public required double BestValidationUA { get; init; }
    public required ConfusionMatrix Test { get; init; }
    public required IReadOnlyList<EpochRecord> History { get; init; }
    public required string CheckpointPath { get; init; }
    /// <summary>
    /// The reverse direction of the same training run: the epoch chosen by the designated test speaker's UA (never
    /// earlier than the warm-up), scored on the validation speaker. Null for runs made before it existed.
    /// </summary>
    public ReverseResult? Reverse { get; init; }
    /// <summary>The fold model's temperature (fitted on the validation speaker) and the test speaker's reliability before
    /// and after it. Null for runs made before calibration existed.</summary>
    public CalibrationResult? Calibration { get; init; }
}

/// <summary>Temperature scaling of one fold's model: <see cref="Temperature"/> (1 when calibration is off) and the test
/// speaker's NLL/ECE with T = 1 (<see cref="Before"/>) and with T (<see cref="After"/>).</summary>
public sealed record CalibrationResult(double Temperature, Reliability Before, Reliability After);

/// <summary>The reverse direction of a fold: <see cref="Selector"/> chose <see cref="BestEpoch"/>; <see cref="Test"/> scores
/// <see cref="Tested"/>.</summary>
public sealed record ReverseResult(string Selector, string Tested, int BestEpoch, double SelectorUA, ConfusionMatrix Test);

/// <summary>Per-fold and pooled results of an experiment, rendered as report.md and report.json.</summary>
public sealed class ExperimentReport
{
    public required string Mode { get; init; }              // "variable" or "fixed"
    public required string Preset { get; init; }
    public required string Corpus { get; init; }
    public required string Device { get; init; }
    public required IReadOnlyList<string> Labels { get; init; }
    public required IReadOnlyDictionary<string, string> Settings { get; init; }
    public required IReadOnlyList<FoldResult> Folds { get; init; }
    public required double Seconds { get; init; }
    public string Build { get; init; } = "";

    /// <summary>Every speaker tested once: the folds' test speakers and, where recorded, the reverse directions' tested
    /// (validation) speakers, in one matrix.</summary>
    public ConfusionMatrix PooledBothDirections
    {
        get
        {
            var pooled = Pooled;
            foreach (var f in Folds)
                if (f.Reverse is { } r) pooled.Add(r.Test);
            return pooled;
        }
    }

    /// <summary>All folds' test predictions in one matrix (the paper's pooled tables).</summary>
    public ConfusionMatrix Pooled
    {
        get
        {
            var pooled = new ConfusionMatrix(Labels);
            foreach (var f in Folds) pooled.Add(f.Test);
            return pooled;
        }
    }

    /// <summary>The test speakers' reliability of all calibrated folds pooled (Before, After), or null when no fold has
    /// calibration results.</summary>
    public (Reliability Before, Reliability After)? PooledCalibration
    {
        get
        {
            if (!Folds.Any(f => f.Calibration is not null)) return null;
            var (before, after) = (new Reliability(), new Reliability());
            foreach (var f in Folds)
                if (f.Calibration is { } c) { before.Add(c.Before); after.Add(c.After); }
            return (before, after);
        }
    }

    public string ToMarkdown()
    {
        var sb = new StringBuilder();
        var pooled = Pooled;
        sb.AppendLine($"# Ser experiment: {Mode}-length, preset `{Preset}`");
        sb.AppendLine();
        sb.AppendLine($"Corpus `{Corpus}`, device {Device}, {Folds.Count} fold(s), {Seconds:F0} s" +
                      (Build.Length > 0 ? $", build {Build}." : "."));
        sb.AppendLine();
        sb.AppendLine("| setting | value |");
        sb.AppendLine("|---|---|");
        foreach (var (k, v) in Settings) sb.AppendLine($"| {k} | {v} |");
        sb.AppendLine();
        sb.AppendLine("## Results (Table 1 layout)");
        sb.AppendLine();
        sb.AppendLine("| fold | test session | validation speaker | test speaker | best epoch | validation UA | test WA | test UA |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (var f in Folds)
            sb.AppendLine($"| {f.Fold} | {f.TestSession} | {f.ValidationSpeaker} | {f.TestSpeaker} | {f.BestEpoch} | {Pct(f.BestValidationUA)} | {Pct(f.Test.WeightedAccuracy)} | {Pct(f.Test.UnweightedAccuracy)} |");
        sb.AppendLine($"| **pooled** | | | | | | **{Pct(pooled.WeightedAccuracy)}** | **{Pct(pooled.UnweightedAccuracy)}** |");
        sb.AppendLine();
        if (Folds.Any(f => f.Reverse is not null))
        {
            var both = PooledBothDirections;
            sb.AppendLine("### Reverse direction: the test speaker selects the epoch, the validation speaker is tested");
            sb.AppendLine();
            sb.AppendLine("Same training runs; each direction's selection never looks at the speaker it tests.");
            sb.AppendLine();
            sb.AppendLine("| fold | selecting speaker | tested speaker | best epoch | selecting UA | tested WA | tested UA |");
            sb.AppendLine("|---|---|---|---|---|---|---|");
            foreach (var f in Folds)
                if (f.Reverse is { } r)
                    sb.AppendLine($"| {f.Fold} | {r.Selector} | {r.Tested} | {r.BestEpoch} | {Pct(r.SelectorUA)} | {Pct(r.Test.WeightedAccuracy)} | {Pct(r.Test.UnweightedAccuracy)} |");
            sb.AppendLine($"| **pooled, every speaker tested once** | | | | | **{Pct(both.WeightedAccuracy)}** | **{Pct(both.UnweightedAccuracy)}** |");
            sb.AppendLine();
        }
        if (PooledCalibration is { } pooledCalibration)
        {
            sb.AppendLine("## Calibration: temperature fitted on the validation speaker, measured on the test speaker");
            sb.AppendLine();
            sb.AppendLine($"Probabilities are softmax(logits / T) at every door. NLL: mean −ln p(true class); ECE: expected calibration error over {Reliability.BinCount} confidence bins. Lower is better for both.");
            sb.AppendLine();
            sb.AppendLine("| fold | T | test NLL, T = 1 | test NLL, T | test ECE, T = 1 | test ECE, T |");
            sb.AppendLine("|---|---|---|---|---|---|");
            foreach (var f in Folds)
                if (f.Calibration is { } c)
                    sb.AppendLine($"| {f.Fold} | {Num(c.Temperature)} | {Num(c.Before.NegativeLogLikelihood)} | {Num(c.After.NegativeLogLikelihood)} | {Pct(c.Before.ExpectedCalibrationError)} | {Pct(c.After.ExpectedCalibrationError)} |");
            var (b, a) = pooledCalibration;
            sb.AppendLine($"| **pooled** | | **{Num(b.NegativeLogLikelihood)}** | **{Num(a.NegativeLogLikelihood)}** | **{Pct(b.ExpectedCalibrationError)}** | **{Pct(a.ExpectedCalibrationError)}** |");
            sb.AppendLine();
        }
        sb.AppendLine("## Pooled confusion matrix (rows actual, columns predicted, percent)");
        sb.AppendLine();
        AppendConfusion(sb, pooled);
        foreach (var f in Folds)
        {
            sb.AppendLine();
            sb.AppendLine($"### Fold {f.Fold} (test speaker {f.TestSpeaker})");
            sb.AppendLine();
            AppendConfusion(sb, f.Test);
        }
        return sb.ToString();
    }

    static void AppendConfusion(StringBuilder sb, ConfusionMatrix m)
    {
        var pct = m.RowPercent();
        sb.AppendLine("| Actual \\ Predict | " + string.Join(" | ", m.Labels.Select(Title)) + " | n |");
        sb.AppendLine("|---|" + string.Concat(Enumerable.Repeat("---|", m.ClassCount)) + "---|");
        for (int a = 0; a < m.ClassCount; a++)
        {
            var cells = Enumerable.Range(0, m.ClassCount).Select(p => pct[a, p].ToString("F2", CultureInfo.InvariantCulture) + "%");
            sb.AppendLine($"| {Title(m.Labels[a])} | {string.Join(" | ", cells)} | {m.ActualCount(a)} |");
        }
    }

    static string Title(string s) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..];

    static string Num(double x) => double.IsNaN(x) ? "–" : x.ToString("F3", CultureInfo.InvariantCulture);

    static string Pct(double x) => double.IsNaN(x) ? "–" : (100 * x).ToString("F2", CultureInfo.InvariantCulture) + "%";

    public string ToJson()
    {
        var pooled = Pooled;
        var doc = new
        {
            mode = Mode,
            preset = Preset,
            corpus = Corpus,
            device = Device,
            build = Build,
            labels = Labels,
            settings = Settings,
            seconds = Seconds,
            pooled = Scores(pooled),
            pooled_both_directions = Scores(PooledBothDirections),
            pooled_calibration = PooledCalibration is { } pc ? new { before = Calibration(pc.Before), after = Calibration(pc.After) } : null,
            folds = Folds.Select(f => new
            {
                fold = f.Fold,
                test_session = f.TestSession,
                validation_speaker = f.ValidationSpeaker,
                test_speaker = f.TestSpeaker,
                best_epoch = f.BestEpoch,
                best_validation_ua = f.BestValidationUA,
                checkpoint = f.CheckpointPath,
                test = Scores(f.Test),
                reverse = f.Reverse is { } r
                    ? new { selector = r.Selector, tested = r.Tested, best_epoch = r.BestEpoch, selector_ua = r.SelectorUA, test = Scores(r.Test) }
                    : null,
                calibration = f.Calibration is { } c
                    ? new { temperature = c.Temperature, before = Calibration(c.Before), after = Calibration(c.After) }
                    : null,
                history = f.History,
            }),
        };
        return JsonSerializer.Serialize(doc, JsonOptions);
    }

    static object Calibration(Reliability r) => new
    {
        nll = r.NegativeLogLikelihood,
        ece = r.ExpectedCalibrationError,
        n = r.Total,
        bins = r,
    };

    static object Scores(ConfusionMatrix m) => new
    {
        wa = m.WeightedAccuracy,
        ua = m.UnweightedAccuracy,
        n = m.Total,
        confusion_counts = m.ToJaggedCounts(),
    };

    static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };
}
