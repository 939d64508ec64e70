using System.Numerics;
using Ser.Engine.Tensors;
using Ser.Native;

namespace Ser.Engine.Backends.Cuda;

/// <summary>When the loss of <see cref="Backend{T}.SoftmaxCrossEntropy"/> is read back on the GPU (CudaLoss.cs).</summary>
internal enum CudaLossMode { Read, Defer, Accumulate }

// Weighted softmax cross-entropy over logits [B, K] (CpuLoss's formula, in double), one kernel on one block. It also
// counts the correct argmax predictions (the CPU executor counts them on downloaded logits). Returning the loss is the
// one place a training step must wait for the GPU; LossMode moves or removes that wait:
//   Read        return the loss (waits);
//   Defer       return NaN at once; ReadLoss() fetches {loss, correct} later (TrainStep: once, at the end of the step);
//   Accumulate  return NaN at once and add {loss, correct, samples, 1} to device totals; TakeTotals reads them (epoch).
// Per-sample losses, when asked for, are always read (and waited for).
internal sealed unsafe partial class CudaBackend<T>
{
    CudaDeviceMemory? _lossSamples; // [capacity] double CE_b, then [capacity] int correct_b
    int _lossCapacity;

    public CudaLossMode LossMode { get; set; }

    /// <summary>Loss and correct predictions of the last loss computed (one host synchronisation).</summary>
    public (double Loss, int Correct) ReadLoss()
    {
        _device.MakeCurrent();
        var r = ReadScalars(LossResult, 2);
        return (r[0], (int)r[1]);
    }

    /// <summary>Steps, sum of their losses, correct predictions and samples accumulated since the last call; resets
    /// them. One host synchronisation.</summary>
    public (int Steps, double LossSum, int Correct, int Samples) TakeTotals()
    {
        _device.MakeCurrent();
        var t = ReadScalars(Totals, 4);
        var result = ((int)t[3], t[0], (int)t[1], (int)t[2]);
        CudaDriver.Check(CudaNative.cuMemsetD8Async(Scalar(Totals), 0, 4 * sizeof(double), _stream.Value));
        return result;
    }

    protected override double SoftmaxCrossEntropyCore(TensorView logits, ReadOnlySpan<int> labels, ReadOnlySpan<double> weights,
        double normalizer, TensorView dlogits, Span<double> perSample)
    {
        int batch = logits.Shape.D0, k = logits.Shape.D1;
        _device.MakeCurrent();
        EnsureLossCapacity(batch);
        ulong lg = Ptr(logits), lab = _staging.Push(labels), wts = _staging.Push(weights), dl = PtrOrNull(dlogits);
        ulong ce = _lossSamples!.Pointer, correct = ce + (ulong)(_lossCapacity * sizeof(double));
        ulong result = Scalar(LossResult), totals = LossMode == CudaLossMode.Accumulate ? Scalar(Totals) : 0;
        void** args = stackalloc void*[] { &lg, &lab, &wts, &dl, &ce, &correct, &result, &totals, &batch, &k, &normalizer };
        int threads = CudaKernels.SoftmaxThreads(batch);
        LaunchGrid(_k.SoftmaxCrossEntropy, new Dim3(1), new Dim3((uint)threads), args);
        if (!perSample.IsEmpty)
        {
            fixed (double* p = perSample)
                CudaDriver.Check(CudaNative.cuMemcpyDtoHAsync_v2(p, ce, (nuint)(batch * sizeof(double)), _stream.Value));
        }
        else if (LossMode != CudaLossMode.Read)
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
