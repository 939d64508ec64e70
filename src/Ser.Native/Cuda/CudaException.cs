using System.Runtime.CompilerServices;

namespace Ser.Native;

/// <summary>A failed CUDA driver API call.</summary>
public sealed class CudaException : NativeException
{
    public CudaException(CudaResult status, string call)
        : base("CUDA driver", call, CudaDriver.StatusName(status), (int)status, CudaDriver.StatusText(status)) => Status = status;

    public CudaResult Status { get; }
}

/// <summary>The one check path for CUDA driver calls: <c>CudaDriver.Check(CudaNative.cuInit(0));</c></summary>
public static class CudaDriver
{
    public static void Check(CudaResult status, [CallerArgumentExpression(nameof(status))] string call = "")
    {
        if (status != CudaResult.Success)
            throw new CudaException(status, call);
    }

    /// <summary>CUDA_ERROR_... as the driver names it (falls back to our enum when the driver is absent).</summary>
    public static unsafe string StatusName(CudaResult status)
    {
        try
        {
            byte* s;
            if (CudaNative.cuGetErrorName(status, &s) == CudaResult.Success && NativeNames.FromUtf8(s) is { } name)
                return name;
        }
        catch (Exception e) when (e is NativeException or EntryPointNotFoundException or DllNotFoundException) { }
        return NativeNames.CName(status, "CUDA_");
    }

    /// <summary>The driver's description of a status, or null when the driver cannot be asked.</summary>
    public static unsafe string? StatusText(CudaResult status)
    {
        try
        {
            byte* s;
            if (CudaNative.cuGetErrorString(status, &s) == CudaResult.Success)
                return NativeNames.FromUtf8(s);
        }
        catch (Exception e) when (e is NativeException or EntryPointNotFoundException or DllNotFoundException) { }
        return null;
    }
}
