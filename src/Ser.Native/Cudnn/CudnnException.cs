using System.Runtime.CompilerServices;

namespace Ser.Native;

/// <summary>A failed cuDNN call; the detail holds cudnnGetErrorString and, when cuDNN has one, its last error message.</summary>
public sealed class CudnnException : NativeException
{
    public CudnnException(CudnnStatus status, string call)
        : base("cuDNN", call, NativeNames.CName(status, "CUDNN_STATUS_"), (int)status, Cudnn.Describe(status)) => Status = status;

    public CudnnStatus Status { get; }
}

/// <summary>The one check path for cuDNN calls: <c>Cudnn.Check(CudnnNative.cudnnConvolutionForward(...));</c></summary>
public static class Cudnn
{
    public const uint RnnPaddedIoDisabled = 0;  // CUDNN_RNN_PADDED_IO_DISABLED
    public const uint RnnPaddedIoEnabled = 1;   // CUDNN_RNN_PADDED_IO_ENABLED

    public static void Check(CudnnStatus status, [CallerArgumentExpression(nameof(status))] string call = "")
    {
        if (status != CudnnStatus.Success)
            throw new CudnnException(status, call);
    }

    /// <summary>"9.10.2" from cudnnGetVersion's major*10000 + minor*100 + patch (cuDNN 9 encoding).</summary>
    public static string Version()
    {
        long v = (long)CudnnNative.cudnnGetVersion();
        return $"{v / 10000}.{v % 10000 / 100}.{v % 100}";
    }

    internal static unsafe string? Describe(CudnnStatus status)
    {
        try
        {
            string? text = NativeNames.FromUtf8(CudnnNative.cudnnGetErrorString(status));
            byte* buffer = stackalloc byte[1024];
            buffer[0] = 0;
            CudnnNative.cudnnGetLastErrorString(buffer, 1024);
            string? last = NativeNames.FromUtf8(buffer);
            return string.IsNullOrWhiteSpace(last) ? text : $"{text}; {last}";
        }
        catch (Exception e) when (e is NativeException or EntryPointNotFoundException or DllNotFoundException)
        {
            return null;
        }
    }
}
