using Ser.Engine.Tensors;
using Ser.Native;

namespace Ser.Engine.Backends.Cuda;

/// <summary>What a <see cref="CudaArena"/> needs from its device (the CUDA backend; tests substitute a fake that records
/// the calls): memory, the context it belongs to, and the stream that queues work on that memory.</summary>
internal interface IArenaDevice
{
    /// <summary>A block of <paramref name="bytes"/> cleared on the stream (queued); disposing the owner frees it.</summary>
    (ulong Pointer, IDisposable Owner) Allocate(string name, long bytes);

    /// <summary>Pushes the device's context on the calling thread until disposed.</summary>
    IDisposable PushContext();

    /// <summary>Waits for the stream; throws the driver's error when queued work failed.</summary>
    void Synchronize();
}

/// <summary>
/// Device arena: one cuMemAlloc block, cleared at allocation (like <see cref="Cpu.CpuArena{T}"/>) with an async memset
/// on the backend's stream. A tensor's device address is <see cref="Pointer"/> + offset * element size.
/// </summary>
internal sealed class CudaArena : Arena
{
    readonly IArenaDevice _device;
    readonly ulong _pointer;
    readonly IDisposable _memory;
    readonly Action<long>? _released;
    bool _disposed;

    public CudaArena(string name, long elements, int elementSize, IArenaDevice device, Action<long>? released = null)
        : base(name, elements, elementSize)
    {
        _device = device;
        (_pointer, _memory) = device.Allocate(name, Bytes);
        _released = released;
    }

    public ulong Pointer => _disposed ? throw new ObjectDisposedException(Name) : _pointer;

    /// <summary>cuMemAlloc with out-of-memory turned into a <see cref="GpuOutOfMemoryException"/> naming the buffer.</summary>
    internal static CudaDeviceMemory AllocateDevice(string name, long bytes)
    {
        try
        {
            return CudaDeviceMemory.Allocate(Math.Max(bytes, 1));
        }
        catch (CudaException e) when (e.Status == CudaResult.ErrorOutOfMemory)
        {
            throw new GpuOutOfMemoryException($"GPU out of memory allocating {name} ({bytes / 1048576.0:0.0} MiB)", e);
        }
    }

    /// <summary>
    /// Waits for queued work that may still use the block (an executor re-plans its arenas between batches), then frees
    /// it. Runs on whatever thread disposes (GraphExecutor.Dispose, re-planning from CudaBatchSource.Load), so the
    /// device's context is pushed for the wait: cuStreamSynchronize on a thread without a current context fails with
    /// CUDA_ERROR_INVALID_CONTEXT (driver API, "Context management") and the block would be freed under running
    /// kernels. A failed wait is thrown, not swallowed: it reports an earlier asynchronous error of the stream (the
    /// driver returns it from the next synchronising call), which the caller must see. The block is freed either way.
    /// </summary>
    public override void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        try
        {
            using (_device.PushContext())
                _device.Synchronize();
        }
        finally
        {
            _memory.Dispose();
            _released?.Invoke(Bytes);
        }
    }
}

/// <summary>
/// The GPU ran out of memory. The executor rethrows it naming the batch shape that needed the memory, so the message
/// tells the user which batch size to lower.
/// </summary>
public sealed class GpuOutOfMemoryException : SerException
{
    public GpuOutOfMemoryException(string message, Exception? inner = null) : base(message, inner!) { }

    /// <summary>Whether an exception from the CUDA stack means the GPU (or a library's allocation on it) ran out of memory.</summary>
    public static bool IsOutOfMemory(Exception e) => e switch
    {
        GpuOutOfMemoryException => true,
        CudaException c => c.Status == CudaResult.ErrorOutOfMemory,
        CublasException c => c.Status == CublasStatus.AllocFailed,
        CufftException c => c.Status == CufftResult.AllocFailed,
        CudnnException c => c.Status is CudnnStatus.InternalErrorDeviceAllocationFailed or CudnnStatus.InternalErrorHostAllocationFailed,
        _ => false,
    };
}
