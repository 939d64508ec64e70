using System.Globalization;
using System.Text;
using System.Text.Json;
using Ser.Engine.Metrics;

namespace Ser.Engine.Experiments;

/// <summary>One run's scores as the comparison reads them: its seed and each tested speaker's confusion matrix.</summary>
/// <param name="Speakers">Every speaker the run tested once (the folds' test speakers and, where recorded, the reverse
/// directions' tested validation speakers), by id.</param>
public sealed record RunScores(string Folder, int Seed, IReadOnlyList<string> Labels, IReadOnlyDictionary<string, ConfusionMatrix> Speakers)
{
    /// <summary>Folds finished and planned (a run still in progress is compared on what it finished).</summary>
    public (int Done, int Planned) Folds { get; init; }

    public static RunScores Load(string folder)
    {
        var state = RunState.Load(folder);
        if (state.Completed.Count == 0) throw new SerException($"{folder}: no finished fold yet");
        var speakers = new Dictionary<string, ConfusionMatrix>();
        foreach (var fold in state.Completed.Select(c => c.ToResult(state.Labels)))
        {
            speakers[fold.TestSpeaker] = fold.Test;
            if (fold.Reverse is { } r) speakers[r.Tested] = r.Test;
        }
        return new RunScores(folder, state.Settings.Seed, state.Labels, speakers) { Folds = (state.Completed.Count, state.Settings.Folds.Length) };
    }

    public ConfusionMatrix Pooled(IEnumerable<string> speakers)
    {
        var m = new ConfusionMatrix(Labels);
        foreach (var s in speakers) m.Add(Speakers[s]);
        return m;
    }
}

/// <summary>
/// A against B (e.g. variable- against fixed-length input), each as one run per seed: pooled WA and UA per run, mean ± sd
/// over seeds, and the paired difference A − B (runs paired by seed, each pair scored on the speakers both tested) with
/// a percentile bootstrap confidence interval that resamples speakers: a resample draws as many speakers as there are,
/// with replacement, pools each run's confusion matrices over them, and averages A − B over the seed pairs. Speakers are
/// the unit because utterances of one speaker are not independent.
/// </summary>
public sealed class RunComparison
{
    public required IReadOnlyList<RunScores> A { get; init; }
    public required IReadOnlyList<RunScores> B { get; init; }
    public required IReadOnlyList<string> Speakers { get; init; }
    public required IReadOnlyList<int> Seeds { get; init; }
    public required int Resamples { get; init; }
    public required Difference UA { get; init; }
    public required Difference WA { get; init; }
    /// <summary>Seed × speaker pairs where A's UA is higher, lower, equal.</summary>
    public required (int Wins, int Losses, int Ties) SpeakerWins { get; init; }

    /// <summary>The paired difference: point estimate (all speakers) and its 95% bootstrap interval.</summary>
    public sealed record Difference(double Mean, double Low, double High, double MeanA, double SdA, double MeanB, double SdB);

    public static RunComparison Create(IReadOnlyList<RunScores> a, IReadOnlyList<RunScores> b, int resamples = 10000, int seed = 1)
    {
        if (a.Count == 0 || b.Count == 0) throw new SerException("compare: each side needs at least one run");
        if (!a[0].Labels.SequenceEqual(b[0].Labels) || a.Concat(b).Any(r => !r.Labels.SequenceEqual(a[0].Labels)))
            throw new SerException("compare: the runs have different class labels");
        if (resamples < 100) throw new SerException($"--resamples must be at least 100 (got {resamples})");
        var seeds = a.Select(r => r.Seed).Intersect(b.Select(r => r.Seed)).Order().ToList();
        if (seeds.Count == 0)
            throw new SerException($"compare: no seed is on both sides (A: {string.Join(",", a.Select(r => r.Seed))}; B: {string.Join(",", b.Select(r => r.Seed))})");
        foreach (var side in new[] { a, b })
            if (side.GroupBy(r => r.Seed).FirstOrDefault(g => g.Count() > 1) is { } twice)
                throw new SerException($"compare: two runs of seed {twice.Key} on one side ({string.Join(", ", twice.Select(r => r.Folder))})");
        var pairs = seeds.Select(s => (A: a.First(r => r.Seed == s), B: b.First(r => r.Seed == s))).ToList();
        var speakers = pairs.Select(p => p.A.Speakers.Keys.Intersect(p.B.Speakers.Keys)).Aggregate((x, y) => x.Intersect(y)).Order(StringComparer.Ordinal).ToList();
        if (speakers.Count == 0) throw new SerException("compare: the runs have no tested speaker in common");

        double Diff(IReadOnlyList<string> sample, Func<ConfusionMatrix, double> metric) =>
            pairs.Average(p => metric(p.A.Pooled(sample)) - metric(p.B.Pooled(sample)));

        Difference Measure(Func<ConfusionMatrix, double> metric)
        {
            var rng = new Random(seed);
            var draws = new double[resamples];
            var sample = new string[speakers.Count];
            for (int i = 0; i < resamples; i++)
            {
                for (int j = 0; j < sample.Length; j++) sample[j] = speakers[rng.Next(speakers.Count)];
                draws[i] = Diff(sample, metric);
            }
            Array.Sort(draws);
            var byA = pairs.Select(p => metric(p.A.Pooled(speakers))).ToArray();
            var byB = pairs.Select(p => metric(p.B.Pooled(speakers))).ToArray();
            return new Difference(Diff(speakers, metric), Percentile(draws, 0.025), Percentile(draws, 0.975),
                byA.Average(), Sd(byA), byB.Average(), Sd(byB));
        }

        int wins = 0, losses = 0, ties = 0;
        foreach (var (ra, rb) in pairs)
            foreach (var s in speakers)
            {
                double d = ra.Speakers[s].UnweightedAccuracy - rb.Speakers[s].UnweightedAccuracy;
                if (d > 0) wins++; else if (d < 0) losses++; else ties++;
            }
        return new RunComparison
        {
            A = pairs.Select(p => p.A).ToList(), B = pairs.Select(p => p.B).ToList(), Speakers = speakers, Seeds = seeds, Resamples = resamples,
            UA = Measure(m => m.UnweightedAccuracy), WA = Measure(m => m.WeightedAccuracy), SpeakerWins = (wins, losses, ties),
        };
    }

