namespace Ser.Engine.Tests.Audio;

/// <summary>
/// Tone measurements shared by the audio tests and tools/ResamplerBench (which compiles this file in): a test tone,
/// the best-fitting sinusoid at a known frequency, and the RMS of the middle half.
/// </summary>
internal static class SignalFit
{
    public static float[] Tone(double hz, int rate, double seconds, double amplitude = 0.5)
    {
        var x = new float[(int)(rate * seconds)];
        for (int i = 0; i < x.Length; i++)
            x[i] = (float)(amplitude * Math.Sin(2 * Math.PI * hz * i / rate + 0.3));
        return x;
    }

    /// <summary>
    /// Least-squares fit of a sinusoid at exactly <paramref name="hz"/> over the middle half of y (away from the
    /// edges, where the filter sees the zeros outside the signal). Returns its amplitude and the energy of what
    /// the fit leaves, relative to the signal (dB): a tone that kept its frequency leaves almost nothing.
    /// </summary>
    public static (double Amplitude, double ResidualDb) FitTone(float[] y, double hz, int rate)
    {
        int a = y.Length / 4, b = 3 * y.Length / 4;
        double cc = 0, ss = 0, cs = 0, yc = 0, ys = 0;
        for (int i = a; i < b; i++)
        {
            double c = Math.Cos(2 * Math.PI * hz * i / rate), s = Math.Sin(2 * Math.PI * hz * i / rate);
            cc += c * c; ss += s * s; cs += c * s; yc += y[i] * c; ys += y[i] * s;
        }
        double det = cc * ss - cs * cs;
        double p = (yc * ss - ys * cs) / det, q = (ys * cc - yc * cs) / det;
        double residual = 0, energy = 0;
        for (int i = a; i < b; i++)
        {
            double fit = p * Math.Cos(2 * Math.PI * hz * i / rate) + q * Math.Sin(2 * Math.PI * hz * i / rate);
            residual += (y[i] - fit) * (y[i] - fit);
            energy += y[i] * (double)y[i];
        }
        return (Math.Sqrt(p * p + q * q), 10 * Math.Log10(residual / energy));
    }

    public static double MiddleRms(float[] y)
    {
        double sum = 0;
        int a = y.Length / 4, b = 3 * y.Length / 4;
        for (int i = a; i < b; i++)
            sum += y[i] * (double)y[i];
        return Math.Sqrt(sum / (b - a));
    }
}
