using Ser.Engine.Data;
using Ser.Engine.Data.Synthetic;

namespace Ser.Engine.Tests.Data;

public sealed class SyntheticDifficultyTests
{
    /// <summary>
    /// The synthetic task must be learnable but not trivial: a simple utterance-average classifier, speaker-independent
    /// (leave one session out), lands clearly above chance and clearly below perfect. A small corpus keeps this quick;
    /// the full default corpus gives about 57% mean UA (`sertool corpus baseline`).
    /// </summary>
    [Fact]
    public void Simple_classifier_is_above_chance_and_below_perfect()
    {
        var corpus = new Corpus("synthetic", SyntheticCorpus.Create(120, seed: 1));
        var folds = SpectralBaseline.Evaluate(corpus, FeatureCache.Compute(corpus));
        double ua = folds.Average(f => f.UnweightedAccuracy);
        Assert.True(ua is > 0.33 and < 0.85, $"mean UA {ua:P1}");
        TestContext.Current.SendDiagnosticMessage($"mean UA {ua:P1}");
        Assert.All(folds, f => Assert.True(f.UnweightedAccuracy < 0.98, $"fold {f.Fold} is too easy: UA {f.UnweightedAccuracy:P1}"));
    }

    [Fact]
    public void Unweighted_accuracy_averages_recall_over_present_classes()
    {
        var confusion = new int[,] { { 8, 2, 0, 0 }, { 1, 1, 0, 0 }, { 0, 0, 0, 0 }, { 0, 0, 3, 1 } };
        Assert.Equal((0.8 + 0.5 + 0.25) / 3, SpectralBaseline.Unweighted(confusion), 12);
    }
}
