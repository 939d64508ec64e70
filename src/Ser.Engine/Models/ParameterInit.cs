using System.Numerics;
using System.Text;
using Ser.Engine.Graph;

namespace Ser.Engine.Models;

/// <summary>
/// Deterministic parameter initialisation. Each parameter draws from its own SplitMix64 stream keyed by (seed, name),
/// so values do not depend on declaration order or on float/double (draws are made in double, then rounded).
///   conv, fc1 weights: U(±sqrt(6 / fan_in))  (He uniform: a ReLU follows)
///   fc2 weight:        U(±sqrt(3 / fan_in))  (LeCun uniform: logits)
///   LSTM w_ih, w_hh:   U(±1/sqrt(H));  LSTM bias: 0, forget-gate slice [H, 2H) = 1
///   other biases:      0
/// </summary>
internal static class ParameterInit
{
    public static void Fill<T>(ParameterEntry entry, ulong seed, Span<T> values) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        switch (entry.Init.Kind)
        {
            case InitKind.Zero:
                values.Clear();
                break;
            case InitKind.LstmBias:
                values.Clear();
                values.Slice(entry.Init.Hidden, entry.Init.Hidden).Fill(T.One);
                break;
            case InitKind.Uniform:
                ulong state = seed ^ NameHash(entry.Name);
                for (int i = 0; i < values.Length; i++)
                {
                    double u = (Next(ref state) >> 11) * (1.0 / (1UL << 53)); // [0, 1)
                    values[i] = T.CreateTruncating((2 * u - 1) * entry.Init.Bound);
                }
                break;
        }
    }

    /// <summary>FNV-1a of the UTF-8 name: stable across processes (string.GetHashCode is randomised).</summary>
    static ulong NameHash(string name)
    {
        ulong h = 14695981039346656037UL;
        foreach (byte b in Encoding.UTF8.GetBytes(name)) h = (h ^ b) * 1099511628211UL;
        return h;
    }

    static ulong Next(ref ulong state)
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
