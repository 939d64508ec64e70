using Ser.Engine.Metrics;

namespace Ser.Engine.Tests.Metrics;

public class ConfusionMatrixTests
{
    static readonly string[] Labels = ["neutral", "angry", "happy", "sad"];

    [Fact]
    public void Weighted_and_unweighted_accuracy_follow_their_definitions()
    {
        var m = new ConfusionMatrix(Labels);
        // neutral: 8 of 10 right; angry 1 of 2; happy 0 of 1; sad 3 of 3.
        for (int i = 0; i < 8; i++) m.Add(0, 0);
        m.Add(0, 3); m.Add(0, 1);
        m.Add(1, 1); m.Add(1, 0);
        m.Add(2, 0);
        for (int i = 0; i < 3; i++) m.Add(3, 3);

        Assert.Equal(16, m.Total);
        Assert.Equal(12.0 / 16, m.WeightedAccuracy, 12);
        Assert.Equal((0.8 + 0.5 + 0.0 + 1.0) / 4, m.UnweightedAccuracy, 12);
        var pct = m.RowPercent();
        Assert.Equal(80.0, pct[0, 0], 9);
        Assert.Equal(10.0, pct[0, 3], 9);
        Assert.Equal(100.0, pct[2, 0], 9);
    }

    [Fact]
    public void Unweighted_accuracy_ignores_absent_classes_and_pooling_adds_counts()
    {
        var a = new ConfusionMatrix(Labels);
        a.Add(0, 0); a.Add(1, 0);
        var b = new ConfusionMatrix(Labels);
        b.Add(1, 1); b.Add(3, 3);
        Assert.Equal(0.5, a.UnweightedAccuracy, 12);     // neutral 1.0, angry 0.0; happy, sad absent
        a.Add(b);
        Assert.Equal(4, a.Total);
        Assert.Equal((1.0 + 0.5 + 1.0) / 3, a.UnweightedAccuracy, 12);
        Assert.Throws<ArgumentException>(() => a.Add(new ConfusionMatrix(["x", "y"])));
    }

    [Fact]
    public void Row_percentages_sum_to_100_and_a_class_with_no_utterances_is_a_row_of_zeros()
    {
        var m = new ConfusionMatrix(["a", "b", "c"]);
        m.Add(0, 0, 3);
        m.Add(0, 2, 1);
        m.Add(2, 1, 2);                                   // class b has no utterances
        var pct = m.RowPercent();
        Assert.Equal([75.0, 0.0, 25.0], new[] { pct[0, 0], pct[0, 1], pct[0, 2] });
        Assert.Equal([0.0, 0.0, 0.0], new[] { pct[1, 0], pct[1, 1], pct[1, 2] });   // not 0/0 = NaN
        Assert.Equal([0.0, 100.0, 0.0], new[] { pct[2, 0], pct[2, 1], pct[2, 2] });
    }

    [Fact]
    public void Out_of_range_classes_negative_counts_and_no_classes_are_refused_and_an_empty_matrix_scores_nan()
    {
        var m = new ConfusionMatrix(["a", "b"]);
        Assert.Throws<ArgumentOutOfRangeException>(() => m.Add(2, 0));   // == class count: one past the end
        Assert.Throws<ArgumentOutOfRangeException>(() => m.Add(0, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => m.Add(-1, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => m.Add(0, 0, -1));
        Assert.Throws<ArgumentException>(() => new ConfusionMatrix([]));
        Assert.Equal(0, m.Total);
        Assert.True(double.IsNaN(m.UnweightedAccuracy));
        Assert.True(double.IsNaN(m.WeightedAccuracy));
    }
}
