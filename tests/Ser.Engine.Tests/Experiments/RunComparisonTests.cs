using Ser.Engine.Experiments;
using Ser.Engine.Metrics;

namespace Ser.Engine.Tests.Experiments;

public class RunComparisonTests
{
    static readonly string[] Labels = ["a", "b"];

    /// <summary>A run whose speaker s gets <paramref name="right"/>[s] of 10 class-a and all 10 class-b utterances right.</summary>
    static RunScores Run(int seed, params int[] right) => Scores($"run-s{seed}", seed, classB: 10, right);

    /// <summary>Speaker s gets <paramref name="right"/>[s] of 10 class-a and all <paramref name="classB"/> class-b
    /// utterances right.</summary>
    static RunScores Scores(string folder, int seed, int classB, int[] right)
    {
        var speakers = new Dictionary<string, ConfusionMatrix>();
        for (int s = 0; s < right.Length; s++)
        {
            var m = new ConfusionMatrix(Labels);
            m.Add(0, 0, right[s]);
            m.Add(0, 1, 10 - right[s]);
            m.Add(1, 1, classB);
            speakers[$"spk{s}"] = m;
        }
        return new RunScores(folder, seed, Labels, speakers);
    }

    [Fact]
    public void The_difference_is_paired_by_seed_and_pools_speakers()
    {
        // seed 1: A pools 30/40 of class a, B 20/40; seed 2: A 40/40, B 20/40. UA = (recall a + 1) / 2.
        var a = new[] { Run(2, 10, 10, 10, 10), Run(1, 10, 10, 5, 5) };
        var b = new[] { Run(1, 5, 5, 5, 5), Run(2, 5, 5, 5, 5), Run(3, 0, 0, 0, 0) };   // seed 3 has no partner
        var c = RunComparison.Create(a, b, resamples: 2000);
        Assert.Equal([1, 2], c.Seeds);
        Assert.Equal(((0.875 + 1.0) / 2, 0.75), (c.UA.MeanA, c.UA.MeanB));
        Assert.Equal((0.875 + 1.0) / 2 - 0.75, c.UA.Mean, 12);
        Assert.True(c.UA.Low <= c.UA.Mean && c.UA.Mean <= c.UA.High && c.UA.Low > 0, $"CI [{c.UA.Low}, {c.UA.High}]");
        Assert.Equal((6, 0, 2), c.SpeakerWins);   // seed 1: two speakers tie
    }

    [Fact]
    public void No_difference_gives_an_interval_around_zero_and_unpaired_runs_are_refused()
    {
        var c = RunComparison.Create([Run(1, 3, 9, 5, 7)], [Run(1, 3, 9, 5, 7)], resamples: 500);
        Assert.Equal((0.0, 0.0, 0.0), (c.UA.Mean, c.UA.Low, c.UA.High));
        Assert.Throws<SerException>(() => RunComparison.Create([Run(1, 5)], [Run(2, 5)]));
        Assert.Throws<SerException>(() => RunComparison.Create([Run(1, 5), Run(1, 6)], [Run(1, 5)]));
    }

    [Fact]
    public void Percentiles_interpolate_between_order_statistics()
    {
        double[] v = [0, 10, 20, 30, 40];
        Assert.Equal(5, RunComparison.Percentile(v, 0.125), 12);
        Assert.Equal(40, RunComparison.Percentile(v, 1), 12);
    }

    /// <summary>Speaker s gets <paramref name="right"/>[s] of 10 class-a and all 40 class-b utterances right, so that
    /// WA (class b weighs four times) and UA differ.</summary>
    static RunScores Unbalanced(string folder, int seed, params int[] right) => Scores(folder, seed, classB: 40, right);

    // Pooled over both speakers: A seed 1 gets 20/20 of class a (UA 1, WA 1), A seed 2 10/20 (UA .75, WA .9), B 10/20 in
    // both seeds. A resample draws spk0 (perfect in A seed 2) a fraction f in {0, 1/2, 1} of the time: the UA difference
    // is f / 4, the WA difference f / 10, so the 95% intervals are [0, .25] and [0, .1] (f = 0 and f = 1 have
    // probability 1/4 each, far more than 2.5% of 200 resamples).
    static RunComparison Example() => RunComparison.Create(
        [Unbalanced("run-a2", 2, 10, 0), Unbalanced("run-a1", 1, 10, 10)],
        [Unbalanced("run-b1", 1, 5, 5), Unbalanced("run-b2", 2, 5, 5)], resamples: 200);

