using Ser.Engine.Inference;

namespace Ser.Engine.Tests.Inference;

public class CalibrationTests
{
    [Fact]
    public void Temperature_turns_softmax_of_z_into_softmax_of_z_over_t()
    {
        double[] z = [1.5, -0.25, 0.75, -2.0];
        float[] p = Softmax(z, 1);
        Calibration.ApplyTemperature(p, 2.5f);
        var expected = Softmax(z, 2.5);
        for (int k = 0; k < z.Length; k++) Assert.True(Math.Abs(p[k] - expected[k]) <= 1e-6, $"p[{k}] = {p[k]}, softmax(z/T) = {expected[k]}");
    }

    [Fact]
    public void Temperature_one_leaves_the_bits_alone_and_bad_temperatures_are_refused()
    {
        float[] p = [0.1f, 0.2f, 0.3f, 0.4f];
        var before = p.ToArray();
        Calibration.ApplyTemperature(p, 1f);
        Assert.Equal(before, p);
        Assert.Throws<ArgumentOutOfRangeException>(() => Calibration.ApplyTemperature(p, 0f));
        Assert.Throws<ArgumentOutOfRangeException>(() => Calibration.ApplyTemperature(p, float.NaN));
    }

    static float[] Softmax(double[] z, double t)
    {
        var e = z.Select(v => Math.Exp(v / t)).ToArray();
        return e.Select(v => (float)(v / e.Sum())).ToArray();
    }
}
