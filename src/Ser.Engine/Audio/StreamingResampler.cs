using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Ser.Engine.Audio;

/// <summary>
/// The <see cref="Resampler"/>'s polyphase filter run on a stream: input arrives in pieces of any size, output sample n
/// is produced as soon as the 2K input samples around its time t = n * from / to have arrived. Samples before the first
/// one are zeros; <see cref="Finish"/> pads the end with zeros, giving ceil(len * to / from) samples in all, as the
/// whole-buffer resampler does.
/// <para>Chunking never changes a value: each output is a dot product over the same 2K stored samples in the same
/// order (<see cref="Dot"/> groups by index, never by address, unlike TensorPrimitives.Dot, whose grouping follows the
/// buffer's alignment). So pushing 1 sample or 1 second at a time gives bit-identical output. The values may differ from
/// <see cref="Resampler.Resample"/>'s in the last bits (different summation order), never more.</para>
/// <para>Steady state allocates nothing: the history buffer is sized once (it grows only for a single push larger than
/// it).</para>
/// </summary>
public sealed class StreamingResampler
{
    readonly PolyphaseFilter? _filter;   // null: from == to, samples pass through
    readonly int _k;                      // K: half the taps
    float[] _history;                     // input samples from absolute index _historyStart (index < 0 are the leading zeros)
    long _historyStart;                   // absolute input index of _history[0]
    int _historyCount;
    long _inputCount;                     // input samples received
    long _next;                           // absolute index of the next output sample
    bool _finished;

    public StreamingResampler(int fromRate, int toRate)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(fromRate, 0);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(toRate, 0);
        FromRate = fromRate;
        ToRate = toRate;
        if (fromRate != toRate)
        {
            _filter = Resampler.FilterFor(fromRate, toRate);
            _k = _filter.HalfTaps;
        }
        _history = new float[Math.Max(4096, 4 * 2 * _k)];
        _historyStart = -_k;              // K leading zeros: tap windows that start before sample 0 read them
        _historyCount = _k;
    }

    public int FromRate { get; }
    public int ToRate { get; }
    /// <summary>Output samples produced so far.</summary>
    public long OutputCount => _next;

    /// <summary>Output samples that <see cref="Push"/> of <paramref name="inputSamples"/> more could produce at most.</summary>
    public int MaxOutputFor(int inputSamples) =>
        _filter is null ? inputSamples : (int)Math.Min(int.MaxValue, (long)inputSamples * _filter.Up / _filter.Down + 2);

    /// <summary>
    /// Takes input samples and writes every output sample that became computable to <paramref name="output"/> (at least
    /// <see cref="MaxOutputFor"/>(input.Length) long); returns how many.
    /// </summary>
    public int Push(ReadOnlySpan<float> input, Span<float> output)
    {
        if (_finished) throw new InvalidOperationException("the resampler was finished");
        if (_filter is null)
        {
            input.CopyTo(output);
            _inputCount += input.Length;
            _next += input.Length;
            return input.Length;
        }
        Append(input);
        _inputCount += input.Length;
        return Drain(output, _inputCount);
    }

    /// <summary>End of input: the outputs whose tap windows reach past the last sample, computed with zeros there.</summary>
    public int Finish(Span<float> output)
    {
        if (_finished) return 0;
        _finished = true;
        if (_filter is null) return 0;
        long total = (_inputCount * _filter.Up + _filter.Down - 1) / _filter.Down;   // ceil(len * to / from)
        int pad = _k + 1;                  // zeros after the end: every window of an output < total then lies in history
        if (_historyCount + pad > _history.Length) Array.Resize(ref _history, _historyCount + pad);
        _history.AsSpan(_historyCount, pad).Clear();
        _historyCount += pad;
        return Drain(output, long.MaxValue, total);
    }

    /// <summary>Outputs that <see cref="Finish"/> can still produce at most.</summary>
    public int MaxFinishOutput => _filter is null ? 0 : (int)((long)(_k + 1) * _filter.Up / _filter.Down + 2);

    int Drain(Span<float> output, long available, long limit = long.MaxValue)
    {
        var f = _filter!;
        int written = 0;
        while (_next < limit)
        {
            long num = _next * f.Down;
            long i = num / f.Up;                  // integer part of t
            long rem = num % f.Up;
            if (available != long.MaxValue && i + _k >= available) break;   // the last tap, x[i + K], has not arrived
            if (i + _k - _historyStart >= _historyCount) break;
            var x = _history.AsSpan((int)(i - _k + 1 - _historyStart), 2 * _k);
            if (f.Exact)
            {
                output[written++] = Dot(x, f.Row((int)rem));
            }
            else
            {
                double pos = (double)rem / f.Up * f.Phases;
                int p = (int)pos;
                float a = (float)(pos - p);
                output[written++] = (1 - a) * Dot(x, f.Row(p)) + a * Dot(x, f.Row(p + 1));
            }
            _next++;
        }
        // Keep only what the next output's window needs.
        long keepFrom = _next * f.Down / f.Up - _k + 1;
        int drop = (int)Math.Clamp(keepFrom - _historyStart, 0, _historyCount);
        if (drop > 0)
        {
            _history.AsSpan(drop, _historyCount - drop).CopyTo(_history);
            _historyStart += drop;
            _historyCount -= drop;
        }
        return written;
    }

    void Append(ReadOnlySpan<float> input)
    {
        if (_historyCount + input.Length > _history.Length)
            Array.Resize(ref _history, Math.Max(2 * _history.Length, _historyCount + input.Length));
        input.CopyTo(_history.AsSpan(_historyCount));
        _historyCount += input.Length;
    }

    /// <summary>Σ x[j] h[j], summed in a fixed order that depends on j only (8 lanes, then the lanes in order, then the tail).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Dot(ReadOnlySpan<float> x, ReadOnlySpan<float> h)
    {
        int n = x.Length, j = 0;
        float sum = 0;
        if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            var acc = Vector256<float>.Zero;
            ref float rx = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(x);
            ref float rh = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(h);
            for (; j <= n - 8; j += 8)
                acc += Vector256.LoadUnsafe(ref rx, (nuint)j) * Vector256.LoadUnsafe(ref rh, (nuint)j);
            for (int l = 0; l < 8; l++) sum += acc.GetElement(l);
        }
        for (; j < n; j++) sum += x[j] * h[j];
        return sum;
    }
}