    [Fact]
    public void Ua_and_wa_are_measured_separately_with_their_spread_over_seeds()
    {
        var c = Example();
        Assert.Equal(["run-a1", "run-a2"], c.A.Select(r => r.Folder));                 // in seed order
        Assert.Equal(["spk0", "spk1"], c.Speakers);
        Assert.Equal(200, c.Resamples);
        Assert.Equal(0.125, c.UA.Mean, 12);
        Assert.Equal((0.0, 0.25), (c.UA.Low, c.UA.High), new Tolerance(1e-12));
        Assert.Equal(0.875, c.UA.MeanA, 12);
        Assert.Equal(Math.Sqrt(2 * 0.125 * 0.125), c.UA.SdA, 12);
        Assert.Equal(0.75, c.UA.MeanB, 12);
        Assert.Equal(0, c.UA.SdB, 12);
        Assert.Equal(0.05, c.WA.Mean, 12);
        Assert.Equal((0.0, 0.1), (c.WA.Low, c.WA.High), new Tolerance(1e-12));
        Assert.Equal(0.95, c.WA.MeanA, 12);
        Assert.Equal(Math.Sqrt(2 * 0.05 * 0.05), c.WA.SdA, 12);
        Assert.Equal(0.9, c.WA.MeanB, 12);
        Assert.Equal(0, c.WA.SdB, 12);
        Assert.Equal((3, 1, 0), c.SpeakerWins);                                       // seed 2, spk1: 0/10 in A, 5/10 in B
    }

    sealed class Tolerance(double eps) : IEqualityComparer<(double, double)>
    {
        public bool Equals((double, double) x, (double, double) y) => Math.Abs(x.Item1 - y.Item1) <= eps && Math.Abs(x.Item2 - y.Item2) <= eps;
        public int GetHashCode((double, double) obj) => 0;
    }

    [Fact]
    public void Markdown_reports_both_metrics_the_wins_and_every_run()
    {
        var lines = Example().ToMarkdown("var", "fix").Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
        Assert.Equal("# var vs fix", lines[0]);
        Assert.Contains("Seeds 1, 2 (runs paired by seed); 2 tested speakers pooled per run; 95% percentile bootstrap over speakers (200 resamples).", lines);
        Assert.Contains("| metric | var mean ± sd | fix mean ± sd | var − fix | 95% CI |", lines);
        Assert.Contains("| UA | 87.5 ± 17.7 | 75.0 ± 0.0 | +12.5 | [0.0, 25.0] |", lines);
        Assert.Contains("| WA | 95.0 ± 7.1 | 90.0 ± 0.0 | +5.0 | [0.0, 10.0] |", lines);
        Assert.Contains("Per speaker and seed, var's UA is higher in 3, lower in 1, equal in 0.", lines);
        string[] runs = ["| 1 | run-a1 | 100.0 | 100.0 |", "| 2 | run-a2 | 90.0 | 75.0 |", "| 1 | run-b1 | 90.0 | 75.0 |", "| 2 | run-b2 | 90.0 | 75.0 |"];
        Assert.Equal(runs, lines.SkipWhile(l => !l.StartsWith("| seed |")).Skip(2).Take(4));

        // the other way round: a negative difference has its own sign; one seed has no sd
        var back = RunComparison.Create([Unbalanced("b", 1, 5, 5)], [Unbalanced("a", 1, 10, 10)], resamples: 100).ToMarkdown("fix", "var");
        Assert.Contains("| UA | 75.0 ± – | 100.0 ± – | -25.0 |", back);
        Assert.Contains("lower in 2, equal in 0.", back);
    }

