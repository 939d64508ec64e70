using System.Runtime.InteropServices;

namespace Ser.Native;

/// <summary>NVRTC (nvrtc.h, libnvrtc.so.13/.12): compiles CUDA C to CUBIN/PTX at run time, so the build needs no toolkit.</summary>
public static unsafe partial class NvrtcNative
{
    static NvrtcNative() => NativeLibraries.Register();

    const string Lib = NativeLibraries.Nvrtc;

    [LibraryImport(Lib)] public static partial byte* nvrtcGetErrorString(NvrtcResult result);
    [LibraryImport(Lib)] public static partial NvrtcResult nvrtcVersion(int* major, int* minor);
    [LibraryImport(Lib)] public static partial NvrtcResult nvrtcGetNumSupportedArchs(int* numArchs);
    [LibraryImport(Lib)] public static partial NvrtcResult nvrtcGetSupportedArchs(int* supportedArchs);

    [LibraryImport(Lib)]
    public static partial NvrtcResult nvrtcCreateProgram(nint* prog, byte* src, byte* name,
        int numHeaders, byte** headers, byte** includeNames);
    [LibraryImport(Lib)] public static partial NvrtcResult nvrtcDestroyProgram(nint* prog);
    [LibraryImport(Lib)] public static partial NvrtcResult nvrtcCompileProgram(nint prog, int numOptions, byte** options);

    [LibraryImport(Lib)] public static partial NvrtcResult nvrtcGetPTXSize(nint prog, nuint* ptxSizeRet);
    [LibraryImport(Lib)] public static partial NvrtcResult nvrtcGetPTX(nint prog, byte* ptx);
    [LibraryImport(Lib)] public static partial NvrtcResult nvrtcGetCUBINSize(nint prog, nuint* cubinSizeRet);
    [LibraryImport(Lib)] public static partial NvrtcResult nvrtcGetCUBIN(nint prog, byte* cubin);
    [LibraryImport(Lib)] public static partial NvrtcResult nvrtcGetProgramLogSize(nint prog, nuint* logSizeRet);
    [LibraryImport(Lib)] public static partial NvrtcResult nvrtcGetProgramLog(nint prog, byte* log);
}

/// <summary>An nvrtcProgram.</summary>
public sealed class NvrtcProgram : NativeHandle
{
    NvrtcProgram(nint prog) : base(prog) { }

    public static unsafe NvrtcProgram Create(string source, string name)
    {
        byte[] src = System.Text.Encoding.UTF8.GetBytes(source + "\0");
        byte[] n = System.Text.Encoding.UTF8.GetBytes(name + "\0");
        nint prog;
        fixed (byte* s = src)
        fixed (byte* pn = n)
            Nvrtc.Check(NvrtcNative.nvrtcCreateProgram(&prog, s, pn, 0, null, null));
        return new NvrtcProgram(prog);
    }

    protected override unsafe bool ReleaseHandle()
    {
        nint prog = handle;
        return NvrtcNative.nvrtcDestroyProgram(&prog) == NvrtcResult.Success;
    }
}
