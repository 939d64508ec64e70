using System.Runtime.CompilerServices;

namespace Ser.Native;

/// <summary>A failed cuFFT call (cuFFT has no error-string function; the status name is the description).</summary>
public sealed class CufftException : NativeException
{
    public CufftException(CufftResult status, string call)
        : base("cuFFT", call, NativeNames.CName(status, "CUFFT_"), (int)status, null) => Status = status;

    public CufftResult Status { get; }
}

/// <summary>The one check path for cuFFT calls: <c>Cufft.Check(CufftNative.cufftExecR2C(...));</c></summary>
public static class Cufft
{
    public static void Check(CufftResult status, [CallerArgumentExpression(nameof(status))] string call = "")
    {
        if (status != CufftResult.Success)
            throw new CufftException(status, call);
    }
}
