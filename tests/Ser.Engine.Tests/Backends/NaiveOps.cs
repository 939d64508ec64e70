namespace Ser.Engine.Tests.Backends;

/// <summary>
/// Straightforward float64 implementations of the model contract's operations, written from the contract text, used
/// as references for the optimised backend. Layout [B, C, T, F]; frames t &gt;= V_b of inputs are treated as zero.
/// </summary>
internal static class NaiveOps
{
    public static double[] Conv(double[] x, double[] w, double[] bias, int b, int cin, int cout, int t, int f, int kt, int kf, int[] lengths)
    {
        int pt = (kt - 1) / 2, pf = (kf - 1) / 2;
        var y = new double[b * cout * t * f];
        for (int n = 0; n < b; n++)
        for (int co = 0; co < cout; co++)
        for (int r = 0; r < lengths[n]; r++)
        for (int c = 0; c < f; c++)
        {
            double s = bias[co];
            for (int ci = 0; ci < cin; ci++)
            for (int a = 0; a < kt; a++)
            for (int q = 0; q < kf; q++)
            {
                int ir = r + a - pt, ic = c + q - pf;
                if (ir < 0 || ir >= lengths[n] || ic < 0 || ic >= f) continue;
                s += w[((co * cin + ci) * kt + a) * kf + q] * x[((n * cin + ci) * t + ir) * f + ic];
            }
            y[((n * cout + co) * t + r) * f + c] = s;
        }
        return y;
    }

    public static double[] Pool(double[] x, int b, int c, int t, int f, int[] lengths)
    {
        int to = (t + 1) / 2, fo = (f + 1) / 2;
        var y = new double[b * c * to * fo];
        for (int n = 0; n < b; n++)
        for (int ch = 0; ch < c; ch++)
        for (int r = 0; r < (lengths[n] + 1) / 2; r++)
        for (int q = 0; q < fo; q++)
        {
            double m = double.NegativeInfinity;
            for (int dr = 0; dr < 2; dr++)
            for (int dq = 0; dq < 2; dq++)
            {
                int ir = 2 * r + dr, iq = 2 * q + dq;
                if (ir < lengths[n] && iq < f) m = Math.Max(m, x[((n * c + ch) * t + ir) * f + iq]);
            }
            y[((n * c + ch) * to + r) * fo + q] = m;
        }
        return y;
    }

    static double Sigmoid(double v) => 1 / (1 + Math.Exp(-v));

    /// <summary>BiLSTM over x [B, T, I]: output [B, 2H] = (h_fw at V-1, h_bw after step 0). Weights as the checkpoint.</summary>
    public static double[] Lstm(double[] x, int b, int t, int inputs, int h, int[] lengths, double[][] w)
    {
        var output = new double[b * 2 * h];
        for (int n = 0; n < b; n++)
        for (int d = 0; d < 2; d++)
        {
            double[] wih = w[3 * d], whh = w[3 * d + 1], bias = w[3 * d + 2];
            var hs = new double[h];
            var cs = new double[h];
            for (int s = 0; s < lengths[n]; s++)
            {
                int step = d == 0 ? s : lengths[n] - 1 - s;
                var g = new double[4 * h];
                for (int r = 0; r < 4 * h; r++)
                {
                    double v = bias[r];
                    for (int i = 0; i < inputs; i++) v += wih[r * inputs + i] * x[(n * t + step) * inputs + i];
                    for (int j = 0; j < h; j++) v += whh[r * h + j] * hs[j];
                    g[r] = v;
                }
                for (int j = 0; j < h; j++)
                {
                    double ig = Sigmoid(g[j]), fg = Sigmoid(g[h + j]), gg = Math.Tanh(g[2 * h + j]), og = Sigmoid(g[3 * h + j]);
                    cs[j] = fg * cs[j] + ig * gg;
                    hs[j] = og * Math.Tanh(cs[j]);
                }
            }
            Array.Copy(hs, 0, output, n * 2 * h + d * h, h);
        }
        return output;
    }
}
