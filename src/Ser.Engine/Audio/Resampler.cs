using System.Collections.Concurrent;
using System.Numerics.Tensors;

namespace Ser.Engine.Audio;

/// <summary>
/// Band-limited sample-rate conversion: a Kaiser-windowed sinc low-pass evaluated as a polyphase filter.
///
/// Output sample n sits at input time t = n * from / to. With the ratio reduced by the GCD to
/// to/from = L/M, t = (n*M)/L exactly, so the integer part and the phase (n*M) mod L come from integer
/// arithmetic and never drift. When L is small (≤ <see cref="MaxExactPhases"/>) the filter is tabulated at
/// every one of the L phases and used as is; otherwise it is tabulated at MaxExactPhases phases and two
/// neighbouring phases are blended linearly (error ~1e-7, far below the stopband).
///
/// Filter: stopband edge at the lower Nyquist min(from, to)/2, so nothing folds back; the passband is flat
/// to 90% of it; Kaiser design for <see cref="StopbandDb"/> dB. Gain is 1 in the passband both ways.
/// Samples before the start and after the end are taken as zero.
/// </summary>
public static class Resampler
{
    public const double StopbandDb = 90;
    public const double PassbandFraction = 0.90;
    public const int MaxExactPhases = 1024;

    static readonly ConcurrentDictionary<(int From, int To), PolyphaseFilter> Filters = new();

    public static float[] Resample(ReadOnlySpan<float> input, int fromRate, int toRate) => Resample(input, fromRate, toRate, -1);

    /// <summary>As <see cref="Resample(ReadOnlySpan{float}, int, int)"/> on at most <paramref name="maxDegreeOfParallelism"/>
    /// threads (-1: all cores, 1: the calling thread only); every output sample is computed alone, so the values do not
    /// depend on it.</summary>
    public static float[] Resample(ReadOnlySpan<float> input, int fromRate, int toRate, int maxDegreeOfParallelism)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(fromRate, 0);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(toRate, 0);
        if (fromRate == toRate)
            return input.ToArray();
        var filter = Filters.GetOrAdd((fromRate, toRate), k => new PolyphaseFilter(k.From, k.To));
        long outLength = (input.Length * filter.Up + filter.Down - 1) / filter.Down;  // ceil(len * to / from)
        if (outLength > Array.MaxLength)
            throw new SerException($"resampling {input.Length} samples from {fromRate} to {toRate} Hz gives too many samples");
        var output = new float[outLength];
        filter.Run(input, output, maxDegreeOfParallelism);
        return output;
    }

    /// <summary>The cached polyphase filter of a conversion (shared, immutable once built).</summary>
    internal static PolyphaseFilter FilterFor(int fromRate, int toRate) => Filters.GetOrAdd((fromRate, toRate), k => new PolyphaseFilter(k.From, k.To));

    /// <summary>Taps per output sample for a conversion (cost indicator for benchmarks).</summary>
    public static int TapsFor(int fromRate, int toRate) => new PolyphaseFilter(fromRate, toRate).Taps;
}

internal sealed class PolyphaseFilter
{
    public readonly long Up;          // L = to / gcd
    public readonly long Down;        // M = from / gcd
    public readonly int Phases;       // P: rows of the table (L when exact)
    public readonly bool Exact;       // P == L: every output phase is a table row
    public readonly int HalfTaps;     // K: taps j = -K+1 .. K around the integer part of t
    public int Taps => 2 * HalfTaps;
    readonly float[] _table;          // [P + 1, 2K]; row P repeats row 0 shifted, so p+1 never wraps