    /// <summary>Linear interpolation between order statistics of a sorted sample.</summary>
    internal static double Percentile(double[] sorted, double q)
    {
        double x = q * (sorted.Length - 1);
        int i = (int)Math.Floor(x);
        return i + 1 < sorted.Length ? sorted[i] + (x - i) * (sorted[i + 1] - sorted[i]) : sorted[i];
    }

    static double Sd(double[] v) => v.Length < 2 ? double.NaN : Math.Sqrt(v.Sum(x => (x - v.Average()) * (x - v.Average())) / (v.Length - 1));

    public string ToMarkdown(string nameA, string nameB)
    {
        var sb = new StringBuilder();
        string P(double x) => double.IsNaN(x) ? "–" : (100 * x).ToString("F1", CultureInfo.InvariantCulture);
        sb.AppendLine($"# {nameA} vs {nameB}");
        sb.AppendLine();
        sb.AppendLine($"Seeds {string.Join(", ", Seeds)} (runs paired by seed); {Speakers.Count} tested speakers pooled per run; " +
                      $"95% percentile bootstrap over speakers ({Resamples} resamples).");
        sb.AppendLine();
        sb.AppendLine($"| metric | {nameA} mean ± sd | {nameB} mean ± sd | {nameA} − {nameB} | 95% CI |");
        sb.AppendLine("|---|---:|---:|---:|---:|");
        foreach (var (name, d) in new[] { ("UA", UA), ("WA", WA) })
            sb.AppendLine($"| {name} | {P(d.MeanA)} ± {P(d.SdA)} | {P(d.MeanB)} ± {P(d.SdB)} | {(d.Mean >= 0 ? "+" : "")}{P(d.Mean)} | [{P(d.Low)}, {P(d.High)}] |");
        sb.AppendLine();
        sb.AppendLine($"Per speaker and seed, {nameA}'s UA is higher in {SpeakerWins.Wins}, lower in {SpeakerWins.Losses}, equal in {SpeakerWins.Ties}.");
        sb.AppendLine();
        sb.AppendLine("| seed | run | pooled WA | pooled UA |");
        sb.AppendLine("|---|---|---:|---:|");
        foreach (var r in A.Concat(B))
        {
            var m = r.Pooled(Speakers);
            sb.AppendLine($"| {r.Seed} | {r.Folder} | {P(m.WeightedAccuracy)} | {P(m.UnweightedAccuracy)} |");
        }
        return sb.ToString();
    }

    public string ToJson() => JsonSerializer.Serialize(new Dictionary<string, object>
    {
        ["seeds"] = Seeds,
        ["speakers"] = Speakers,
        ["resamples"] = Resamples,
        ["ua"] = Json(UA),
        ["wa"] = Json(WA),
        ["speaker_ua_wins_losses_ties"] = new[] { SpeakerWins.Wins, SpeakerWins.Losses, SpeakerWins.Ties },
        ["runs_a"] = A.Select(r => r.Folder).ToArray(),
        ["runs_b"] = B.Select(r => r.Folder).ToArray(),
    }, JsonOptions);

    static Dictionary<string, double> Json(Difference d) => new()
    {
        ["difference"] = d.Mean, ["ci_low"] = d.Low, ["ci_high"] = d.High, ["mean_a"] = d.MeanA, ["sd_a"] = d.SdA, ["mean_b"] = d.MeanB, ["sd_b"] = d.SdB,
    };

    static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };
}
