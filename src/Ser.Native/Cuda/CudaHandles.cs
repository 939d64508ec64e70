using System.Runtime.InteropServices;

namespace Ser.Native;

// SafeHandles for the CUDA driver objects we own. Each remembers the context it was made in and makes
// that context current while it is destroyed, so a release from the finalizer thread (which has no
// current context) still reaches the right context. Release failures are reported to the runtime by
// returning false, never thrown: a dying context frees everything anyway.

/// <summary>Makes a context current for a scope (push/pop), for releases on threads that have none.</summary>
internal readonly struct CudaContextScope : IDisposable
{
    readonly bool _pushed;

    public CudaContextScope(nint context) =>
        _pushed = context != 0 && CudaNative.cuCtxPushCurrent_v2(context) == CudaResult.Success;

    public unsafe void Dispose()
    {
        if (_pushed)
        {
            nint popped;
            CudaNative.cuCtxPopCurrent_v2(&popped);
        }
    }

    public static unsafe nint Current()
    {
        nint ctx = 0;
        return CudaNative.cuCtxGetCurrent(&ctx) == CudaResult.Success ? ctx : 0;
    }
}

/// <summary>A context pushed by <see cref="CudaPrimaryContext.Push"/>; disposing pops it (checked, like every driver call).</summary>
public readonly struct CudaContextPush : IDisposable
{
    readonly bool _pushed;

    internal CudaContextPush(bool pushed) => _pushed = pushed;

    public unsafe void Dispose()
    {
        if (!_pushed) return;
        nint popped;
        CudaDriver.Check(CudaNative.cuCtxPopCurrent_v2(&popped));
    }
}

/// <summary>A retained primary context of one device (released with cuDevicePrimaryCtxRelease_v2).</summary>
public sealed class CudaPrimaryContext : NativeHandle
{
    CudaPrimaryContext(nint ctx, int device) : base(ctx) => Device = device;

    public int Device { get; }

    public static unsafe CudaPrimaryContext Retain(int device)
    {
        nint ctx;
        CudaDriver.Check(CudaNative.cuDevicePrimaryCtxRetain(&ctx, device));
        return new CudaPrimaryContext(ctx, device);
    }

    /// <summary>Makes this context current on the calling thread (each thread that issues work needs it).</summary>
    public void MakeCurrent() => CudaDriver.Check(CudaNative.cuCtxSetCurrent(Value));

    /// <summary>
    /// Pushes this context on the calling thread's context stack until the scope is disposed (cuCtxPushCurrent_v2 /
    /// cuCtxPopCurrent_v2), so the thread gets back whatever it had current before, or none. For work that may run on
    /// any thread, such as a Dispose: the driver fails a call on a thread without a current context with
    /// CUDA_ERROR_INVALID_CONTEXT.
    /// </summary>
    public CudaContextPush Push()
    {
        CudaDriver.Check(CudaNative.cuCtxPushCurrent_v2(Value));
        return new CudaContextPush(pushed: true);
    }

    protected override bool ReleaseHandle() => CudaNative.cuDevicePrimaryCtxRelease_v2(Device) == CudaResult.Success;
}

/// <summary>A CUstream.</summary>
public sealed class CudaStream : NativeHandle
{
    readonly nint _context;

    CudaStream(nint stream, nint context) : base(stream) => _context = context;

    /// <summary>A stream of the current context; non-blocking so it never waits on the legacy default stream.</summary>
    public static unsafe CudaStream Create(uint flags = CudaNative.StreamNonBlocking)
    {
        nint s;
        CudaDriver.Check(CudaNative.cuStreamCreate(&s, flags));
        return new CudaStream(s, CudaContextScope.Current());
    }

    public void Synchronize() => CudaDriver.Check(CudaNative.cuStreamSynchronize(Value));

    protected override bool ReleaseHandle()
    {
        using var scope = new CudaContextScope(_context);
        return CudaNative.cuStreamDestroy_v2(handle) == CudaResult.Success;
    }
}

