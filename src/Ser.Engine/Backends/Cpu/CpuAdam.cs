using System.Numerics;
using System.Runtime.Intrinsics;
using Ser.Engine.Tensors;

namespace Ser.Engine.Backends.Cpu;

// Adam with optional decoupled weight decay (AdamW), element-wise, parallel over fixed chunks.
//   g = grad * gradScale            (gradScale carries the grad-norm clip)
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//   p -= lr * (m / c1) / (sqrt(v / c2) + eps) + lr * wd * p      with c1 = 1 - b1^t, c2 = 1 - b2^t
internal sealed unsafe partial class CpuBackend<T>
{
    T* _aP, _aG, _aM, _aV;
    long _aN;
    AdamStep _aStep;
    Action<int, int>? _adamBody;

    protected override void AdamUpdateCore(TensorView param, TensorView grad, TensorView m, TensorView v, in AdamStep step)
    {
        _aP = Ptr(param); _aG = Ptr(grad); _aM = Ptr(m); _aV = Ptr(v); _aN = param.Elements; _aStep = step;
        _adamBody ??= AdamItem;
        _pool.Run(_adamBody, (int)((_aN + ChunkElements - 1) / ChunkElements));
    }

    void AdamItem(int chunk, int worker)
    {
        long start = (long)chunk * ChunkElements;
        int n = (int)Math.Min(ChunkElements, _aN - start);
        T* p = _aP + start, g = _aG + start, m = _aM + start, v = _aV + start;
        ref readonly var s = ref _aStep;
        T b1 = Cast(s.Beta1), nb1 = Cast(1 - s.Beta1), b2 = Cast(s.Beta2), nb2 = Cast(1 - s.Beta2);
        T ic1 = Cast(1 / s.Correction1), ic2 = Cast(1 / s.Correction2), eps = Cast(s.Epsilon);
        T lr = Cast(s.LearningRate), decay = Cast(s.LearningRate * s.WeightDecay), gs = Cast(s.GradScale);
        int L = Vector256<T>.Count, i = 0;
        for (; i + L <= n; i += L)
        {
            var gi = Vector256.Load(g + i) * gs;
            var mi = Vector256.Load(m + i) * b1 + gi * nb1;
            var vi = Vector256.Load(v + i) * b2 + gi * gi * nb2;
            var pi = Vector256.Load(p + i);
            var step = mi * ic1 / (Vector256.Sqrt(vi * ic2) + Vector256.Create(eps));
            pi = pi - step * lr - pi * decay;
            Vector256.Store(mi, m + i);
            Vector256.Store(vi, v + i);
            Vector256.Store(pi, p + i);
        }
        for (; i < n; i++)
        {
            T gi = g[i] * gs;
            T mi = m[i] * b1 + gi * nb1;
            T vi = v[i] * b2 + gi * gi * nb2;
            T step = mi * ic1 / (T.Sqrt(vi * ic2) + eps);
            p[i] = p[i] - step * lr - p[i] * decay;
            m[i] = mi;
            v[i] = vi;
        }
    }
}
