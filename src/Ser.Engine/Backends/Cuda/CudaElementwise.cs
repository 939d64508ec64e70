using System.Numerics;
using Ser.Engine.Tensors;

namespace Ser.Engine.Backends.Cuda;

// Bias gradient, ReLU, mask, dropout over maps [B, C, T, F] (valid frames t < lengths[b] only) or flat tensors, and
// the reductions and scaling of gradient clipping. One kernel launch each (CudaKernels); mirrors CpuElementwise.
internal sealed unsafe partial class CudaBackend<T>
{
    /// <summary>(C, T, F) of maps [B, C, T, F], or (1, 1, N) for a flat tensor of N elements.</summary>
    static (int C, int T, int F) Planes(TensorView x) =>
        x.Shape.Rank == 4 ? (x.Shape.D1, x.Shape.D2, x.Shape.D3) : (1, 1, checked((int)x.Elements));

    void LaunchMaps(nint function, TensorView x, ulong second, ReadOnlySpan<int> lengths, bool secondFirst = false)
    {
        _device.MakeCurrent();
        var (c, t, f) = Planes(x);
        ulong xp = Ptr(x), len = lengths.IsEmpty ? 0 : Lengths(lengths);
        long n = x.Elements;
        // Kernels take (y, dy, len, ...) or (x, len, ...): "second" is the other tensor when there is one.
        if (second == 0)
        {
            void** args = stackalloc void*[] { &xp, &len, &c, &t, &f, &n };
            Launch(function, n, args);
        }
        else if (secondFirst)
        {
            void** args = stackalloc void*[] { &second, &xp, &len, &c, &t, &f, &n };
            Launch(function, n, args);
        }
        else
        {
            void** args = stackalloc void*[] { &xp, &second, &len, &c, &t, &f, &n };
            Launch(function, n, args);
        }
    }

    protected override void ReluForwardCore(TensorView x, ReadOnlySpan<int> lengths) => LaunchMaps(_k.Relu, x, 0, lengths);

    protected override void ReluBackwardCore(TensorView y, TensorView dy, ReadOnlySpan<int> lengths) =>
        LaunchMaps(_k.ReluBackward, y, Ptr(dy), lengths);

    protected override void MaskCore(TensorView x, ReadOnlySpan<int> lengths) => LaunchMaps(_k.Mask, x, 0, lengths);

    /// <summary>Zeroes frames t &gt;= lengths[b] of a [B, C, T, F] tensor or a [B, T, I] sequence, in place.</summary>
    void MaskInPlace(ulong x, ulong len, int batch, int c, int t, int f)
    {
        long n = (long)batch * c * t * f;
        void** args = stackalloc void*[] { &x, &len, &c, &t, &f, &n };
        Launch(_k.Mask, n, args);
    }

    protected override void BiasBackwardCore(TensorView dy, TensorView dbias, ReadOnlySpan<int> lengths, TensorView workspace)
    {
        int batch = dy.Shape.D0, channels = dy.Shape.D1, t = dy.Shape.D2, f = dy.Shape.D3;
        if (workspace.IsEmpty || workspace.Elements < (long)batch * channels) throw new ArgumentException("bias backward: workspace too small");
        _device.MakeCurrent();
        ulong dyp = Ptr(dy), partial = Ptr(workspace), db = Ptr(dbias), len = Lengths(lengths);
        // stage 1: partial [B, C], one block of 256 per (c, b); stage 2: sum over b in order
        void** a1 = stackalloc void*[] { &dyp, &len, &partial, &channels, &t, &f };
        LaunchGrid(_k.BiasPartial, new Dim3((uint)channels, (uint)batch), new Dim3(CudaKernels.ReductionThreads), a1);
        void** a2 = stackalloc void*[] { &partial, &db, &batch, &channels };
        LaunchGrid(_k.BiasSum, new Dim3((uint)((channels + Threads - 1) / Threads)), new Dim3(Threads), a2);
    }

    // ---- dropout: the CPU's counter-based hash (CpuBackend.DropoutKeeps), so both draw the same mask ---------------

    protected override void DropoutForwardCore(TensorView x, TensorView y, TensorView mask, double p, ulong seed)
    {
        _device.MakeCurrent();
        ulong xp = Ptr(x), yp = Ptr(y), mp = Ptr(mask), threshold = (ulong)(p * (1 << 24));
        float scale = (float)(1.0 / (1.0 - p));
        long n = x.Elements;
        void** args = stackalloc void*[] { &xp, &yp, &mp, &n, &seed, &threshold, &scale };
        Launch(_k.DropoutForward, n, args);
    }

    protected override void DropoutBackwardCore(TensorView dy, TensorView mask, TensorView dx)
    {
        _device.MakeCurrent();
        ulong d = Ptr(dy), m = Ptr(mask), o = Ptr(dx);
        long n = dy.Elements;
        void** args = stackalloc void*[] { &d, &m, &o, &n };
        Launch(_k.DropoutBackward, n, args);
    }

    // ---- reductions and scaling (gradient clipping) ---------------------------------------------------------------

    /// <summary>Queues the sum of squares of t into device scalar slot <see cref="SumSquares"/> (fixed order).</summary>
    void QueueSumOfSquares(TensorView t)
    {
        _device.MakeCurrent();
        ulong x = Ptr(t), partial = Scalar(Partials), result = Scalar(SumSquares);
        long n = t.Elements;
        int count = CudaKernels.SumSquaresBlocks;
        void** a1 = stackalloc void*[] { &x, &n, &partial };
        LaunchGrid(_k.SumSquaresPartial, new Dim3((uint)count), new Dim3(CudaKernels.ReductionThreads), a1);
        void** a2 = stackalloc void*[] { &partial, &count, &result };
        LaunchGrid(_k.SumFinal, new Dim3(1), new Dim3(1), a2);
    }

    /// <summary>Reads the value back: one host synchronisation (gradient clipping pays it once per step).</summary>
    protected override double SumOfSquaresCore(TensorView t)
    {
        QueueSumOfSquares(t);
        return ReadScalars(SumSquares, 1)[0];
    }

    protected override void ScaleCore(TensorView t, double factor)
    {
        _device.MakeCurrent();
        ulong x = Ptr(t);
        float f = (float)factor;
        long n = t.Elements;
        void** args = stackalloc void*[] { &x, &f, &n };
        Launch(_k.Scale, n, args);
    }
}
