using Ser.Native;

namespace Ser.Engine.Backends.Cuda;

/// <summary>Grid or block dimensions of a kernel launch.</summary>
public readonly record struct Dim3(uint X, uint Y = 1, uint Z = 1);

/// <summary>
/// One GPU as the engine uses it: its primary context (shared with cuBLAS/cuDNN/cuFFT, which use the
/// runtime API on the same context), one non-blocking work stream, and our own kernels compiled by
/// NVRTC through the on-disk <see cref="Native.KernelCache"/> and kept loaded per source.
/// Every method makes the context current on the calling thread first, so any thread may use it;
/// work from several threads is serialised by the one stream.
/// </summary>
public sealed class CudaDevice : IDisposable
{
    readonly Dictionary<string, CudaModule> _modules = new();
    readonly object _lock = new();
    string? _compilerVersion;
    int[]? _supportedArchitectures;

    CudaDevice(int ordinal, int device, CudaPrimaryContext context, string name, int major, int minor, long totalMemory, KernelCache cache)
    {
        Ordinal = ordinal;
        DeviceId = device;
        Context = context;
        Name = name;
        ComputeMajor = major;
        ComputeMinor = minor;
        TotalMemoryBytes = totalMemory;
        KernelCache = cache;
        Context.MakeCurrent();
        Stream = CudaStream.Create();
        try
        {
            Staging = new CudaStaging(Stream);
        }
        catch
        {
            Stream.Dispose();
            throw;
        }
    }

