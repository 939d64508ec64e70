using System.Numerics;
using Ser.Engine.Tensors;

namespace Ser.Engine.Backends.Cuda;

// Maps [B, C, T, F] <-> sequence [B, T, C*F] (feature index c*F + f, channel-major), valid frames only; padded frames
// of the destination are zeros. One thread per destination element (CpuSequence's semantics).
internal sealed unsafe partial class CudaBackend<T>
{
    protected override void MapsToSequenceCore(TensorView maps, TensorView sequence, ReadOnlySpan<int> lengths)
    {
        _device.MakeCurrent();
        int c = maps.Shape.D1, t = maps.Shape.D2, f = maps.Shape.D3;
        ulong m = Ptr(maps), s = Ptr(sequence), len = Lengths(lengths);
        long n = sequence.Elements;
        void** args = stackalloc void*[] { &m, &s, &len, &c, &t, &f, &n };
        Launch(_k.MapsToSequence, n, args);
    }

    protected override void SequenceToMapsCore(TensorView sequence, TensorView maps, ReadOnlySpan<int> lengths)
    {
        _device.MakeCurrent();
        int c = maps.Shape.D1, t = maps.Shape.D2, f = maps.Shape.D3;
        ulong s = Ptr(sequence), m = Ptr(maps), len = Lengths(lengths);
        long n = maps.Elements;
        void** args = stackalloc void*[] { &s, &m, &len, &c, &t, &f, &n };
        Launch(_k.SequenceToMaps, n, args);
    }
}
