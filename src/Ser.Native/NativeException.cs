namespace Ser.Native;

/// <summary>
/// Base of every error raised by Ser.Native: a failed native call (with the call, the status name
/// and the library's own error string) or a native library that could not be found.
/// </summary>
public class NativeException : Exception
{
    public NativeException(string message) : base(message) { }
    public NativeException(string message, Exception inner) : base(message, inner) { }
}
