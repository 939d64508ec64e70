using System.Runtime.InteropServices;
using Ser.Engine.Tensors;

namespace Ser.Engine.Backends.Cpu;

/// <summary>
/// Host arena: one 64-byte aligned native block, zeroed at allocation. Native rather than a managed array so that
/// arenas above 2^31 elements work, the GC never moves or scans them, and alignment is the same in every run.
/// </summary>
internal sealed unsafe class CpuArena<T> : Arena where T : unmanaged
{
    T* _pointer;

    public CpuArena(string name, long elements) : base(name, elements, sizeof(T))
    {
        nuint bytes = (nuint)(elements * sizeof(T));
        _pointer = (T*)NativeMemory.AlignedAlloc(bytes, 64);
        if (_pointer == null) throw new OutOfMemoryException($"{name}: cannot allocate {bytes} bytes");
        NativeMemory.Clear(_pointer, bytes);
        GC.AddMemoryPressure(Bytes);
    }

    public T* Pointer => _pointer != null ? _pointer : throw new ObjectDisposedException(Name);

    public override void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }

    ~CpuArena() => Free();

    void Free()
    {
        if (_pointer == null) return;
        NativeMemory.AlignedFree(_pointer);
        _pointer = null;
        GC.RemoveMemoryPressure(Bytes);
    }
}