    /// <summary>Opens GPU <paramref name="ordinal"/>; throws <see cref="NativeException"/> with the reason when there is none.</summary>
    public static unsafe CudaDevice Open(int ordinal = 0, KernelCache? cache = null)
    {
        CudaDriver.Check(CudaNative.cuInit(0));
        int count;
        CudaDriver.Check(CudaNative.cuDeviceGetCount(&count));
        if (ordinal < 0 || ordinal >= count)
            throw new NativeException($"GPU {ordinal} does not exist: the driver reports {count} CUDA device(s)");
        int dev, major, minor;
        CudaDriver.Check(CudaNative.cuDeviceGet(&dev, ordinal));
        byte* name = stackalloc byte[256];
        CudaDriver.Check(CudaNative.cuDeviceGetName(name, 256, dev));
        nuint bytes;
        CudaDriver.Check(CudaNative.cuDeviceTotalMem_v2(&bytes, dev));
        CudaDriver.Check(CudaNative.cuDeviceGetAttribute(&major, CudaDeviceAttribute.ComputeCapabilityMajor, dev));
        CudaDriver.Check(CudaNative.cuDeviceGetAttribute(&minor, CudaDeviceAttribute.ComputeCapabilityMinor, dev));
        var context = CudaPrimaryContext.Retain(dev);
        try
        {
            string text = System.Runtime.InteropServices.Marshal.PtrToStringUTF8((nint)name) ?? "?";
            return new CudaDevice(ordinal, dev, context, text, major, minor, (long)bytes, cache ?? new KernelCache());
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    public int Ordinal { get; }
    /// <summary>The CUdevice.</summary>
    public int DeviceId { get; }
    public string Name { get; }
    public int ComputeMajor { get; }
    public int ComputeMinor { get; }
    public long TotalMemoryBytes { get; }
    public CudaPrimaryContext Context { get; }
    /// <summary>The stream all of this device's work goes to.</summary>
    public CudaStream Stream { get; }
    public KernelCache KernelCache { get; }

    /// <summary>
    /// Page-locked staging for every host-to-device copy on <see cref="Stream"/> (this device's uploads, the CUDA
    /// backend's, the front end's). A copy from pageable memory can make the host wait for the stream (CUDA driver API,
    /// "API synchronization behavior", asynchronous memcpy: "If pageable memory must first be staged to pinned memory,
    /// the driver may synchronize with the stream and stage the copy into pinned memory"). Not thread-safe: <see cref="Upload{T}"/> takes the device lock; the backend and the front end use
    /// it from the one thread that drives them.
    /// </summary>
    internal CudaStaging Staging { get; }

    /// <summary>NVRTC's target for this GPU: sm_XY (CUBIN) or compute_XY (PTX) when NVRTC is older than the GPU.</summary>
    public string KernelTarget
    {
        get
        {
            _supportedArchitectures ??= NvrtcCompiler.SupportedArchitectures();
            return NvrtcCompiler.TargetFor(ComputeMajor, ComputeMinor, _supportedArchitectures);
        }
    }

    /// <summary>Makes this device's context current on the calling thread.</summary>
    public void MakeCurrent() => Context.MakeCurrent();

    public CudaDeviceMemory Allocate<T>(long count) where T : unmanaged
    {
        MakeCurrent();
        return CudaDeviceMemory.Allocate<T>(count);
    }

    /// <summary>Copies host data to a new device buffer on the work stream, through the pinned <see cref="Staging"/>
    /// (queued: the host does not wait for the GPU, and may reuse <paramref name="data"/> at once).</summary>
    public CudaDeviceMemory Upload<T>(ReadOnlySpan<T> data) where T : unmanaged
    {
        var buffer = Allocate<T>(Math.Max(1, data.Length));
        try
        {
            lock (_lock)
                Staging.Upload(System.Runtime.InteropServices.MemoryMarshal.AsBytes(data), buffer.Pointer);
        }
        catch
        {
            buffer.Dispose();
            throw;
        }
        return buffer;
    }

    /// <summary>Copies a device buffer back (waits for the stream).</summary>
    public T[] Download<T>(CudaDeviceMemory buffer, int count) where T : unmanaged
    {
        MakeCurrent();
        var data = new T[count];
        buffer.CopyTo<T>(data, Stream);
        return data;
    }

    public void Synchronize()
    {
        MakeCurrent();
        Stream.Synchronize();
    }

    /// <summary>The module of one of our kernel sets, compiled with that set's options.</summary>
    internal CudaModule LoadModule(CudaKernelSet set) => LoadModule(set.Source, set.ProgramName, [.. set.Options]);

    /// <summary>
    /// The module compiled from <paramref name="source"/> (extern "C" kernels), compiled once per process
    /// and once per machine thanks to the disk cache. A cached image the driver refuses is recompiled.
    /// </summary>
    public CudaModule LoadModule(string source, string programName, params string[] options)
    {
        lock (_lock)
        {
            MakeCurrent();
            string target = KernelTarget;
            _compilerVersion ??= NvrtcCompiler.Version();
            string key = KernelCache.Key(source, options, target, _compilerVersion);
            if (_modules.TryGetValue(key, out var loaded))
                return loaded;
            KernelImage Compile() => NvrtcCompiler.Compile(source, programName, target, options);
            KernelImage image = KernelCache.GetOrCompile(source, options, target, _compilerVersion, Compile);
            CudaModule module;
            try
            {
                module = CudaModule.Load(image.Image);
            }
            catch (CudaException) when (image.FromCache)
            {
                // A cached image the driver refuses (damaged file, other driver): rebuild it once.
                KernelCache.Evict(source, options, target, _compilerVersion);
                module = CudaModule.Load(KernelCache.GetOrCompile(source, options, target, _compilerVersion, Compile).Image);
            }
            _modules[key] = module;
            return module;
        }
    }

    /// <summary>Launches a kernel on the work stream; <paramref name="args"/> holds one pointer per kernel parameter.</summary>
    public unsafe void Launch(nint function, Dim3 grid, Dim3 block, void** args, uint sharedBytes = 0)
    {
        MakeCurrent();
        CudaDriver.Check(CudaNative.cuLaunchKernel(function, grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z,
            sharedBytes, Stream.Value, args, null));
    }

    public void Dispose()
    {
        lock (_lock)
        {
            MakeCurrent();
            foreach (var module in _modules.Values)
                module.Dispose();
            _modules.Clear();
            Staging.Dispose();
            Stream.Dispose();
            Context.Dispose();
        }
    }
}
