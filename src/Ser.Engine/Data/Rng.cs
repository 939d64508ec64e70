namespace Ser.Engine.Data;

/// <summary>
/// xoshiro256** seeded through SplitMix64: our own generator so the synthetic corpus and batch orders are bit-identical on every
/// runtime (System.Random's algorithm is an implementation detail). A value type; copy it to fork a stream.
/// </summary>
internal struct Rng
{
    ulong _s0, _s1, _s2, _s3;

    public Rng(ulong seed)
    {
        _s0 = SplitMix(ref seed); _s1 = SplitMix(ref seed); _s2 = SplitMix(ref seed); _s3 = SplitMix(ref seed);
    }

    /// <summary>An independent stream for item <paramref name="index"/> of a seeded family (e.g. utterance i).</summary>
    public static Rng For(int seed, int stream, int index)
    {
        ulong x = (ulong)(uint)seed * 0x9E3779B97F4A7C15UL ^ (ulong)(uint)stream << 40 ^ (ulong)(uint)index * 0xD1B54A32D192ED03UL;
        return new Rng(SplitMix(ref x));
    }

    static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public ulong NextULong()
    {
        ulong result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0; _s3 ^= _s1; _s1 ^= _s2; _s0 ^= _s3;
        _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1).</summary>
    public double NextDouble() => (NextULong() >> 11) * (1.0 / (1UL << 53));

    public double Uniform(double lo, double hi) => lo + (hi - lo) * NextDouble();

    /// <summary>Uniform integer in [0, n).</summary>
    public int Next(int n) => (int)((NextULong() >> 33) * (ulong)n >> 31);

    /// <summary>Standard normal (Box–Muller; one value per call keeps the stream simple).</summary>
    public double Gaussian()
    {
        double u1 = 1.0 - NextDouble();
        double u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    public double Gaussian(double mean, double sd) => mean + sd * Gaussian();

    /// <summary>Uniform in [-1, 1), cheap enough for per-sample noise.</summary>
    public float NoiseSample() => (float)((long)NextULong() * (1.0 / long.MaxValue));

    public void Shuffle<T>(IList<T> list)
    {
        for (int i = list.Count - 1; i > 0; i--)
        {
            int j = Next(i + 1);
            (list[i], list[j]) = (list[j], list[i]);
        }
    }
}