/// <summary>A CUevent (timing enabled unless asked otherwise).</summary>
public sealed class CudaEvent : NativeHandle
{
    readonly nint _context;

    CudaEvent(nint e, nint context) : base(e) => _context = context;

    public static unsafe CudaEvent Create(uint flags = CudaNative.EventDefault)
    {
        nint e;
        CudaDriver.Check(CudaNative.cuEventCreate(&e, flags));
        return new CudaEvent(e, CudaContextScope.Current());
    }

    public void Record(CudaStream stream) => CudaDriver.Check(CudaNative.cuEventRecord(Value, stream.Value));

    public void Synchronize() => CudaDriver.Check(CudaNative.cuEventSynchronize(Value));

    /// <summary>Milliseconds between two recorded events (waits for <paramref name="end"/>).</summary>
    public static unsafe float ElapsedMilliseconds(CudaEvent start, CudaEvent end)
    {
        end.Synchronize();
        float ms;
        CudaDriver.Check(CudaNative.cuEventElapsedTime(&ms, start.Value, end.Value));
        return ms;
    }

    protected override bool ReleaseHandle()
    {
        using var scope = new CudaContextScope(_context);
        return CudaNative.cuEventDestroy_v2(handle) == CudaResult.Success;
    }
}

/// <summary>A loaded CUmodule (CUBIN or PTX image).</summary>
public sealed class CudaModule : NativeHandle
{
    readonly nint _context;

    CudaModule(nint module, nint context) : base(module) => _context = context;

    public static unsafe CudaModule Load(ReadOnlySpan<byte> image)
    {
        // PTX must be NUL-terminated; a CUBIN carries its own size. One trailing zero suits both.
        byte[] copy = new byte[image.Length + 1];
        image.CopyTo(copy);
        nint m;
        fixed (byte* p = copy)
            CudaDriver.Check(CudaNative.cuModuleLoadData(&m, p));
        return new CudaModule(m, CudaContextScope.Current());
    }

    /// <summary>The CUfunction of an extern "C" kernel; valid while this module lives.</summary>
    public unsafe nint GetFunction(string name)
    {
        byte[] utf8 = System.Text.Encoding.UTF8.GetBytes(name + "\0");
        nint f;
        fixed (byte* p = utf8)
            CudaDriver.Check(CudaNative.cuModuleGetFunction(&f, Value, p));
        return f;
    }

    protected override bool ReleaseHandle()
    {
        using var scope = new CudaContextScope(_context);
        return CudaNative.cuModuleUnload(handle) == CudaResult.Success;
    }
}

/// <summary>Device memory from cuMemAlloc_v2: <see cref="Pointer"/> is the CUdeviceptr.</summary>
public sealed class CudaDeviceMemory : NativeHandle
{
    readonly nint _context;

    CudaDeviceMemory(ulong pointer, long bytes, nint context) : base((nint)pointer)
    {
        Bytes = bytes;
        _context = context;
    }

    public long Bytes { get; }

    public ulong Pointer => (ulong)Value;

    public static unsafe CudaDeviceMemory Allocate(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        ulong p;
        CudaDriver.Check(CudaNative.cuMemAlloc_v2(&p, (nuint)bytes));
        return new CudaDeviceMemory(p, bytes, CudaContextScope.Current());
    }

    public static CudaDeviceMemory Allocate<T>(long count) where T : unmanaged =>
        Allocate(checked(count * System.Runtime.CompilerServices.Unsafe.SizeOf<T>()));

    /// <summary>Host → device on a stream. Managed memory is pageable, so the call returns once the data is staged.</summary>
    public unsafe void CopyFrom<T>(ReadOnlySpan<T> source, CudaStream stream, long byteOffset = 0) where T : unmanaged
    {
        long bytes = (long)source.Length * sizeof(T);
        CheckRange(byteOffset, bytes);
        fixed (T* p = source)
            CudaDriver.Check(CudaNative.cuMemcpyHtoDAsync_v2(Pointer + (ulong)byteOffset, p, (nuint)bytes, stream.Value));
    }

