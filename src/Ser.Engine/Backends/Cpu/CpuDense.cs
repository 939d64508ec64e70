using System.Numerics;
using Ser.Engine.Tensors;

namespace Ser.Engine.Backends.Cpu;

// Dense layer: x [B, In], W [Out, In], b [Out], y [B, Out] = x W^T + b.
//   dW = dy^T x   [Out, In];  db = sum_b dy (in batch order);  dx = dy W  [B, In]
internal sealed unsafe partial class CpuBackend<T>
{
    protected override void DenseForwardCore(TensorView x, TensorView w, TensorView bias, TensorView y)
    {
        int batch = x.Shape.D0, inputs = x.Shape.D1, outputs = w.Shape.D0;
        T* yp = Ptr(y), bp = Ptr(bias);
        ParallelGemm(false, true, batch, outputs, inputs, Ptr(x), inputs, Ptr(w), inputs, yp, outputs, accumulate: false);
        for (int b = 0; b < batch; b++) AddTo(bp, yp + (long)b * outputs, outputs);
    }

    protected override void DenseBackwardCore(TensorView x, TensorView w, TensorView dy, TensorView dx, TensorView dw, TensorView dbias)
    {
        int batch = x.Shape.D0, inputs = x.Shape.D1, outputs = w.Shape.D0;
        T* dyp = Ptr(dy), db = Ptr(dbias);
        ParallelGemm(true, false, outputs, inputs, batch, dyp, outputs, Ptr(x), inputs, Ptr(dw), inputs, accumulate: false);
        new Span<T>(db, outputs).Clear();
        for (int b = 0; b < batch; b++) AddTo(dyp + (long)b * outputs, db, outputs);
        if (!dx.IsEmpty)
            ParallelGemm(false, false, batch, inputs, outputs, dyp, outputs, Ptr(w), inputs, Ptr(dx), inputs, accumulate: false);
    }
}
