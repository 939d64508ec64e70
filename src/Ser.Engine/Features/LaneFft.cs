using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Ser.Engine.Features;

/// <summary>
/// Forward complex DFT of one size N, computed for 8 independent signals at once: lane l of every
/// Vector256 belongs to signal l. Batching across lanes (instead of vectorising inside one transform)
/// keeps every butterfly a plain vector op with no shuffles, whatever the radix.
///
/// Algorithm: Stockham autosort, decimation in frequency, radices 5, 4, 3, 2. One stage with radix p on
/// sub-length n (= p*m) and stride s maps, for q &lt; m, r &lt; s, l &lt; p:
///     y[r + s*(l + p*q)] = w_n^(q*l) * Σ_j x[r + s*(q + m*j)] * w_p^(j*l),    w_k = exp(-2πi/k)
/// then n ← m, s ← s*p. After the last stage the spectrum is in natural order (no bit reversal):
///     X[k] = Σ_t x[t] exp(-2πi t k / N).
/// </summary>
internal sealed class LaneFft
{
    /// <summary>One Stockham pass; twiddles w_n^(q*l) at [q * Radix + l].</summary>
    sealed record Stage(int Radix, int M, int Stride, float[] TwiddleRe, float[] TwiddleIm);

    readonly Stage[] _stages;

    public int Size { get; }

