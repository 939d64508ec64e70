using System.Runtime.ExceptionServices;
using Ser.Engine.Features;
using Ser.Engine.Training;
using Ser.Native;

namespace Ser.Engine.Backends.Cuda;

/// <summary>
/// Feeds a GPU executor from audio kept on the GPU: the whole set's 16 kHz PCM is uploaded once when it fits (less
/// than <c>residentFraction</c> of the free device memory after the executor planned its own), and each batch's
/// features are computed on the GPU (<see cref="CudaFrontEnd"/>: framing, cuFFT, dB, per-bin normalisation) straight
/// into the executor's input. With <see cref="QueueTrainStep"/> a training step then moves no data between host and
/// GPU except a few hundred bytes of lengths/labels through pinned memory, and waits for nothing.
/// When the set does not fit, each batch's PCM is copied from the host through one pinned buffer instead
/// (<see cref="Resident"/> false); results are the same.
/// <code>
/// using var ex = Executor.Create(config, new ExecutorOptions { Device = "cuda", MaxBatch = 32, MaxFrames = maxFrames });
/// using var train = new CudaBatchSource(ex, pcm, labels, stats);         // stats: the training split's
/// foreach (int[] items in loader.Epoch(seed)) train.QueueTrainStep(items, classCounts);
/// var totals = ex.TakeQueuedTotals();                                     // one GPU synchronisation per epoch
/// </code>
/// Items are indices into the lists given to the constructor (a <see cref="Data.BatchLoader"/> over the same
/// utterance order yields them). Legend: B batch, L samples, T frames, F = 400 bins.
/// </summary>
public sealed unsafe class CudaBatchSource : IDisposable
{
    readonly Executor _executor;
    readonly CudaBackend<float> _backend;
    readonly CudaDevice _device;
    readonly CudaFrontEnd _frontEnd;
    readonly float[][] _pcm;
    readonly int[] _labels, _frames;
    readonly long[] _start;               // [N] sample offset of each utterance in the resident buffer
    readonly CudaDeviceMemory? _resident; // [sum L] every utterance back to back (null: streamed from the host)
    CudaDeviceMemory? _gather;            // [sum of the batch's L] this batch's samples back to back
    CudaHostMemory? _hostGather;          // pinned twin when streaming
    readonly CudaEvent _hostGatherDone;
    bool _hostGatherPending;
    int[] _batchLengths = new int[64], _batchLabels = new int[64], _frameStart = new int[65];
    long[] _sampleStart = new long[65];
    long _deviceBytes;
    bool _disposed;

