using System.Runtime.CompilerServices;

namespace Ser.Native;

/// <summary>A failed cuBLAS call.</summary>
public sealed class CublasException : NativeException
{
    public CublasException(CublasStatus status, string call)
        : base("cuBLAS", call, Cublas.StatusName(status), (int)status, Cublas.StatusText(status)) => Status = status;

    public CublasStatus Status { get; }
}

/// <summary>The one check path for cuBLAS calls: <c>Cublas.Check(CublasNative.cublasSgemm_v2(...));</c></summary>
public static class Cublas
{
    public static void Check(CublasStatus status, [CallerArgumentExpression(nameof(status))] string call = "")
    {
        if (status != CublasStatus.Success)
            throw new CublasException(status, call);
    }

    public static unsafe string StatusName(CublasStatus status)
    {
        try
        {
            if (NativeNames.FromUtf8(CublasNative.cublasGetStatusName(status)) is { Length: > 0 } name)
                return name;
        }
        catch (Exception e) when (e is NativeException or EntryPointNotFoundException or DllNotFoundException) { }
        return NativeNames.CName(status, "CUBLAS_STATUS_");
    }

    public static unsafe string? StatusText(CublasStatus status)
    {
        try
        {
            return NativeNames.FromUtf8(CublasNative.cublasGetStatusString(status));
        }
        catch (Exception e) when (e is NativeException or EntryPointNotFoundException or DllNotFoundException)
        {
            return null;
        }
    }
}
