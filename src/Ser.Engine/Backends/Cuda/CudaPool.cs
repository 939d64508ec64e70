using System.Numerics;
using Ser.Engine.Tensors;

namespace Ser.Engine.Backends.Cuda;

// Max pooling 2x2, stride 2, ceil mode, over valid frames only (CpuPool's semantics, our kernels):
// x [B, C, T, F] with lengths V_b -> y [B, C, ceil(T/2), ceil(F/2)]; output frame t' is the max over input frames
// {2t', 2t'+1} ∩ [0, V_b) and bins {2f', 2f'+1} ∩ [0, F); frames t' >= ceil(V_b/2) are 0. Backward routes each output's
// gradient to the window's FIRST maximum in (row, column) order - PyTorch's rule and the CPU's. cuDNN's pooling is not
// used: it knows neither per-sample lengths nor which of tied maxima PyTorch picks.
internal sealed unsafe partial class CudaBackend<T>
{
    protected override void PoolForwardCore(TensorView x, TensorView y, ReadOnlySpan<int> lengths)
    {
        _device.MakeCurrent();
        int c = x.Shape.D1, t = x.Shape.D2, f = x.Shape.D3, to = y.Shape.D2, fo = y.Shape.D3;
        ulong xp = Ptr(x), yp = Ptr(y), len = Lengths(lengths);
        long n = y.Elements;
        void** args = stackalloc void*[] { &xp, &yp, &len, &c, &t, &f, &to, &fo, &n };
        Launch(_k.PoolForward, n, args);
    }

    protected override void PoolBackwardCore(TensorView x, TensorView y, TensorView dy, TensorView dx, ReadOnlySpan<int> lengths)
    {
        _device.MakeCurrent();
        int c = x.Shape.D1, t = x.Shape.D2, f = x.Shape.D3, to = y.Shape.D2, fo = y.Shape.D3;
        ulong xp = Ptr(x), yp = Ptr(y), dyp = Ptr(dy), dxp = Ptr(dx), len = Lengths(lengths);
        long n = y.Elements; // one thread per window: every element of dx is written exactly once
        void** args = stackalloc void*[] { &xp, &yp, &dyp, &dxp, &len, &c, &t, &f, &to, &fo, &n };
        Launch(_k.PoolBackward, n, args);
    }
}
