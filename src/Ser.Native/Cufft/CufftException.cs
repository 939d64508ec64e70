using System.Runtime.CompilerServices;

namespace Ser.Native;

/// <summary>A failed cuFFT call (cuFFT has no error-string function; the status name is the description).</summary>
public sealed class CufftException : NativeException
{
    public CufftException(CufftResult status, string call)
        : base("cuFFT", call, Cufft.StatusName(status, Cufft.LoadedMajor), (int)status, null) => Status = status;

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

    /// <summary>
    /// The major version of the cuFFT that was loaded, read from its file name (libcufft.so.11 is CUDA 12's cuFFT 11,
    /// libcufft.so.12 CUDA 13's cuFFT 12); 12 when none is loaded. No native call: an error path must not fail.
    /// </summary>
    public static int LoadedMajor
    {
        get
        {
            string? path = LibraryLocator.Default.Resolve(CudaLibrary.Cufft).Path;
            return path is not null && Path.GetFileName(path).StartsWith("libcufft.so.11", StringComparison.Ordinal) ? 11 : 12;
        }
    }

    /// <summary>
    /// CUFFT_... as cufft.h of cuFFT <paramref name="major"/> spells it. cuFFT 11 (CUDA 12) numbers
    /// INCOMPLETE_PARAMETER_LIST 10, PARSE_ERROR 12 and LICENSE_ERROR 15; cuFFT 12 (CUDA 13) has no
    /// INCOMPLETE_PARAMETER_LIST, PARSE_ERROR 10 and LICENSE_ERROR 12 (the <see cref="CufftResult"/> numbering).
    /// </summary>
    public static string StatusName(CufftResult status, int major) => (major, (int)status) switch
    {
        ( <= 11, 10) => "CUFFT_INCOMPLETE_PARAMETER_LIST",
        ( <= 11, 12) => "CUFFT_PARSE_ERROR",
        ( <= 11, 15) => "CUFFT_LICENSE_ERROR",
        _ => NativeNames.CName(status, "CUFFT_"),
    };
}
