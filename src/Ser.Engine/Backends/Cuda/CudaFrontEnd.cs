using System.Runtime.InteropServices;
using Ser.Engine.Features;
using Ser.Native;

namespace Ser.Engine.Backends.Cuda;

/// <summary>
/// The paper's spectrogram front end on the GPU, for a whole length-sorted batch at once; the same
/// numbers as the CPU front end (<see cref="FrontEnd"/>) within float rounding.
///   frames      T_b = 1 + floor((L_b - 640) / 160), at least 1
///   window      w[n] = 0.54 - 0.46 cos(2 pi n / 639), n = 0..639 (symmetric Hamming, 40 ms)
///   frame t     x[n] = pcm[t*160 + n] * w[n] for n < 640 (0 past the sample's end), 0 for 640 <= n < 1600
///   spectrum    X = R2C DFT of length 1600 (cuFFT, batched over every frame of the batch), 10 Hz bins
///   features    ((10 log10(max(|X[f]|^2, 1e-10))) - mean[f]) / std[f], f = 0..399 (0..3990 Hz)
/// Output [B, T, F] with T = the longest T_b (or more) and zeros past each sample's own T_b.
/// Legend: B batch, L samples, T frames, F = 400 bins, D = 1600 DFT points, K = 801 complex bins.
/// Frames are packed (only valid frames are transformed) and processed in chunks of at most
/// <see cref="MaxChunkFrames"/> frames with one cuFFT plan per power-of-two chunk size. The plans are all made in the
/// constructor and share one work area: making a plan allocates (its work area, unless told not to) and so would
/// stall the stream if it happened mid-batch; the plans run in stream order, so one area serves them all.
/// Tolerance against the CPU front end: |Δ| ≤ 2e-3 dB on every bin within 50 dB of its frame's peak
/// (cuFFT and the CPU FFT round differently; weaker bins carry relatively more rounding).
/// </summary>
public sealed class CudaFrontEnd : IDisposable
{
    public const int MinChunkFrames = 256;

    readonly CudaDevice _device;
    readonly nint _frameWindow, _powerDb;
    readonly CudaDeviceMemory _window;      // [N]
    readonly CudaDeviceMemory _mean;        // [F]
    readonly CudaDeviceMemory _std;         // [F]
    readonly Dictionary<int, CufftPlan> _plans = new();    // chunk frames -> plan, every power of two up to MaxChunkFrames
    readonly CudaDeviceMemory? _fftWork;                    // [max WorkSize] bytes, shared by the plans
    CudaDeviceMemory? _frames;              // [chunk, D]
    CudaDeviceMemory? _spectrum;            // [chunk, K, 2]
    CudaDeviceMemory? _sampleStart;         // [B+1] long
    CudaDeviceMemory? _frameStart;          // [B+1] int

