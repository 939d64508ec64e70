namespace Ser.Native.Tests;

/// <summary>Deterministic test data.</summary>
internal static class TestSignals
{
    public static float[] Uniform(int count, int seed, float scale = 1f)
    {
        var r = new Random(seed);
        var x = new float[count];
        for (int i = 0; i < x.Length; i++)
            x[i] = (float)(scale * (2 * r.NextDouble() - 1));
        return x;
    }

    /// <summary>Speech-level audio: three harmonics of a gliding pitch plus noise ~35 dB down.</summary>
    public static float[] Voice(int samples, int seed)
    {
        var r = new Random(seed);
        double f0 = 120 + 80 * r.NextDouble(), phase = 0;
        var x = new float[samples];
        for (int n = 0; n < samples; n++)
        {
            double f = f0 * (1 + 0.1 * Math.Sin(2 * Math.PI * n / 8000.0));
            phase += 2 * Math.PI * f / 16000;
            x[n] = (float)(0.1 * Math.Sin(phase) + 0.05 * Math.Sin(2 * phase + 1) + 0.025 * Math.Sin(3 * phase + 2)
                + 0.004 * (2 * r.NextDouble() - 1));
        }
        return x;
    }
}
