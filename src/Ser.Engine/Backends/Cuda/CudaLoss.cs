using System.Numerics;
using Ser.Engine.Tensors;
using Ser.Native;

namespace Ser.Engine.Backends.Cuda;

// Weighted softmax cross-entropy over logits [B, K] (CpuLoss's formula, in double), one kernel on one block.
// Returning the loss is the one place a training step must wait for the GPU. With QueueLoss set, the kernel instead
// adds {loss, correct, samples, 1} to device totals and nothing waits; TakeTotals reads them once (e.g. per epoch).
internal sealed unsafe partial class CudaBackend<T>
{
    CudaDeviceMemory? _lossSamples; // [capacity] double CE_b, then [capacity] int correct_b
    int _lossCapacity;

    /// <summary>
    /// When true, <see cref="Backend{T}.SoftmaxCrossEntropy"/> queues its work, accumulates the loss and the number of
    /// correct argmax predictions on the device (<see cref="TakeTotals"/>) and returns NaN without waiting for the GPU
    /// (unless per-sample losses are asked for, which must be read).
    /// </summary>
    public bool QueueLoss { get; set; }

    /// <summary>Steps, sum of their losses, correct predictions and samples queued since the last call; resets them.
    /// One host synchronisation.</summary>
    public (int Steps, double LossSum, int Correct, int Samples) TakeTotals()
    {
        _device.MakeCurrent();
        var t = ReadScalars(Totals, 4);
        var result = ((int)t[3], t[0], (int)t[1], (int)t[2]);
        CudaDriver.Check(CudaNative.cuMemsetD8Async(Scalar(Totals), 0, 4 * sizeof(double), _stream.Value));
        return result;
    }

    protected override double SoftmaxCrossEntropyCore(TensorView logits, ReadOnlySpan<int> labels, ReadOnlySpan<double> weights,
        TensorView dlogits, Span<double> perSample)
    {
        int batch = logits.Shape.D0, k = logits.Shape.D1;
        double weightSum = 0;
        for (int b = 0; b < batch; b++) weightSum += weights[b];
        if (!(weightSum > 0)) throw new ArgumentException("loss weights must have a positive sum", nameof(weights));
        _device.MakeCurrent();
        EnsureLossCapacity(batch);
        ulong lg = Ptr(logits), lab = _staging.Push(labels), wts = _staging.Push(weights), dl = PtrOrNull(dlogits);
        ulong ce = _lossSamples!.Pointer, correct = ce + (ulong)(_lossCapacity * sizeof(double));
        ulong result = Scalar(LossResult), totals = QueueLoss ? Scalar(Totals) : 0;
        void** args = stackalloc void*[] { &lg, &lab, &wts, &dl, &ce, &correct, &result, &totals, &batch, &k };
        int threads = Math.Min(1024, (batch + 31) / 32 * 32);
        LaunchGrid(_k.SoftmaxCrossEntropy, new Dim3(1), new Dim3((uint)threads), args);
        if (!perSample.IsEmpty)
        {
            fixed (double* p = perSample)
                CudaDriver.Check(CudaNative.cuMemcpyDtoHAsync_v2(p, ce, (nuint)(batch * sizeof(double)), _stream.Value));
        }
        else if (QueueLoss)
        {
            return double.NaN;
        }
        return ReadScalars(LossResult, 1)[0]; // waits for the stream, so perSample has arrived too
    }

    void EnsureLossCapacity(int batch)
    {
        if (batch <= _lossCapacity) return;
        // Rare (a larger batch than before): queued kernels may still read the old buffer.
        _stream.Synchronize();
        if (_lossSamples is not null)
        {
            Account(-_lossSamples.Bytes);
            _lossSamples.Dispose();
            _lossSamples = null;
        }
        int capacity = Math.Max(batch, Math.Max(64, 2 * _lossCapacity));
        _lossSamples = CudaArena.AllocateDevice("loss scratch", (long)capacity * (sizeof(double) + sizeof(int)));
        Account(_lossSamples.Bytes);
        _lossCapacity = capacity;
    }

    void DisposeLoss() => _lossSamples?.Dispose();
}
