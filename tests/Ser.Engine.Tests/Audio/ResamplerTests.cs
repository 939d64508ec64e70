using Ser.Engine.Audio;
using static Ser.Engine.Tests.Audio.SignalFit;

namespace Ser.Engine.Tests.Audio;

public class ResamplerTests
{
    [Theory]
    [InlineData(44100, 1000.0)]
    [InlineData(8000, 1000.0)]
    [InlineData(8000, 3500.0)]     // inside the passband (90% of the 4 kHz Nyquist)
    [InlineData(48000, 7000.0)]
    [InlineData(22050, 440.0)]
    [InlineData(22051, 1000.0)]    // 16000/22051 does not reduce: the interpolated-phase path
    [InlineData(11025, 2500.0)]
    public void Tone_keeps_its_frequency_and_level(int from, double hz)
    {
        var x = Tone(hz, from, 0.5);
        var y = Resampler.Resample(x, from, 16000);
        Assert.Equal((int)Math.Ceiling(x.Length * 16000.0 / from), y.Length);
        var (amplitude, residualDb) = FitTone(y, hz, 16000);
        Assert.InRange(20 * Math.Log10(amplitude / 0.5), -0.01, 0.01);   // level within 0.01 dB
        Assert.True(residualDb < -70, $"{residualDb:F1} dB of the output is not the {hz} Hz tone");
    }

    [Theory]
    [InlineData(10000.0)]   // would alias to 6 kHz
    [InlineData(8100.0)]    // just above the new Nyquist: would alias to 7.9 kHz
    [InlineData(8500.0)]    // would alias to 7.5 kHz
    [InlineData(15000.0)]
    public void Content_above_the_new_Nyquist_is_suppressed_by_60_dB(double hz)
    {
        var x = Tone(hz, 48000, 0.5);
        var y = Resampler.Resample(x, 48000, 16000);
        double db = 20 * Math.Log10(MiddleRms(y) / MiddleRms(x));
        Assert.True(db < -60, $"{hz} Hz tone only suppressed by {-db:F1} dB");
    }

    [Fact]
    public void Images_of_upsampling_are_suppressed()
    {
        // 8k -> 16k: a 3 kHz tone must not come with its 5 kHz image.
        var y = Resampler.Resample(Tone(3000, 8000, 0.5), 8000, 16000);
        var (amplitude, residualDb) = FitTone(y, 3000, 16000);
        Assert.InRange(amplitude, 0.499, 0.501);
        Assert.True(residualDb < -70, $"residual {residualDb:F1} dB");
    }

    [Fact]
    public void Output_length_is_the_ceiling_of_the_scaled_length()
    {
        foreach (int n in new[] { 0, 1, 2, 3, 440, 441, 442, 1000 })
            Assert.Equal((n * 160 + 440) / 441, Resampler.Resample(new float[n], 44100, 16000).Length);
        Assert.Equal(7, Resampler.Resample(new float[7], 16000, 16000).Length);
    }

    [Fact]
    public void Long_input_parallel_path_matches_sequential_blocks()
    {
        // Output beyond 4 blocks takes the parallel path; it must equal resampling the pieces it is made of.
        var r = new Random(3);
        var x = new float[48000 * 2];
        for (int i = 0; i < x.Length; i++)
            x[i] = r.NextSingle() - 0.5f;
        var whole = Resampler.Resample(x, 48000, 16000);
        var head = Resampler.Resample(x.AsSpan(0, 3000), 48000, 16000);   // 1000 outputs, sequential path
        for (int i = 0; i < 800; i++)   // before the head's own end effects
            Assert.Equal(head[i], whole[i]);
    }
}