    public PolyphaseFilter(int fromRate, int toRate)
    {
        long g = Gcd(fromRate, toRate);
        Up = toRate / g;
        Down = fromRate / g;
        Exact = Up <= Resampler.MaxExactPhases;
        Phases = Exact ? (int)Up : Resampler.MaxExactPhases;

        // Design in units of the lower rate (fmin), then convert to input samples.
        double fMin = Math.Min(fromRate, toRate);
        double transition = 0.5 * (1 - Resampler.PassbandFraction);            // cycles per fmin sample
        double beta = 0.1102 * (Resampler.StopbandDb - 8.7);                     // Kaiser's formula, A > 50 dB
        double length = (Resampler.StopbandDb - 7.95) / (2.285 * 2 * Math.PI * transition);
        double halfWidth = 0.5 * length * fromRate / fMin;                       // input samples
        double cutoff = 0.5 * (1 - transition) * fMin / fromRate;                // cycles per input sample (-6 dB point)
        HalfTaps = (int)Math.Ceiling(halfWidth);

        _table = new float[(Phases + 1) * Taps];
        double i0Beta = BesselI0(beta);
        for (int p = 0; p <= Phases; p++)
        {
            double phi = (double)p / Phases;
            for (int j = -HalfTaps + 1; j <= HalfTaps; j++)
            {
                double tau = phi - j;   // distance from input sample i+j to the output time i+phi
                double u = tau / halfWidth;
                double h = 0;
                if (Math.Abs(u) < 1)
                    h = 2 * cutoff * Sinc(2 * cutoff * tau) * BesselI0(beta * Math.Sqrt(1 - u * u)) / i0Beta;
                _table[p * Taps + j + HalfTaps - 1] = (float)h;
            }
        }
    }

    /// <summary>The 2K taps of table row <paramref name="phase"/> (0..P; row P is row 0 shifted by one sample).</summary>
    public ReadOnlySpan<float> Row(int phase) => _table.AsSpan(phase * Taps, Taps);

    public void Run(ReadOnlySpan<float> input, float[] output, int maxDegreeOfParallelism = -1)
    {
        const int Block = 4096;
        int blocks = (output.Length + Block - 1) / Block;
        if (blocks <= 4 || maxDegreeOfParallelism == 1)
        {
            RunRange(input, output, 0, output.Length);
            return;
        }
        unsafe
        {
            fixed (float* x = input)
            {
                nint px = (nint)x;
                int n = input.Length;
                Parallel.For(0, blocks, new ParallelOptions { MaxDegreeOfParallelism = maxDegreeOfParallelism }, b =>
                {
                    var src = new ReadOnlySpan<float>((float*)px, n);
                    int first = b * Block;
                    RunRange(src, output, first, Math.Min(first + Block, output.Length));
                });
            }
        }
    }

    void RunRange(ReadOnlySpan<float> x, float[] y, int first, int end)
    {
        for (int n = first; n < end; n++)
        {
            long num = n * Down;
            long i = num / Up;                    // integer part of t
            long rem = num % Up;                  // t - i = rem / L
            if (Exact)
            {
                y[n] = Dot(x, i, (int)rem);
            }
            else
            {
                double pos = (double)rem / Up * Phases;
                int p = (int)pos;
                float a = (float)(pos - p);
                y[n] = (1 - a) * Dot(x, i, p) + a * Dot(x, i, p + 1);
            }
        }
    }

    /// <summary>Σ_j x[i + j] h(phase - j) over the taps that fall inside the signal.</summary>
    float Dot(ReadOnlySpan<float> x, long i, int phase)
    {
        long first = i - HalfTaps + 1;                // input index of tap 0
        long lo = Math.Max(first, 0);
        long hi = Math.Min(first + Taps, x.Length);   // exclusive
        if (hi <= lo)
            return 0;
        var taps = _table.AsSpan(phase * Taps + (int)(lo - first), (int)(hi - lo));
        return TensorPrimitives.Dot(x.Slice((int)lo, (int)(hi - lo)), taps);
    }

    static double Sinc(double x) => x == 0 ? 1 : Math.Sin(Math.PI * x) / (Math.PI * x);

    /// <summary>Modified Bessel function of the first kind, order 0 (power series; converges for all x).</summary>
    static double BesselI0(double x)
    {
        double sum = 1, term = 1, q = x * x / 4;
        for (int k = 1; k < 200 && term > 1e-17 * sum; k++)
        {
            term *= q / ((double)k * k);
            sum += term;
        }
        return sum;
    }

    static long Gcd(long a, long b)
    {
        while (b != 0)
            (a, b) = (b, a % b);
        return a;
    }
}
