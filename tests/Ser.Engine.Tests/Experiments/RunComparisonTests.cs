using Ser.Engine.Experiments;
using Ser.Engine.Metrics;

namespace Ser.Engine.Tests.Experiments;

public class RunComparisonTests
{
    static readonly string[] Labels = ["a", "b"];

    /// <summary>A run whose speaker s gets <paramref name="right"/>[s] of 10 class-a and all 10 class-b utterances right.</summary>
    static RunScores Run(int seed, params int[] right)
    {
        var speakers = new Dictionary<string, ConfusionMatrix>();
        for (int s = 0; s < right.Length; s++)
        {
            var m = new ConfusionMatrix(Labels);
            m.Add(0, 0, right[s]);
            m.Add(0, 1, 10 - right[s]);
            m.Add(1, 1, 10);
            speakers[$"spk{s}"] = m;
        }
        return new RunScores($"run-s{seed}", seed, Labels, speakers);
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
}
