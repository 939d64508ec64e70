using System.Numerics;
using System.Text;
using Ser.Engine.Graph;

namespace Ser.Engine.Models;

/// <summary>
/// Deterministic parameter initialisation. Each parameter draws from its own SplitMix64 stream keyed by (seed, name),
/// so values do not depend on declaration order or on float/double (draws are made in double, then rounded).
///   conv, fc1 weights: U(±sqrt(6 / fan_in))  (He uniform: a ReLU follows)
///   fc2 weight:        0 (U(±sqrt(3 / fan_in)), LeCun uniform, in <see cref="InitMode.AllPathsLive"/>)
///   LSTM w_ih, w_hh:   U(±1/sqrt(H));  LSTM bias: 0, forget-gate slice [H, 2H) = 1
///   other biases:      0
/// Why the classifier starts at zero: while fc1's random ReLU features carry no label information, random fc2 weights
/// turn them into noise in the logits, and Adam's cheapest way to remove it is to push every fc1 unit into the dead
/// half of its ReLU — after which no gradient reaches the LSTM or the convolutions again. Measured on fold 4 of
/// synthetic:utterances=2280 (small, lr 1e-3, one seed): with LeCun fc2 all 32 fc1 units were dead after two epochs and
/// the loss stayed at ln 4; with fc2 = 0 half of them lived and the loss left ln 4 in epoch 3. Other seeds still stayed
/// at ln 4 at lr 1e-3, hence also the lower default learning rate (TrainingSettings). Zero logits: first loss = ln K.
/// </summary>
internal static class ParameterInit
{
    public static void Fill<T>(ParameterEntry entry, ulong seed, Span<T> values, InitMode mode = InitMode.Training)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        switch (entry.Init.Kind)
        {
            case InitKind.Zero:
            case InitKind.Classifier when mode == InitMode.Training:
                values.Clear();
                break;
            case InitKind.LstmBias:
                values.Clear();
                values.Slice(entry.Init.Hidden, entry.Init.Hidden).Fill(T.One);
                break;
            case InitKind.Uniform:
            case InitKind.Classifier:
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
