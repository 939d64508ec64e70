using System.Numerics;
using Ser.Engine.Tensors;

namespace Ser.Engine.Backends.Cpu;

// Weighted softmax cross-entropy over logits [B, K]. Tiny, so one thread, accumulated in double.
internal sealed unsafe partial class CpuBackend<T>
{
    protected override double SoftmaxCrossEntropyCore(TensorView logits, ReadOnlySpan<int> labels, ReadOnlySpan<double> weights,
        double normalizer, TensorView dlogits, Span<double> perSample)
    {
        int batch = logits.Shape.D0, k = logits.Shape.D1;
        T* z = Ptr(logits);
        T* dz = dlogits.IsEmpty ? null : Ptr(dlogits);
        double loss = 0;
        for (int b = 0; b < batch; b++)
        {
            T* row = z + b * k;
            double max = double.NegativeInfinity;
            for (int j = 0; j < k; j++) max = Math.Max(max, double.CreateTruncating(row[j]));
            double sum = 0;
            for (int j = 0; j < k; j++) sum += Math.Exp(double.CreateTruncating(row[j]) - max);
            double logSum = Math.Log(sum) + max;
            double ce = logSum - double.CreateTruncating(row[labels[b]]);
            if (!perSample.IsEmpty) perSample[b] = ce;
            loss += weights[b] * ce;
            if (dz != null)
            {
                double scale = weights[b] / normalizer;
                for (int j = 0; j < k; j++)
                {
                    double p = Math.Exp(double.CreateTruncating(row[j]) - logSum);
                    dz[b * k + j] = T.CreateTruncating(scale * (p - (j == labels[b] ? 1.0 : 0.0)));
                }
            }
        }
        return loss / normalizer;
    }
}
