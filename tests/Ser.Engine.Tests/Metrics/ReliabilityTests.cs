using Ser.Engine.Metrics;

namespace Ser.Engine.Tests.Metrics;

public class ReliabilityTests
{
    [Fact]
    public void Reliability_computes_ece_and_nll_by_hand_and_pools_like_one_set()
    {
        // Three utterances: confidence 0.9 right, 0.9 wrong (same bin: accuracy 0.5, confidence 0.9), 0.5 right (alone).
        float[] p = [0.9f, 0.1f, /**/ 0.9f, 0.1f, /**/ 0.5f, 0.5f];
        int[] y = [0, 1, 0];
        var r = Reliability.Of(p, y);
        double expectedEce = 2.0 / 3 * Math.Abs(0.5 - 0.9) + 1.0 / 3 * Math.Abs(1 - 0.5);
        Assert.Equal(expectedEce, r.ExpectedCalibrationError, 1e-6);
        Assert.Equal(-(Math.Log(0.9) + Math.Log(0.1) + Math.Log(0.5)) / 3, r.NegativeLogLikelihood, 1e-6);
        Assert.Equal(3, r.Total);

        var first = Reliability.Of(p.AsSpan(0, 4), y.AsSpan(0, 2));
        first.Add(Reliability.Of(p.AsSpan(4), y.AsSpan(2)));
        Assert.Equal(r.ExpectedCalibrationError, first.ExpectedCalibrationError, 1e-12);
        Assert.Equal(r.NegativeLogLikelihood, first.NegativeLogLikelihood, 1e-12);
    }

    [Fact]
    public void Confidence_bins_are_fifteenths_with_one_in_the_last_and_an_empty_set_is_nan()
    {
        var r = new Reliability();
        Assert.True(double.IsNaN(r.ExpectedCalibrationError));
        Assert.True(double.IsNaN(r.NegativeLogLikelihood));
        r.Add([1f, 0f], 0);                                  // confidence 1: the last bin, not past the end
        r.Add([1 / 15f + 1e-4f, 1 - 1 / 15f - 1e-4f], 1);   // the top class is 1 (p = 0.933): bin 13
        r.Add([0.5f, 0.5f], 0);                              // a tie goes to the first class: right, bin 7
        Assert.Equal(1, r.Counts[14]);
        Assert.Equal(1, r.Counts[13]);
        Assert.Equal(1, r.Counts[7]);
        Assert.Equal(3, r.Correct.Sum());
        Assert.Throws<ArgumentOutOfRangeException>(() => r.Add([0.5f, 0.5f], 2));
    }
}
