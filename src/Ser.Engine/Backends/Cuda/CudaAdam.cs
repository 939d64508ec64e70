using System.Numerics;
using Ser.Engine.Tensors;

namespace Ser.Engine.Backends.Cuda;

// Adam with optional decoupled weight decay (AdamW), element-wise, one kernel over the whole parameter arena
// (CpuAdam's formula and operation order, compiled without FMA contraction, so a step from the same state gives the
// same floats as the CPU):
//   g = grad * gradScale            (gradScale carries the grad-norm clip)
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//   p -= lr * (m / c1) / (sqrt(v / c2) + eps) + lr * wd * p      with c1 = 1 - b1^t, c2 = 1 - b2^t
internal sealed unsafe partial class CudaBackend<T>
{
    protected override void AdamUpdateCore(TensorView param, TensorView grad, TensorView m, TensorView v, in AdamStep step)
    {
        _device.MakeCurrent();
        ulong p = Ptr(param), g = Ptr(grad), mp = Ptr(m), vp = Ptr(v);
        long n = param.Elements;
        // The same float constants CpuAdam casts from the double step.
        float b1 = (float)step.Beta1, nb1 = (float)(1 - step.Beta1), b2 = (float)step.Beta2, nb2 = (float)(1 - step.Beta2);
        float ic1 = (float)(1 / step.Correction1), ic2 = (float)(1 / step.Correction2), eps = (float)step.Epsilon;
        float lr = (float)step.LearningRate, decay = (float)(step.LearningRate * step.WeightDecay), gs = (float)step.GradScale;
        void** args = stackalloc void*[] { &p, &g, &mp, &vp, &n, &b1, &nb1, &b2, &nb2, &ic1, &ic2, &eps, &lr, &decay, &gs };
        Launch(_k.Adam, n, args);
    }
}
