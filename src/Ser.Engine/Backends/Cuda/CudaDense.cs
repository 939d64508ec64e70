using System.Numerics;
using Ser.Engine.Tensors;
using Ser.Native;

namespace Ser.Engine.Backends.Cuda;

// Dense layer through cuBLAS: x [B, In], W [Out, In], b [Out], y [B, Out] = x W^T + b.
//   dW = dy^T x   [Out, In];  db = sum_b dy (our kernel, batch order like the CPU);  dx = dy W  [B, In]
// cuBLAS is column-major: a row-major [r, c] matrix is a column-major [c, r] one with leading dimension c, so each
// row-major product C = A B is computed as the column-major C^T = B^T A^T (the usual transposition trick):
//   y^T  [Out, B]  = W [Out, In] (= op T of W's column-major [In, Out]) x^T [In, B]   -> Sgemm(T, N, Out, B, In)
//   dW^T [In, Out] = x^T [In, B] dy [B, Out] (= op T of dy's column-major [Out, B])   -> Sgemm(N, T, In, Out, B)
//   dx^T [In, B]   = W^T [In, Out] dy^T [Out, B]                                       -> Sgemm(N, N, In, B, Out)
internal sealed unsafe partial class CudaBackend<T>
{
    protected override void DenseForwardCore(TensorView x, TensorView w, TensorView bias, TensorView y)
    {
        _device.MakeCurrent();
        int batch = x.Shape.D0, inputs = x.Shape.D1, outputs = w.Shape.D0;
        float one = 1, zero = 0;
        Cublas.Check(CublasNative.cublasSgemm_v2(_cublas.Value, CublasOperation.T, CublasOperation.N, outputs, batch, inputs,
            &one, Ptr(w), inputs, Ptr(x), inputs, &zero, Ptr(y), outputs));
        ulong yp = Ptr(y), bp = Ptr(bias);
        long n = y.Elements;
        void** args = stackalloc void*[] { &yp, &bp, &outputs, &n };
        Launch(_k.AddRows, n, args);
    }

    protected override void DenseBackwardCore(TensorView x, TensorView w, TensorView dy, TensorView dx, TensorView dw, TensorView dbias)
    {
        _device.MakeCurrent();
        int batch = x.Shape.D0, inputs = x.Shape.D1, outputs = w.Shape.D0;
        float one = 1, zero = 0;
        Cublas.Check(CublasNative.cublasSgemm_v2(_cublas.Value, CublasOperation.N, CublasOperation.T, inputs, outputs, batch,
            &one, Ptr(x), inputs, Ptr(dy), outputs, &zero, Ptr(dw), inputs));
        ulong dyp = Ptr(dy), db = Ptr(dbias);
        void** args = stackalloc void*[] { &dyp, &db, &batch, &outputs };
        LaunchGrid(_k.ColumnSums, new Dim3((uint)((outputs + Threads - 1) / Threads)), new Dim3(Threads), args);
        if (!dx.IsEmpty)
            Cublas.Check(CublasNative.cublasSgemm_v2(_cublas.Value, CublasOperation.N, CublasOperation.N, inputs, batch, outputs,
                &one, Ptr(w), inputs, Ptr(dy), outputs, &zero, Ptr(dx), inputs));
    }
}