    /// <param name="stats">Per-bin mean/std to normalise with; null gives raw dB (mean 0, std 1).</param>
    /// <param name="maxChunkFrames">Largest number of frames transformed by one cuFFT call (a power of two).</param>
    public CudaFrontEnd(CudaDevice device, FeatureStats? stats = null, int maxChunkFrames = 8192)
    {
        if (maxChunkFrames < MinChunkFrames || (maxChunkFrames & (maxChunkFrames - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(maxChunkFrames), "must be a power of two of at least 256");
        float[] mean = stats?.Mean ?? new float[FrontEnd.Bins];
        float[] std = stats?.Std ?? Enumerable.Repeat(1f, FrontEnd.Bins).ToArray();
        if (mean.Length != FrontEnd.Bins || std.Length != FrontEnd.Bins)
            throw new ArgumentException($"feature stats must have {FrontEnd.Bins} bins", nameof(stats));
        _device = device;
        MaxChunkFrames = maxChunkFrames;
        var module = device.LoadModule(CudaFrontEndKernels.Set);
        _frameWindow = module.GetFunction(CudaFrontEndKernels.FrameWindow);
        _powerDb = module.GetFunction(CudaFrontEndKernels.PowerDb);
        _window = device.Upload<float>(Window());
        _mean = device.Upload<float>(mean);
        _std = device.Upload<float>(std);
        try
        {
            long work = 0;
            foreach (int size in PlanSizes(maxChunkFrames))
            {
                var plan = CufftPlan.CreateR2CBatched(FrontEnd.DftSize, size, device.Stream, ownWorkArea: false);
                _plans[size] = plan;
                work = Math.Max(work, plan.WorkSize);
            }
            if (work > 0)
            {
                _fftWork = CudaArena.AllocateDevice("cuFFT work area", work);
                foreach (var plan in _plans.Values) plan.SetWorkArea(_fftWork.Pointer);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The chunk sizes that get a plan: 256, 512, ..., maxChunkFrames.</summary>
    internal static IEnumerable<int> PlanSizes(int maxChunkFrames)
    {
        for (int size = MinChunkFrames; size <= maxChunkFrames; size <<= 1)
            yield return size;
    }

    public int MaxChunkFrames { get; }

    /// <summary>Frames for L samples: the CPU front end's rule (one definition for both).</summary>
    public static int FrameCount(int samples) => FrontEnd.FrameCount(samples);

    /// <summary>The CPU front end's symmetric Hamming window, uploaded as is so both sides use the same floats.</summary>
    public static float[] Window() => FrontEnd.Window.ToArray();

    /// <summary>
    /// Features of a batch already on the device: <paramref name="pcm"/> holds the samples back to back
    /// ([sum L_b] floats, sample b of length <paramref name="lengths"/>[b]); <paramref name="output"/>
    /// receives [B, frames, 400]. Work is queued on the device stream; synchronise before reading.
    /// </summary>
    public unsafe void Compute(ulong pcm, ReadOnlySpan<int> lengths, ulong output, int frames)
    {
        int batch = lengths.Length;
        if (batch == 0)
            throw new ArgumentException("the batch is empty", nameof(lengths));
        var sampleStart = new long[batch + 1];  // [B+1]
        var frameStart = new int[batch + 1];    // [B+1]
        int longest = 0;
        for (int b = 0; b < batch; b++)
        {
            if (lengths[b] < 0)
                throw new ArgumentException($"sample {b} has a negative length", nameof(lengths));
            int t = FrameCount(lengths[b]);
            longest = Math.Max(longest, t);
            sampleStart[b + 1] = sampleStart[b] + lengths[b];
            frameStart[b + 1] = checked(frameStart[b] + t);
        }
        if (frames < longest)
            throw new ArgumentOutOfRangeException(nameof(frames), $"the output has {frames} frames but the longest sample needs {longest}");

        _device.MakeCurrent();
        EnsureCapacity(ref _sampleStart, (batch + 1) * sizeof(long));
        EnsureCapacity(ref _frameStart, (batch + 1) * sizeof(int));
        // Through the device's pinned staging: a pageable copy would make the host wait for the stream first.
        _device.Staging.Upload(MemoryMarshal.AsBytes<long>(sampleStart), _sampleStart!.Pointer);
        _device.Staging.Upload(MemoryMarshal.AsBytes<int>(frameStart), _frameStart!.Pointer);
        ComputeStaged(pcm, batch, _sampleStart.Pointer, _frameStart.Pointer, frameStart[batch], output, frames);
    }

    /// <summary>
    /// <see cref="Compute(ulong, ReadOnlySpan{int}, ulong, int)"/> with the per-sample offsets already on the device
    /// (sampleStart [B+1] long, frameStart [B+1] int, <paramref name="totalFrames"/> = frameStart[B]): queues the work and
    /// returns without allocating or waiting (after <see cref="ReserveChunks"/>). The caller checked the arguments.
    /// </summary>
    internal void ComputeStaged(ulong pcm, int batch, ulong sampleStart, ulong frameStart, int totalFrames, ulong output, int frames)
    {
        _device.MakeCurrent();
        CudaDriver.Check(CudaNative.cuMemsetD32Async(output, 0, (nuint)((long)batch * frames * FrontEnd.Bins), _device.Stream.Value));
        for (int first = 0; first < totalFrames; first += MaxChunkFrames)
            ComputeChunk(pcm, batch, sampleStart, frameStart, output, frames, first, Math.Min(MaxChunkFrames, totalFrames - first));
    }

    /// <summary>Allocates the largest chunk buffers now, so later batches never reallocate (which waits for the GPU).</summary>
    internal void ReserveChunks()
    {
        _device.MakeCurrent();
        EnsureCapacity(ref _frames, (long)MaxChunkFrames * FrontEnd.DftSize * sizeof(float));
        EnsureCapacity(ref _spectrum, (long)MaxChunkFrames * (FrontEnd.DftSize / 2 + 1) * 2 * sizeof(float));
    }

    /// <summary>Device bytes of the chunk buffers.</summary>
    internal long ChunkBytes => (_frames?.Bytes ?? 0) + (_spectrum?.Bytes ?? 0);

    // Frames first..first+count-1 of the packed batch: window them, transform, write their features.
    unsafe void ComputeChunk(ulong pcm, int batch, ulong sampleStart, ulong frameStart, ulong output, int frames, int first, int count)
    {
        int planSize = PlanSize(count);
        EnsureCapacity(ref _frames, (long)planSize * FrontEnd.DftSize * sizeof(float));
        EnsureCapacity(ref _spectrum, (long)planSize * (FrontEnd.DftSize / 2 + 1) * 2 * sizeof(float));
        ulong framesPtr = _frames!.Pointer, spectrumPtr = _spectrum!.Pointer;
        ulong pcmPtr = pcm, sampleStartPtr = sampleStart, frameStartPtr = frameStart, windowPtr = _window.Pointer;
        ulong meanPtr = _mean.Pointer, stdPtr = _std.Pointer, outPtr = output;
        int batchArg = batch, framesArg = frames, firstArg = first, countArg = count;

        // Rows count..planSize-1 of the frame buffer hold stale data; their spectra are never read.
        void** frameArgs = stackalloc void*[] { &pcmPtr, &sampleStartPtr, &frameStartPtr, &windowPtr, &framesPtr, &batchArg, &firstArg, &countArg };
        _device.Launch(_frameWindow, new Dim3((uint)count), new Dim3(256), frameArgs);
        Plan(planSize).ExecR2C(framesPtr, spectrumPtr);
        void** powerArgs = stackalloc void*[] { &spectrumPtr, &frameStartPtr, &meanPtr, &stdPtr, &outPtr, &batchArg, &framesArg, &firstArg, &countArg };
        _device.Launch(_powerDb, new Dim3((uint)count), new Dim3(128), powerArgs);
    }

    /// <summary>
    /// Host convenience: uploads the utterances, computes, and returns [B, T, 400] with T the longest
    /// frame count (zeros past each utterance's frames). Waits for the GPU.
    /// </summary>
    public float[] Compute(IReadOnlyList<float[]> utterances, out int frames)
    {
        int[] lengths = utterances.Select(u => u.Length).ToArray();
        frames = lengths.Length == 0 ? 0 : lengths.Max(FrameCount);
        long samples = lengths.Sum(l => (long)l);
        var pcm = new float[Math.Max(1, samples)];
        long at = 0;
        foreach (var u in utterances)
        {
            u.CopyTo(pcm, at);
            at += u.Length;
        }
        long outCount = (long)lengths.Length * frames * FrontEnd.Bins;
        using var devicePcm = _device.Upload<float>(pcm);
        using var deviceOut = _device.Allocate<float>(Math.Max(1, outCount));
        Compute(devicePcm.Pointer, lengths, deviceOut.Pointer, frames);
        return _device.Download<float>(deviceOut, checked((int)outCount));
    }

    int PlanSize(int count) => PlanSize(count, MaxChunkFrames);

    /// <summary>The plan for a chunk of <paramref name="count"/> frames: the smallest power of two of at least 256 that
    /// holds it (one of <see cref="PlanSizes"/>), so a handful of plans serve every batch.</summary>
    internal static int PlanSize(int count, int maxChunkFrames)
    {
        int size = MinChunkFrames;
        while (size < count)
            size <<= 1;
        return Math.Min(size, maxChunkFrames);
    }

    CufftPlan Plan(int size) => _plans[size]; // made in the constructor

    void EnsureCapacity(ref CudaDeviceMemory? buffer, long bytes)
    {
        if (buffer is not null && buffer.Bytes >= bytes)
            return;
        // The old buffer may still be read by queued work: wait before freeing it.
        if (buffer is not null)
        {
            _device.Synchronize();
            buffer.Dispose();
        }
        buffer = CudaDeviceMemory.Allocate(bytes);
    }

    public void Dispose()
    {
        _device.MakeCurrent();
        foreach (var plan in _plans.Values)
            plan.Dispose();
        _plans.Clear();
        _fftWork?.Dispose();
        _frames?.Dispose();
        _spectrum?.Dispose();
        _sampleStart?.Dispose();
        _frameStart?.Dispose();
        _window.Dispose();
        _mean.Dispose();
        _std.Dispose();
    }
}