    public LaneFft(int size)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 2);
        Size = size;
        var radices = new List<int>();
        int rest = size;
        foreach (int p in (int[])[5, 4, 3, 2])
            while (rest % p == 0) { radices.Add(p); rest /= p; }
        if (rest != 1)
            throw new ArgumentException($"FFT size {size} has a prime factor above 5", nameof(size));

        var stages = new List<Stage>();
        int n = size, s = 1;
        foreach (int p in radices)
        {
            int m = n / p;
            var re = new float[m * p];
            var im = new float[m * p];
            for (int q = 0; q < m; q++)
                for (int l = 0; l < p; l++)
                {
                    double angle = -2 * Math.PI * q * l / n;
                    re[q * p + l] = (float)Math.Cos(angle);
                    im[q * p + l] = (float)Math.Sin(angle);
                }
            stages.Add(new Stage(p, m, s, re, im));
            n = m;
            s *= p;
        }
        _stages = [.. stages];
    }

    /// <summary>
    /// Transforms (re, im) [N lanes]. Uses (workRe, workIm) [N lanes] as the second Stockham buffer and
    /// returns true when the result ended there, false when it is back in (re, im).
    /// </summary>
    public bool Forward(Span<Vector256<float>> re, Span<Vector256<float>> im, Span<Vector256<float>> workRe, Span<Vector256<float>> workIm)
    {
        if (re.Length < Size || im.Length < Size || workRe.Length < Size || workIm.Length < Size)
            throw new ArgumentException("FFT buffers are smaller than the transform");
        bool inWork = false;
        foreach (var stage in _stages)
        {
            if (inWork)
                Run(stage, workRe, workIm, re, im);
            else
                Run(stage, re, im, workRe, workIm);
            inWork = !inWork;
        }
        return inWork;
    }

    static void Run(Stage st, Span<Vector256<float>> xr, Span<Vector256<float>> xi, Span<Vector256<float>> yr, Span<Vector256<float>> yi)
    {
        ref var xr0 = ref xr[0];
        ref var xi0 = ref xi[0];
        ref var yr0 = ref yr[0];
        ref var yi0 = ref yi[0];
        switch (st.Radix)
        {
            case 2: Radix2(st, ref xr0, ref xi0, ref yr0, ref yi0); break;
            case 3: Radix3(st, ref xr0, ref xi0, ref yr0, ref yi0); break;
            case 4: Radix4(st, ref xr0, ref xi0, ref yr0, ref yi0); break;
            case 5: Radix5(st, ref xr0, ref xi0, ref yr0, ref yi0); break;
        }
    }

    // Indexing helpers: the spans were length-checked in Forward, and every index below is < N.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static ref Vector256<float> At(ref Vector256<float> b, int i) => ref Unsafe.Add(ref b, i);

    /// <summary>y = w * a for a broadcast twiddle w = (wr, wi).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store(ref Vector256<float> yr, ref Vector256<float> yi, int i, Vector256<float> ar, Vector256<float> ai, Vector256<float> wr, Vector256<float> wi)
    {
        At(ref yr, i) = ar * wr - ai * wi;
        At(ref yi, i) = ar * wi + ai * wr;
    }

    static void Radix2(Stage st, ref Vector256<float> xr, ref Vector256<float> xi, ref Vector256<float> yr, ref Vector256<float> yi)
    {
        int m = st.M, s = st.Stride;
        for (int q = 0; q < m; q++)
        {
            var w1r = Vector256.Create(st.TwiddleRe[q * 2 + 1]);
            var w1i = Vector256.Create(st.TwiddleIm[q * 2 + 1]);
            for (int r = 0; r < s; r++)
            {
                int i0 = r + s * q, i1 = i0 + s * m;
                var a0r = At(ref xr, i0); var a0i = At(ref xi, i0);
                var a1r = At(ref xr, i1); var a1i = At(ref xi, i1);
                int o = r + s * 2 * q;
                At(ref yr, o) = a0r + a1r;
                At(ref yi, o) = a0i + a1i;
                Store(ref yr, ref yi, o + s, a0r - a1r, a0i - a1i, w1r, w1i);
            }
        }
    }

    static void Radix3(Stage st, ref Vector256<float> xr, ref Vector256<float> xi, ref Vector256<float> yr, ref Vector256<float> yi)
    {
        int m = st.M, s = st.Stride;
        var c = Vector256.Create(-0.5f);                          // cos(2π/3)
        var sn = Vector256.Create((float)Math.Sin(2 * Math.PI / 3));
        for (int q = 0; q < m; q++)
        {
            var w1r = Vector256.Create(st.TwiddleRe[q * 3 + 1]); var w1i = Vector256.Create(st.TwiddleIm[q * 3 + 1]);
            var w2r = Vector256.Create(st.TwiddleRe[q * 3 + 2]); var w2i = Vector256.Create(st.TwiddleIm[q * 3 + 2]);
            for (int r = 0; r < s; r++)
            {
                int i0 = r + s * q, i1 = i0 + s * m, i2 = i1 + s * m;
                var a0r = At(ref xr, i0); var a0i = At(ref xi, i0);
                var br = At(ref xr, i1) + At(ref xr, i2); var bi = At(ref xi, i1) + At(ref xi, i2);
                var dr = At(ref xr, i1) - At(ref xr, i2); var di = At(ref xi, i1) - At(ref xi, i2);
                var ur = a0r + c * br; var ui = a0i + c * bi;
                // A1 = u - i*sin*d, A2 = u + i*sin*d
                var vr = sn * dr; var vi = sn * di;
                int o = r + s * 3 * q;
                At(ref yr, o) = a0r + br;
                At(ref yi, o) = a0i + bi;
                Store(ref yr, ref yi, o + s, ur + vi, ui - vr, w1r, w1i);
                Store(ref yr, ref yi, o + 2 * s, ur - vi, ui + vr, w2r, w2i);
            }
        }
    }

    static void Radix4(Stage st, ref Vector256<float> xr, ref Vector256<float> xi, ref Vector256<float> yr, ref Vector256<float> yi)
    {
        int m = st.M, s = st.Stride;
        for (int q = 0; q < m; q++)
        {
            var w1r = Vector256.Create(st.TwiddleRe[q * 4 + 1]); var w1i = Vector256.Create(st.TwiddleIm[q * 4 + 1]);
            var w2r = Vector256.Create(st.TwiddleRe[q * 4 + 2]); var w2i = Vector256.Create(st.TwiddleIm[q * 4 + 2]);
            var w3r = Vector256.Create(st.TwiddleRe[q * 4 + 3]); var w3i = Vector256.Create(st.TwiddleIm[q * 4 + 3]);
            for (int r = 0; r < s; r++)
            {
                int i0 = r + s * q, i1 = i0 + s * m, i2 = i1 + s * m, i3 = i2 + s * m;
                var t0r = At(ref xr, i0) + At(ref xr, i2); var t0i = At(ref xi, i0) + At(ref xi, i2);
                var t1r = At(ref xr, i0) - At(ref xr, i2); var t1i = At(ref xi, i0) - At(ref xi, i2);
                var t2r = At(ref xr, i1) + At(ref xr, i3); var t2i = At(ref xi, i1) + At(ref xi, i3);
                var t3r = At(ref xr, i1) - At(ref xr, i3); var t3i = At(ref xi, i1) - At(ref xi, i3);
                int o = r + s * 4 * q;
                At(ref yr, o) = t0r + t2r;
                At(ref yi, o) = t0i + t2i;
                // A1 = t1 - i*t3, A2 = t0 - t2, A3 = t1 + i*t3
                Store(ref yr, ref yi, o + s, t1r + t3i, t1i - t3r, w1r, w1i);
                Store(ref yr, ref yi, o + 2 * s, t0r - t2r, t0i - t2i, w2r, w2i);
                Store(ref yr, ref yi, o + 3 * s, t1r - t3i, t1i + t3r, w3r, w3i);
            }
        }
    }

    static void Radix5(Stage st, ref Vector256<float> xr, ref Vector256<float> xi, ref Vector256<float> yr, ref Vector256<float> yi)
    {
        int m = st.M, s = st.Stride;
        var c1 = Vector256.Create((float)Math.Cos(2 * Math.PI / 5));
        var c2 = Vector256.Create((float)Math.Cos(4 * Math.PI / 5));
        var s1 = Vector256.Create((float)Math.Sin(2 * Math.PI / 5));
        var s2 = Vector256.Create((float)Math.Sin(4 * Math.PI / 5));
        for (int q = 0; q < m; q++)
        {
            var w1r = Vector256.Create(st.TwiddleRe[q * 5 + 1]); var w1i = Vector256.Create(st.TwiddleIm[q * 5 + 1]);
            var w2r = Vector256.Create(st.TwiddleRe[q * 5 + 2]); var w2i = Vector256.Create(st.TwiddleIm[q * 5 + 2]);
            var w3r = Vector256.Create(st.TwiddleRe[q * 5 + 3]); var w3i = Vector256.Create(st.TwiddleIm[q * 5 + 3]);
            var w4r = Vector256.Create(st.TwiddleRe[q * 5 + 4]); var w4i = Vector256.Create(st.TwiddleIm[q * 5 + 4]);
            for (int r = 0; r < s; r++)
            {
                int i0 = r + s * q, i1 = i0 + s * m, i2 = i1 + s * m, i3 = i2 + s * m, i4 = i3 + s * m;
                var a0r = At(ref xr, i0); var a0i = At(ref xi, i0);
                var b1r = At(ref xr, i1) + At(ref xr, i4); var b1i = At(ref xi, i1) + At(ref xi, i4);
                var b2r = At(ref xr, i2) + At(ref xr, i3); var b2i = At(ref xi, i2) + At(ref xi, i3);
                var d1r = At(ref xr, i1) - At(ref xr, i4); var d1i = At(ref xi, i1) - At(ref xi, i4);
                var d2r = At(ref xr, i2) - At(ref xr, i3); var d2i = At(ref xi, i2) - At(ref xi, i3);
                // A1 = u1 - i v1, A4 = u1 + i v1, A2 = u2 - i v2, A3 = u2 + i v2, with
                // u1 = a0 + c1 b1 + c2 b2, v1 = s1 d1 + s2 d2, u2 = a0 + c2 b1 + c1 b2, v2 = s2 d1 - s1 d2.
                var u1r = a0r + c1 * b1r + c2 * b2r; var u1i = a0i + c1 * b1i + c2 * b2i;
                var u2r = a0r + c2 * b1r + c1 * b2r; var u2i = a0i + c2 * b1i + c1 * b2i;
                var v1r = s1 * d1r + s2 * d2r; var v1i = s1 * d1i + s2 * d2i;
                var v2r = s2 * d1r - s1 * d2r; var v2i = s2 * d1i - s1 * d2i;
                int o = r + s * 5 * q;
                At(ref yr, o) = a0r + b1r + b2r;
                At(ref yi, o) = a0i + b1i + b2i;
                Store(ref yr, ref yi, o + s, u1r + v1i, u1i - v1r, w1r, w1i);
                Store(ref yr, ref yi, o + 2 * s, u2r + v2i, u2i - v2r, w2r, w2i);
                Store(ref yr, ref yi, o + 3 * s, u2r - v2i, u2i + v2r, w3r, w3i);
                Store(ref yr, ref yi, o + 4 * s, u1r - v1i, u1i + v1r, w4r, w4i);
            }
        }
    }
}
