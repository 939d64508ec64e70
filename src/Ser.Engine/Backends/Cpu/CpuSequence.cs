using System.Numerics;
using Ser.Engine.Tensors;

namespace Ser.Engine.Backends.Cpu;

// Maps [B, C, T, F] <-> sequence [B, T, C*F] (feature index c*F + f, channel-major), valid frames only; padded frames of
// the destination are zeros. Parallel over samples.
internal sealed unsafe partial class CpuBackend<T>
{
    T* _sqMaps, _sqSeq;
    int _sqC, _sqT, _sqF;
    bool _sqToMaps;
    Action<int, int>? _sequenceBody;

    protected override void MapsToSequenceCore(TensorView maps, TensorView sequence, ReadOnlySpan<int> lengths) =>
        RunSequence(maps, sequence, lengths, toMaps: false);

    protected override void SequenceToMapsCore(TensorView sequence, TensorView maps, ReadOnlySpan<int> lengths) =>
        RunSequence(maps, sequence, lengths, toMaps: true);

    void RunSequence(TensorView maps, TensorView sequence, ReadOnlySpan<int> lengths, bool toMaps)
    {
        _sqMaps = Ptr(maps); _sqSeq = Ptr(sequence); _sqToMaps = toMaps;
        _sqC = maps.Shape.D1; _sqT = maps.Shape.D2; _sqF = maps.Shape.D3;
        Park(lengths);
        _sequenceBody ??= SequenceItem;
        _pool.Run(_sequenceBody, maps.Shape.D0);
    }

    void SequenceItem(int b, int worker)
    {
        int c = _sqC, t = _sqT, f = _sqF, valid = _len[b], width = c * f;
        T* maps = _sqMaps + (long)b * c * t * f;
        T* seq = _sqSeq + (long)b * t * width;
        for (int ch = 0; ch < c; ch++)
        {
            T* plane = maps + (long)ch * t * f;
            for (int r = 0; r < valid; r++)
            {
                var m = new Span<T>(plane + (long)r * f, f);
                var s = new Span<T>(seq + (long)r * width + ch * f, f);
                if (_sqToMaps) s.CopyTo(m); else m.CopyTo(s);
            }
            if (_sqToMaps) new Span<T>(plane + (long)valid * f, (t - valid) * f).Clear();
        }
        if (!_sqToMaps) new Span<T>(seq + (long)valid * width, (t - valid) * width).Clear();
    }
}
