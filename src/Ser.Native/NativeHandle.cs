using System.Runtime.InteropServices;

namespace Ser.Native;

/// <summary>
/// Base of the SafeHandles that own one native object (stream, plan, descriptor, ...).
/// Native calls take the raw value (<see cref="Value"/>): the bindings are blittable, so the
/// handle only guarantees release, once, and refuses use after dispose.
/// </summary>
public abstract class NativeHandle : SafeHandle
{
    protected NativeHandle(nint value) : base(0, ownsHandle: true) => SetHandle(value);

    public override bool IsInvalid => handle == 0;

    /// <summary>The raw native handle; throws once disposed so a freed object is never passed on.</summary>
    public nint Value
    {
        get
        {
            ObjectDisposedException.ThrowIf(IsClosed, this);
            return handle;
        }
    }
}