    /// <summary>Device → host on a stream, then waits for the stream so the data is there when this returns.</summary>
    public unsafe void CopyTo<T>(Span<T> destination, CudaStream stream, long byteOffset = 0) where T : unmanaged
    {
        long bytes = (long)destination.Length * sizeof(T);
        CheckRange(byteOffset, bytes);
        fixed (T* p = destination)
        {
            CudaDriver.Check(CudaNative.cuMemcpyDtoHAsync_v2(p, Pointer + (ulong)byteOffset, (nuint)bytes, stream.Value));
            stream.Synchronize();
        }
    }

    public void Clear(CudaStream stream) =>
        CudaDriver.Check(CudaNative.cuMemsetD8Async(Pointer, 0, (nuint)Bytes, stream.Value));

    void CheckRange(long offset, long bytes)
    {
        if (offset < 0 || bytes < 0 || offset + bytes > Bytes)
            throw new ArgumentOutOfRangeException(nameof(bytes), $"copy of {bytes} bytes at offset {offset} does not fit a {Bytes}-byte device buffer");
    }

    protected override bool ReleaseHandle()
    {
        using var scope = new CudaContextScope(_context);
        return CudaNative.cuMemFree_v2((ulong)handle) == CudaResult.Success;
    }
}

/// <summary>Page-locked host memory (cuMemAllocHost_v2): copies from it run at full bus speed and truly asynchronously.</summary>
public sealed unsafe class CudaHostMemory : NativeHandle
{
    readonly nint _context;

    CudaHostMemory(void* p, long bytes, nint context) : base((nint)p)
    {
        Bytes = bytes;
        _context = context;
    }

    public long Bytes { get; }

    public static CudaHostMemory Allocate(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        void* p;
        CudaDriver.Check(CudaNative.cuMemAllocHost_v2(&p, (nuint)bytes));
        return new CudaHostMemory(p, bytes, CudaContextScope.Current());
    }

    public Span<T> AsSpan<T>() where T : unmanaged => new((void*)Value, checked((int)(Bytes / sizeof(T))));

    protected override bool ReleaseHandle()
    {
        using var scope = new CudaContextScope(_context);
        return CudaNative.cuMemFreeHost((void*)handle) == CudaResult.Success;
    }
}

/// <summary>A captured CUgraph (the template; instantiate it to launch).</summary>
public sealed class CudaGraph : NativeHandle
{
    readonly nint _context;

    CudaGraph(nint graph, nint context) : base(graph) => _context = context;

    /// <summary>Starts recording the stream's work instead of running it (thread-local mode: other threads are unaffected).</summary>
    public static void BeginCapture(CudaStream stream, CudaStreamCaptureMode mode = CudaStreamCaptureMode.ThreadLocal) =>
        CudaDriver.Check(CudaNative.cuStreamBeginCapture_v2(stream.Value, mode));

    public static unsafe CudaGraph EndCapture(CudaStream stream)
    {
        nint g;
        CudaDriver.Check(CudaNative.cuStreamEndCapture(stream.Value, &g));
        return new CudaGraph(g, CudaContextScope.Current());
    }

    public unsafe CudaGraphExec Instantiate()
    {
        nint exec;
        CudaDriver.Check(CudaNative.cuGraphInstantiateWithFlags(&exec, Value, 0));
        return new CudaGraphExec(exec, _context);
    }

    protected override bool ReleaseHandle()
    {
        using var scope = new CudaContextScope(_context);
        return CudaNative.cuGraphDestroy(handle) == CudaResult.Success;
    }
}

/// <summary>An instantiated, launchable CUgraphExec.</summary>
public sealed class CudaGraphExec : NativeHandle
{
    readonly nint _context;

    internal CudaGraphExec(nint exec, nint context) : base(exec) => _context = context;

    public void Launch(CudaStream stream) => CudaDriver.Check(CudaNative.cuGraphLaunch(Value, stream.Value));

    protected override bool ReleaseHandle()
    {
        using var scope = new CudaContextScope(_context);
        return CudaNative.cuGraphExecDestroy(handle) == CudaResult.Success;
    }
}
