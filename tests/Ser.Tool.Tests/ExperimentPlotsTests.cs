using Ser.Engine.Experiments;
using Ser.Engine.Metrics;
using Ser.Tool.Plots;

namespace Ser.Tool.Tests;

public class ExperimentPlotsTests
{
    internal static FoldResult FakeFold(int fold, int seed)
    {
        var rng = new Random(seed);
        var m = new ConfusionMatrix(["neutral", "angry", "happy", "sad"]);
        for (int i = 0; i < 200; i++)
        {
            int a = rng.Next(4);
            m.Add(a, rng.NextDouble() < 0.6 ? a : rng.Next(4));
        }
        var history = Enumerable.Range(1, 8)
            .Select(e => new EpochRecord(e, 1.4 / e, 0.3 + 0.05 * e, 1.3, 0.3 + 0.03 * e, 0.35 + 0.03 * e, 2.0))
            .ToList();
        return new FoldResult
        {
            Fold = fold, TestSession = $"Ses0{fold}", ValidationSpeaker = $"Ses0{fold}F", TestSpeaker = $"Ses0{fold}M",
            BestEpoch = 6, BestValidationUA = 0.48, Test = m, History = history, CheckpointPath = $"fold{fold}/model.ser",
        };
    }

    static void AssertPng(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        Assert.True(bytes.Length > 1000, $"{path} is only {bytes.Length} bytes");
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, bytes[..4]);
    }

    [Fact]
    public void Confusion_and_learning_curve_pngs_are_written()
    {
        string dir = Directory.CreateTempSubdirectory("ser-plots").FullName;
        var folds = new[] { FakeFold(1, 1), FakeFold(2, 2) };
        ExperimentPlots.SaveConfusion(folds[0].Test, "test", Path.Combine(dir, "confusion.png"));
        ExperimentPlots.SaveLearningCurves(folds, "curves", Path.Combine(dir, "curves.png"));
        AssertPng(Path.Combine(dir, "confusion.png"));
        AssertPng(Path.Combine(dir, "curves.png"));
        Assert.Empty(Directory.GetFiles(dir, "*.tmp"));
    }

    [Fact]
    public void Comparison_png_is_written()
    {
        RunScores Run(int seed, int shift)
        {
            var speakers = new Dictionary<string, ConfusionMatrix>();
            for (int s = 0; s < 4; s++)
            {
                var m = new ConfusionMatrix(["neutral", "angry", "happy", "sad"]);
                for (int c = 0; c < 4; c++) { m.Add(c, c, 10 + shift + s); m.Add(c, (c + 1) % 4, 10); }
                speakers[$"Ses0{s + 1}F"] = m;
            }
            return new RunScores($"run-s{seed}", seed, ["neutral", "angry", "happy", "sad"], speakers);
        }
        string path = Path.Combine(Directory.CreateTempSubdirectory("ser-plots").FullName, "compare.png");
        var c = RunComparison.Create([Run(1, 3), Run(2, 4)], [Run(1, 0), Run(2, 0)], resamples: 200);
        ExperimentPlots.SaveComparison(c, "variable", "fixed", path);
        AssertPng(path);
    }

    [Fact]
    public void Report_markdown_has_paper_layout_and_json_has_pooled_scores()
    {
        var folds = new[] { FakeFold(1, 1), FakeFold(2, 2) };
        var report = new ExperimentReport
        {
            Mode = "variable", Preset = "small", Corpus = "synthetic", Device = "cpu",
            Labels = ["neutral", "angry", "happy", "sad"], Settings = new Dictionary<string, string> { ["epochs"] = "8" },
            Folds = folds, Seconds = 12,
        };
        string md = report.ToMarkdown();
        Assert.Contains("| Actual \\ Predict | Neutral | Angry | Happy | Sad | n |", md);
        Assert.Contains("**pooled**", md);
        var json = System.Text.Json.JsonDocument.Parse(report.ToJson()).RootElement;
        double pooledWa = json.GetProperty("pooled").GetProperty("wa").GetDouble();
        var pooled = new ConfusionMatrix(report.Labels);
        foreach (var f in folds) pooled.Add(f.Test);
        Assert.Equal(pooled.WeightedAccuracy, pooledWa, 12);
        Assert.Equal(400, json.GetProperty("pooled").GetProperty("n").GetInt64());
    }
}
