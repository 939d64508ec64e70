using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Ser.Engine.Features;

/// <summary>
/// The paper's spectrogram front end (DESIGN.md), the one definition every backend and reference follows.
///
/// Legend: L samples (16 kHz mono), T frames, F = 400 bins.
///   window   w[n] = 0.54 - 0.46 * cos(2π n / (N - 1)),  n = 0..N-1,  N = 640 (40 ms, symmetric Hamming)
///   framing  frame t covers samples [160 t, 160 t + 640);  T = 1 + floor((L - 640) / 160), at least 1;
///            samples past the end of the signal are zero (so L &lt; 640 gives one zero-padded frame)
///   DFT      X_t[k] = Σ_{n=0}^{639} w[n] x[160 t + n] exp(-2πi k n / 1600),  k = 0..399 (10 Hz grid, 0..3990 Hz)
///            (the frame zero-padded to 1600 points; no scaling)
///   output   S[t, k] = 10 * log10(max(|X_t[k]|², 1e-10))   dB, not normalised
///
/// How: the 1600-point real DFT is one 800-point complex FFT of z[m] = v[2m] + i v[2m+1]
/// (v = the windowed, zero-padded frame; z is zero for m ≥ 320), unpacked as
///   X[k] = E[k] + exp(-2πi k / 1600) O[k],  E[k] = (Z[k] + conj Z[800-k]) / 2,  O[k] = (Z[k] - conj Z[800-k]) / 2i.
/// Eight frames share one FFT, one frame per SIMD lane (<see cref="LaneFft"/>); groups of frames run in parallel.
/// </summary>
public static class FrontEnd
{
    public const int SampleRate = 16000;
    public const int WindowLength = 640;  // 40 ms
    public const int Hop = 160;           // 10 ms
    public const int DftSize = 1600;      // 10 Hz grid
    public const int Bins = 400;          // 0..3990 Hz
    public const float FloorPower = 1e-10f;

    const int Lanes = 8;                  // frames per FFT batch (Vector256<float>)
    const int Half = DftSize / 2;         // 800-point complex FFT
    const int GroupsPerTask = 8;          // 64 frames per parallel work item

    /// <summary>w[n] = 0.54 - 0.46 cos(2πn/(N-1)), N = 640.</summary>
    public static ReadOnlySpan<float> Window => WindowTable;

    static readonly float[] WindowTable = MakeWindow();
    static readonly LaneFft Fft = new(Half);
    static readonly float[] UnpackCos = MakeUnpack(Math.Cos);   // [F] 0.5 cos(2πk/1600)
    static readonly float[] UnpackSin = MakeUnpack(Math.Sin);   // [F] 0.5 sin(2πk/1600)

    static float[] MakeUnpack(Func<double, double> f)
    {
        var table = new float[Bins];
        for (int k = 0; k < Bins; k++)
            table[k] = (float)(0.5 * f(2 * Math.PI * k / DftSize));
        return table;
    }

    static float[] MakeWindow()
    {
        var w = new float[WindowLength];
        for (int n = 0; n < WindowLength; n++)
            w[n] = (float)(0.54 - 0.46 * Math.Cos(2 * Math.PI * n / (WindowLength - 1)));
        return w;
    }

