using System.Runtime.CompilerServices;

namespace Ser.Native;

/// <summary>A failed NVRTC call; for a compilation error <see cref="NativeException.Detail"/> holds the compiler log.</summary>
public sealed class NvrtcException : NativeException
{
    public NvrtcException(NvrtcResult status, string call, string? log = null)
        : base("NVRTC", call, NativeNames.CName(status, "NVRTC_"), (int)status, Describe(status, log))
    {
        Status = status;
        Log = log;
    }

    public NvrtcResult Status { get; }

    /// <summary>The compiler's log, when the failure was a compilation.</summary>
    public string? Log { get; }

    static string? Describe(NvrtcResult status, string? log)
    {
        string? text = Nvrtc.StatusText(status);
        return string.IsNullOrWhiteSpace(log) ? text : $"{text}; log: {log.Trim()}";
    }
}

/// <summary>The one check path for NVRTC calls: <c>Nvrtc.Check(NvrtcNative.nvrtcCompileProgram(...));</c></summary>
public static class Nvrtc
{
    public static void Check(NvrtcResult status, [CallerArgumentExpression(nameof(status))] string call = "")
    {
        if (status != NvrtcResult.Success)
            throw new NvrtcException(status, call);
    }

    public static unsafe string? StatusText(NvrtcResult status)
    {
        try
        {
            return NativeNames.FromUtf8(NvrtcNative.nvrtcGetErrorString(status));
        }
        catch (Exception e) when (e is NativeException or EntryPointNotFoundException or DllNotFoundException)
        {
            return null;
        }
    }
}