    [Fact]
    public void Json_holds_the_same_numbers()
    {
        using var doc = System.Text.Json.JsonDocument.Parse(Example().ToJson());
        var root = doc.RootElement;
        Assert.Equal([1, 2], root.GetProperty("seeds").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(["spk0", "spk1"], root.GetProperty("speakers").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(200, root.GetProperty("resamples").GetInt32());
        var ua = root.GetProperty("ua");
        Assert.Equal(0.125, ua.GetProperty("difference").GetDouble(), 12);
        Assert.Equal(0, ua.GetProperty("ci_low").GetDouble(), 12);
        Assert.Equal(0.25, ua.GetProperty("ci_high").GetDouble(), 12);
        Assert.Equal(0.875, ua.GetProperty("mean_a").GetDouble(), 12);
        Assert.Equal(Math.Sqrt(2 * 0.125 * 0.125), ua.GetProperty("sd_a").GetDouble(), 12);
        Assert.Equal(0.75, ua.GetProperty("mean_b").GetDouble(), 12);
        Assert.Equal(0, ua.GetProperty("sd_b").GetDouble(), 12);
        Assert.Equal(0.05, root.GetProperty("wa").GetProperty("difference").GetDouble(), 12);
        Assert.Equal([3, 1, 0], root.GetProperty("speaker_ua_wins_losses_ties").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(["run-a1", "run-a2"], root.GetProperty("runs_a").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(["run-b1", "run-b2"], root.GetProperty("runs_b").EnumerateArray().Select(e => e.GetString()));

        string one = RunComparison.Create([Unbalanced("b", 1, 5, 5)], [Unbalanced("a", 1, 10, 10)], resamples: 100).ToJson();
        Assert.Contains("\"sd_a\": \"NaN\"", one);                                     // one seed: no spread
    }

    [Fact]
    public void Comparisons_that_cannot_be_made_are_refused_with_the_reason()
    {
        var a = Unbalanced("a", 1, 5, 5);
        string Refused(Func<RunComparison> create) => Assert.Throws<SerException>(() => create()).Message;
        Assert.Contains("each side needs at least one run", Refused(() => RunComparison.Create([], [a])));
        Assert.Contains("each side needs at least one run", Refused(() => RunComparison.Create([a], [])));
        var other = new RunScores("o", 1, ["x", "y"], new Dictionary<string, ConfusionMatrix> { ["spk0"] = new(["x", "y"]) });
        Assert.Contains("different class labels", Refused(() => RunComparison.Create([a], [other])));
        Assert.Contains("different class labels", Refused(() => RunComparison.Create([a, other with { Seed = 2 }], [a])));
        Assert.Contains("different class labels", Refused(() => RunComparison.Create([a], [a, other with { Seed = 2 }])));   // B's later runs too
        Assert.Contains("--resamples must be at least 100 (got 99)", Refused(() => RunComparison.Create([a], [a], resamples: 99)));
        RunComparison.Create([a], [a], resamples: 100);
        Assert.Contains("no seed is on both sides (A: 1; B: 2)", Refused(() => RunComparison.Create([a], [a with { Seed = 2 }])));
        Assert.Contains("two runs of seed 1 on one side (a, a2)", Refused(() => RunComparison.Create([a], [a, a with { Folder = "a2" }])));
        var elsewhere = new RunScores("e", 1, Labels, new Dictionary<string, ConfusionMatrix> { ["spk9"] = new(Labels) });
        Assert.Contains("no tested speaker in common", Refused(() => RunComparison.Create([a], [elsewhere])));
    }

    [Fact]
    public void Percentiles_of_a_sorted_sample()
    {
        double[] v = [0, 10, 20, 30, 40];
        Assert.Equal(0, RunComparison.Percentile(v, 0), 12);
        Assert.Equal(12, RunComparison.Percentile(v, 0.3), 12);
        Assert.Equal(20, RunComparison.Percentile(v, 0.5), 12);
        Assert.Equal(39, RunComparison.Percentile(v, 0.975), 12);
        Assert.Equal(7, RunComparison.Percentile([7], 0.5), 12);
    }

    [Fact]
    public void Markdown_is_exactly_the_report_layout()
    {
        string expected = string.Join("\n",
            "# var vs fix",
            "",
            "Seeds 1, 2 (runs paired by seed); 2 tested speakers pooled per run; 95% percentile bootstrap over speakers (200 resamples).",
            "",
            "| metric | var mean ± sd | fix mean ± sd | var − fix | 95% CI |",
            "|---|---:|---:|---:|---:|",
            "| UA | 87.5 ± 17.7 | 75.0 ± 0.0 | +12.5 | [0.0, 25.0] |",
            "| WA | 95.0 ± 7.1 | 90.0 ± 0.0 | +5.0 | [0.0, 10.0] |",
            "",
            "Per speaker and seed, var's UA is higher in 3, lower in 1, equal in 0.",
            "",
            "| seed | run | pooled WA | pooled UA |",
            "|---|---|---:|---:|",
            "| 1 | run-a1 | 100.0 | 100.0 |",
            "| 2 | run-a2 | 90.0 | 75.0 |",
            "| 1 | run-b1 | 90.0 | 75.0 |",
            "| 2 | run-b2 | 90.0 | 75.0 |",
            "");
        Assert.Equal(expected, Example().ToMarkdown("var", "fix").ReplaceLineEndings("\n"));
        // no difference at all is written +0.0, the sign of a difference that is not negative
        Assert.Contains("| +0.0 |", RunComparison.Create([Run(1, 5, 5)], [Run(1, 5, 5)], resamples: 100).ToMarkdown("a", "b"));
        Assert.Contains("\n  \"seeds\"", Example().ToJson().ReplaceLineEndings("\n"));        // indented: a file people read
    }

    [Fact]
    public void Speakers_are_those_every_seed_pair_tested_and_the_spread_is_over_three_seeds()
    {
        // seed 3's runs tested spk0 and spk1 only: spk2 is left out of every pair. B differs by seed.
        var a = new[] { Unbalanced("a1", 1, 10, 10, 10), Unbalanced("a2", 2, 5, 5, 5), Unbalanced("a3", 3, 0, 0) };
        var b = new[] { Unbalanced("b1", 1, 0, 0, 0), Unbalanced("b2", 2, 10, 10, 10), Unbalanced("b3", 3, 5, 5) };
        var c = RunComparison.Create(a, b, resamples: 100);
        Assert.Equal(["spk0", "spk1"], c.Speakers);
        // UA per seed (pooled over spk0, spk1): A 1, .75, .5; B .5, 1, .75
        Assert.Equal(0.75, c.UA.MeanA, 12);
        Assert.Equal(0.25, c.UA.SdA, 12);
        Assert.Equal(0.75, c.UA.MeanB, 12);
        Assert.Equal(0.25, c.UA.SdB, 12);
        Assert.Equal(0, c.UA.Mean, 12);

        var e = Assert.Throws<SerException>(() => RunComparison.Create([a[0], a[2]], [b[1], Unbalanced("b4", 4, 5)]));
        Assert.Contains("no seed is on both sides (A: 1,3; B: 2,4)", e.Message);
    }
}
