using Ser.Engine.Features;

namespace Ser.Engine.Tests.Features;

public class FrontEndTests
{
    const int F = FrontEnd.Bins;

    static float[] Noise(int length, int seed)
    {
        var r = new Random(seed);
        var x = new float[length];
        for (int i = 0; i < length; i++)
            x[i] = r.NextSingle() * 2 - 1;
        return x;
    }

    /// <summary>The definition, literally: float64 DFT of the Hamming-windowed frame zero-padded to 1600 points.</summary>
    static double[] DirectPower(float[] pcm, int frame)
    {
        var p = new double[F];
        for (int k = 0; k < F; k++)
        {
            double re = 0, im = 0;
            for (int n = 0; n < FrontEnd.WindowLength; n++)
            {
                int i = frame * FrontEnd.Hop + n;
                if (i >= pcm.Length)
                    break;
                double v = (0.54 - 0.46 * Math.Cos(2 * Math.PI * n / (FrontEnd.WindowLength - 1))) * pcm[i];
                double angle = -2 * Math.PI * ((long)k * n % FrontEnd.DftSize) / FrontEnd.DftSize;
                re += v * Math.Cos(angle);
                im += v * Math.Sin(angle);
            }
            p[k] = re * re + im * im;
        }
        return p;
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(1, 1)]
    [InlineData(639, 1)]
    [InlineData(640, 1)]
    [InlineData(799, 1)]
    [InlineData(800, 2)]
    [InlineData(801, 2)]
    [InlineData(16000, 97)]
    [InlineData(16159, 97)]
    [InlineData(16160, 98)]
    public void Frame_count_is_1_plus_floor_of_L_minus_640_over_160_and_at_least_1(int samples, int frames)
    {
        Assert.Equal(frames, FrontEnd.FrameCount(samples));
        Assert.Equal(frames * F, FrontEnd.Compute(new float[samples]).Length);
    }

    [Fact]
    public void Window_is_the_symmetric_Hamming_of_640()
    {
        var w = FrontEnd.Window;
        Assert.Equal(640, w.Length);
        Assert.Equal(0.08f, w[0], 6);
        Assert.Equal(0.08f, w[639], 6);
        Assert.Equal(w[100], w[539]);
        Assert.Equal(0.54 - 0.46 * Math.Cos(2 * Math.PI * 123 / 639), w[123], 6);
    }

    [Theory]
    [InlineData(1000.0, 100)]
    [InlineData(440.0, 44)]
    [InlineData(3990.0, 399)]
    [InlineData(100.0, 10)]
    [InlineData(2342.0, 234)]   // off the grid: the nearest bin wins
    public void Pure_tone_peaks_in_its_bin_in_every_frame(double hz, int bin)
    {
        var x = new float[16000];
        for (int i = 0; i < x.Length; i++)
            x[i] = 0.5f * MathF.Sin((float)(2 * Math.PI * hz * i / 16000));
        var db = FrontEnd.Compute(x);
        for (int t = 0; t < FrontEnd.FrameCount(x.Length); t++)
        {
            var row = db.AsSpan(t * F, F);
            Assert.Equal(bin, System.Numerics.Tensors.TensorPrimitives.IndexOfMax(row));
        }
        // A 0.5 amplitude tone on a bin centre: |X| = 0.5 * Σw / 2 = 0.5 * 345.9 / 2.
        if (hz == 1000.0)
            Assert.Equal(20 * Math.Log10(0.25 * 0.54 * 639 + 0.25 * 0.08), db[5 * F + 100], 1);
    }

    [Fact]
    public void Silence_is_finite_at_minus_100_dB()
    {
        foreach (int n in new[] { 0, 100, 640, 5000 })
        {
            var db = FrontEnd.Compute(new float[n]);
            Assert.All(db, v => Assert.Equal(-100f, v, 3));
        }
    }

    [Theory]
    [InlineData(300)]     // shorter than a window: one zero-padded frame
    [InlineData(641)]     // odd length
    [InlineData(3000)]    // 15 frames: one full group of 8 and a partial one
    [InlineData(2721)]
    public void Matches_a_direct_float64_DFT_on_random_input(int length)
    {
        // Tolerance: float32 FFT error is relative to the frame's total energy, so powers are compared with an
        // absolute tolerance of 1e-5 of the frame's peak, and dB values within 0.001 dB wherever the bin holds
        // at least 1e-4 of the peak (measured: 8e-7 of the peak and 4e-5 dB).
        var x = Noise(length, length);
        var db = FrontEnd.Compute(x);
        int frames = FrontEnd.FrameCount(length);
        for (int t = 0; t < frames; t++)
        {
            var reference = DirectPower(x, t);
            double peak = reference.Max();
            for (int k = 0; k < F; k++)
            {
                double p = Math.Pow(10, db[t * F + k] / 10);
                Assert.True(Math.Abs(p - reference[k]) <= 1e-5 * peak, $"frame {t} bin {k}: {p} vs {reference[k]}");
                if (reference[k] >= 1e-4 * peak)
                    Assert.True(Math.Abs(db[t * F + k] - 10 * Math.Log10(reference[k])) <= 0.001, $"frame {t} bin {k} dB");
            }
        }
    }

    [Fact]
    public void Parallel_and_single_thread_give_identical_values()
    {
        var x = Noise(16000 * 3 + 77, 7);
        int frames = FrontEnd.FrameCount(x.Length);
        var one = new float[frames * F];
        var all = new float[frames * F];
        FrontEnd.Compute(x, one, maxDegreeOfParallelism: 1);
        FrontEnd.Compute(x, all, maxDegreeOfParallelism: -1);
        Assert.Equal(one, all);
        // and a frame does not depend on its neighbours or its position in a SIMD group
        var tail = FrontEnd.Compute(x.AsSpan(160 * 101));
        Assert.Equal(one.AsSpan(101 * F, tail.Length).ToArray(), tail);
    }

    [Fact]
    public void Wrong_destination_length_is_refused()
    {
        Assert.Throws<ArgumentException>(() => FrontEnd.Compute(new float[1000], new float[F]));
    }
}