    /// <summary>Frames for L samples: 1 + floor((L-640)/160), at least 1.</summary>
    public static int FrameCount(int samples)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(samples);
        return samples <= WindowLength ? 1 : 1 + (samples - WindowLength) / Hop;
    }

    /// <summary>dB spectrogram [T, F] (not normalised) of 16 kHz mono PCM into dst (length FrameCount*Bins).</summary>
    public static void Compute(ReadOnlySpan<float> pcm, Span<float> dst) => Compute(pcm, dst, -1);

    public static float[] Compute(ReadOnlySpan<float> pcm)
    {
        var dst = new float[FrameCount(pcm.Length) * Bins];   // [T, F]
        Compute(pcm, dst);
        return dst;
    }

    /// <summary>As <see cref="Compute(ReadOnlySpan{float}, Span{float})"/>, on at most
    /// <paramref name="maxDegreeOfParallelism"/> threads (-1: all cores, 1: the calling thread only).</summary>
    public static unsafe void Compute(ReadOnlySpan<float> pcm, Span<float> dst, int maxDegreeOfParallelism)
    {
        int frames = FrameCount(pcm.Length);
        if (dst.Length != frames * Bins)
            throw new ArgumentException($"dst holds {dst.Length} values, the spectrogram of {pcm.Length} samples has {frames} x {Bins}", nameof(dst));
        if (maxDegreeOfParallelism == 0 || maxDegreeOfParallelism < -1)
            throw new ArgumentOutOfRangeException(nameof(maxDegreeOfParallelism));

        int groups = (frames + Lanes - 1) / Lanes;
        int tasks = (groups + GroupsPerTask - 1) / GroupsPerTask;
        if (tasks <= 1 || maxDegreeOfParallelism == 1)
        {
            var scratch = Scratch.ForThisThread;
            for (int g = 0; g < groups; g++)
                ComputeGroup(pcm, dst, g * Lanes, frames, scratch);
            return;
        }

        fixed (float* x = pcm)
        fixed (float* y = dst)
        {
            // Spans cannot enter a lambda; the pinned addresses can (both stay pinned until Parallel.For returns).
            nint px = (nint)x, py = (nint)y;
            int length = pcm.Length, total = dst.Length;
            var options = new ParallelOptions { MaxDegreeOfParallelism = maxDegreeOfParallelism };
            Parallel.For(0, tasks, options, task =>
            {
                var src = new ReadOnlySpan<float>((float*)px, length);
                var output = new Span<float>((float*)py, total);
                var scratch = Scratch.ForThisThread;
                int last = Math.Min(groups, (task + 1) * GroupsPerTask);
                for (int g = task * GroupsPerTask; g < last; g++)
                    ComputeGroup(src, output, g * Lanes, frames, scratch);
            });
        }
    }

    /// <summary>Per-thread FFT buffers, reused between calls (no allocation per utterance).</summary>
    sealed class Scratch
    {
        public readonly Vector256<float>[] Re = new Vector256<float>[Half];      // [800] lanes = frames
        public readonly Vector256<float>[] Im = new Vector256<float>[Half];
        public readonly Vector256<float>[] WorkRe = new Vector256<float>[Half];
        public readonly Vector256<float>[] WorkIm = new Vector256<float>[Half];
        public readonly float[] Power = new float[Bins * Lanes];                // [F, lanes]

        [ThreadStatic] static Scratch? _current;
        public static Scratch ForThisThread => _current ??= new Scratch();
    }

    /// <summary>Frames first .. first+7 (those below <paramref name="frames"/>) into dst rows.</summary>
    static void ComputeGroup(ReadOnlySpan<float> pcm, Span<float> dst, int first, int frames, Scratch sc)
    {
        int lanes = Math.Min(Lanes, frames - first);
        var re = MemoryMarshal.Cast<Vector256<float>, float>(sc.Re.AsSpan());   // [800, lanes] as floats
        var im = MemoryMarshal.Cast<Vector256<float>, float>(sc.Im.AsSpan());
        const int Packed = WindowLength / 2;                                    // z[m] is zero for m ≥ 320
        re[(Packed * Lanes)..].Clear();
        im[(Packed * Lanes)..].Clear();

        // z[m] = w[2m] x[2m] + i w[2m+1] x[2m+1] for each frame (lane); missing frames and samples are zero.
        ReadOnlySpan<float> w = WindowTable;
        for (int l = 0; l < Lanes; l++)
        {
            int start = (first + l) * Hop;
            int available = l < lanes ? Math.Clamp(pcm.Length - start, 0, WindowLength) : 0;
            var x = pcm.Slice(Math.Min(start, pcm.Length), available);
            int pairs = available / 2;
            for (int m = 0; m < pairs; m++)
            {
                re[m * Lanes + l] = w[2 * m] * x[2 * m];
                im[m * Lanes + l] = w[2 * m + 1] * x[2 * m + 1];
            }
            int mm = pairs;
            if ((available & 1) != 0)
            {
                re[mm * Lanes + l] = w[2 * mm] * x[2 * mm];
                im[mm * Lanes + l] = 0;
                mm++;
            }
            for (; mm < Packed; mm++)
            {
                re[mm * Lanes + l] = 0;
                im[mm * Lanes + l] = 0;
            }
        }

        bool inWork = Fft.Forward(sc.Re, sc.Im, sc.WorkRe, sc.WorkIm);
        var zr = inWork ? sc.WorkRe : sc.Re;
        var zi = inWork ? sc.WorkIm : sc.Im;

        // Unpack the real 1600-point spectrum, power per bin, lanes still interleaved: [F, lanes].
        var power = MemoryMarshal.Cast<float, Vector256<float>>(sc.Power.AsSpan());
        for (int k = 0; k < Bins; k++)
        {
            int kc = k == 0 ? 0 : Half - k;
            var ar = zr[k]; var ai = zi[k];     // Z[k]
            var br = zr[kc]; var bi = zi[kc];   // Z[800-k]
            var c = Vector256.Create(UnpackCos[k]);
            var s = Vector256.Create(UnpackSin[k]);
            // 2E = (ar + br, ai - bi);  2O = (ai + bi, br - ar);  X = E + (cos - i sin) O
            var er = ar + br; var ei = ai - bi;
            var or = ai + bi; var oi = br - ar;
            var xr = 0.5f * er + c * or + s * oi;
            var xi = 0.5f * ei + c * oi - s * or;
            power[k] = xr * xr + xi * xi;
        }

        // dB, then de-interleave the lanes into rows of dst.
        var p = sc.Power.AsSpan();
        TensorPrimitives.Max(p, FloorPower, p);
        TensorPrimitives.Log10(p, p);
        TensorPrimitives.Multiply(p, 10f, p);
        for (int l = 0; l < lanes; l++)
        {
            var row = dst.Slice((first + l) * Bins, Bins);
            for (int k = 0; k < Bins; k++)
                row[k] = p[k * Lanes + l];
        }
    }
}
