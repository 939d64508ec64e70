using Ser.Engine.Tensors;
using Ser.Native;

namespace Ser.Engine.Backends.Cuda;

/// <summary>
/// Device arena: one cuMemAlloc block, cleared at allocation (like <see cref="Cpu.CpuArena{T}"/>) with an async memset
/// on the backend's stream. A tensor's device address is <see cref="Pointer"/> + offset * element size.
/// </summary>
internal sealed class CudaArena : Arena
{
    readonly CudaDeviceMemory _memory;
    readonly CudaStream _stream;
    readonly Action<long>? _released;

    public CudaArena(string name, long elements, int elementSize, CudaStream stream, Action<long>? released = null)
        : base(name, elements, elementSize)
    {
        _memory = AllocateDevice(name, Bytes);
        _stream = stream;
        _released = released;
        try
        {
            _memory.Clear(stream);
        }
        catch
        {
            _memory.Dispose();
            throw;
        }
    }

    public ulong Pointer => _memory.IsClosed ? throw new ObjectDisposedException(Name) : _memory.Pointer;

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

    public override void Dispose()
    {
        if (_memory.IsClosed) return;
        // Queued kernels may still use the block (an executor re-plans its arenas between batches).
        if (!_stream.IsClosed)
        {
            try { _stream.Synchronize(); } catch (NativeException) { /* a failed stream: free anyway */ }
        }
        _memory.Dispose();
        _released?.Invoke(Bytes);
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