    /// <param name="executor">A GPU executor (Device "cuda"); its model must take 400-bin features.</param>
    /// <param name="pcm">Every utterance's 16 kHz mono samples.</param>
    /// <param name="labels">Class index per utterance.</param>
    /// <param name="stats">Per-bin normalisation (the training split's mean/std; std floored as the CPU does).</param>
    /// <param name="residentFraction">Keep the audio on the GPU when it takes at most this share of the free memory.</param>
    public CudaBatchSource(Executor executor, IReadOnlyList<float[]> pcm, IReadOnlyList<int> labels, FeatureStats stats,
        double residentFraction = 0.5)
    {
        _backend = executor.Cuda ?? throw new SerException("the GPU batch source needs an executor on the GPU (--device cuda)");
        if (executor.Config.Bins != FrontEnd.Bins)
            throw new SerException($"the GPU front end makes {FrontEnd.Bins}-bin features, the model takes {executor.Config.Bins}");
        if (pcm.Count == 0) throw new SerException("the GPU batch source got no utterances");
        if (labels.Count != pcm.Count) throw new ArgumentException($"{labels.Count} labels for {pcm.Count} utterances", nameof(labels));
        if (stats.Bins != FrontEnd.Bins) throw new ArgumentException($"feature stats have {stats.Bins} bins, expected {FrontEnd.Bins}", nameof(stats));
        _executor = executor;
        _device = _backend.Device;
        _pcm = pcm.ToArray();
        _labels = labels.ToArray();
        foreach (int label in _labels)
            if ((uint)label >= (uint)executor.Config.Classes)
                throw new ArgumentOutOfRangeException(nameof(labels), $"label {label} outside 0..{executor.Config.Classes - 1}");
        _frames = _pcm.Select(p => CudaFrontEnd.FrameCount(p.Length)).ToArray();
        _start = new long[_pcm.Length];
        long total = 0;
        for (int i = 0; i < _pcm.Length; i++)
        {
            _start[i] = total;
            total += _pcm[i].Length;
        }
        TotalSamples = total;

        _device.MakeCurrent();
        // The CPU divides by max(std, floor); give the GPU the same divisor.
        var floored = new FeatureStats(stats.Mean, stats.Std.Select(s => Math.Max(s, FeatureStats.StdFloor)).ToArray());
        _frontEnd = new CudaFrontEnd(_device, floored);
        _hostGatherDone = CudaEvent.Create(CudaNative.EventDisableTiming);
        try
        {
            _frontEnd.ReserveChunks();
            _deviceBytes += _frontEnd.ChunkBytes;
            var (free, _) = _backend.MemoryInfo();
            long bytes = Math.Max(1, total) * sizeof(float);
            if (bytes <= residentFraction * free)
            {
                try
                {
                    _resident = CudaArena.AllocateDevice("resident audio", bytes);
                }
                catch (GpuOutOfMemoryException)
                {
                    _resident = null; // stream from the host instead
                }
            }
            if (_resident is not null)
            {
                _deviceBytes += _resident.Bytes;
                for (int i = 0; i < _pcm.Length; i++)
                    if (_pcm[i].Length > 0)
                        _backend.Staging.Upload(System.Runtime.InteropServices.MemoryMarshal.AsBytes(_pcm[i].AsSpan()),
                            _resident.Pointer + (ulong)(_start[i] * sizeof(float)));
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Utterances in the set.</summary>
    public int Count => _pcm.Length;

    /// <summary>Whether the audio lives on the GPU (else each batch is copied from the host).</summary>
    public bool Resident => _resident is not null;

    /// <summary>Samples in the set.</summary>
    public long TotalSamples { get; }

    /// <summary>Device bytes this source holds (resident audio, gather and front-end buffers).</summary>
    public long DeviceBytes => _deviceBytes;

    /// <summary>Frames of utterance <paramref name="item"/> (the front end's rule).</summary>
    public int Frames(int item) => _frames[item];

    /// <summary>Features of <paramref name="items"/> become the executor's next input; then one queued training step.</summary>
    public void QueueTrainStep(ReadOnlySpan<int> items, ReadOnlySpan<float> classCounts = default)
    {
        var (batch, frames) = Load(items);
        try
        {
            _executor.QueueLoadedTrainStep(classCounts);
        }
        catch (Exception e) when (GpuOutOfMemoryException.IsOutOfMemory(e))
        {
            throw new GpuOutOfMemoryException($"GPU out of memory training on batch size {batch} x {frames} frames ({e.Message}); use a smaller batch size", e);
        }
    }

    /// <summary>Forward only on these items: loss, accuracy, logits [B, K] copied out if given (waits for the GPU).</summary>
    public StepResult Evaluate(ReadOnlySpan<int> items, ReadOnlySpan<float> classCounts = default, Span<float> logits = default)
    {
        var (batch, _) = Load(items);
        return _executor.EvaluateLoaded(classCounts, _batchLabels.AsSpan(0, batch), logits);
    }

    /// <summary>Computes the items' features into the executor's input (queued); returns the batch shape (B, T).</summary>
    internal (int Batch, int Frames) Load(ReadOnlySpan<int> items)
    {
        int batch = items.Length;
        if (batch == 0) throw new ArgumentException("no items in the batch", nameof(items));
        if (_batchLengths.Length < batch)
        {
            _batchLengths = new int[2 * batch];
            _batchLabels = new int[2 * batch];
            _frameStart = new int[2 * batch + 1];
            _sampleStart = new long[2 * batch + 1];
        }
        int longest = 0;
        for (int b = 0; b < batch; b++)
        {
            int item = items[b];
            if ((uint)item >= (uint)_pcm.Length) throw new ArgumentOutOfRangeException(nameof(items), $"item {item} is not in the set (0..{_pcm.Length - 1})");
            _batchLengths[b] = _frames[item];
            _batchLabels[b] = _labels[item];
            _sampleStart[b + 1] = _sampleStart[b] + _pcm[item].Length;
            _frameStart[b + 1] = _frameStart[b] + _frames[item];
            longest = Math.Max(longest, _frames[item]);
        }
        try
        {
            // First: a larger batch re-plans the executor's arenas here, and the GPU work below needs the context.
            _device.MakeCurrent();
            var input = _executor.Graph.PrepareInput(batch, longest, _batchLengths.AsSpan(0, batch), _batchLabels.AsSpan(0, batch));
            ulong samples = Gather(items, _sampleStart[batch]);
            ulong sampleStart = _backend.Staging.Push<long>(_sampleStart.AsSpan(0, batch + 1));
            ulong frameStart = _backend.Staging.Push<int>(_frameStart.AsSpan(0, batch + 1));
            _frontEnd.ComputeStaged(samples, batch, sampleStart, frameStart, _frameStart[batch], CudaBackend<float>.Ptr(input), longest);
        }
        catch (Exception e) when (GpuOutOfMemoryException.IsOutOfMemory(e))
        {
            throw new GpuOutOfMemoryException($"GPU out of memory loading batch size {batch} x {longest} frames ({e.Message}); use a smaller batch size", e);
        }
        return (batch, longest);
    }

    /// <summary>The batch's samples back to back on the device (queued copies; no wait in steady state).</summary>
    ulong Gather(ReadOnlySpan<int> items, long samples)
    {
        _device.MakeCurrent();
        long bytes = Math.Max(1, samples) * sizeof(float);
        if (_gather is null || _gather.Bytes < bytes)
        {
            // Rare (a larger batch than before): queued work may still read the old buffer.
            _backend.Synchronize();
            if (_gather is not null) _deviceBytes -= _gather.Bytes;
            _gather?.Dispose();
            _gather = null;
            _gather = CudaArena.AllocateDevice("batch audio", Math.Max(bytes, 2 * bytes));
            _deviceBytes += _gather.Bytes;
        }
        var stream = _device.Stream;
        if (_resident is not null)
        {
            for (int b = 0; b < items.Length; b++)
            {
                long n = _pcm[items[b]].Length;
                if (n == 0) continue;
                CudaDriver.Check(CudaNative.cuMemcpyDtoDAsync_v2(_gather.Pointer + (ulong)(_sampleStart[b] * sizeof(float)),
                    _resident.Pointer + (ulong)(_start[items[b]] * sizeof(float)), (nuint)(n * sizeof(float)), stream.Value));
            }
            return _gather.Pointer;
        }
        // Streaming: one pinned buffer, refilled once its previous copy has run.
        if (_hostGatherPending) _hostGatherDone.Synchronize();
        if (_hostGather is null || _hostGather.Bytes < bytes)
        {
            _hostGather?.Dispose();
            _hostGather = null;
            _hostGather = CudaHostMemory.Allocate(2 * bytes);
        }
        float* host = (float*)_hostGather.Value;
        for (int b = 0; b < items.Length; b++)
            _pcm[items[b]].AsSpan().CopyTo(new Span<float>(host + _sampleStart[b], _pcm[items[b]].Length));
        CudaDriver.Check(CudaNative.cuMemcpyHtoDAsync_v2(_gather.Pointer, host, (nuint)(samples * sizeof(float)), stream.Value));
        _hostGatherDone.Record(stream);
        _hostGatherPending = true;
        return _gather.Pointer;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _device.MakeCurrent();
        // A failed wait means queued work failed: free everything, then say so rather than swallow it.
        NativeException? failed = null;
        try { _device.Synchronize(); } catch (NativeException e) { failed = e; }
        _frontEnd.Dispose();
        _resident?.Dispose();
        _gather?.Dispose();
        _hostGather?.Dispose();
        _hostGatherDone.Dispose();
        if (failed is not null) ExceptionDispatchInfo.Throw(failed);
    }
}
