using System.Text;

namespace Ser.Native;

/// <summary>A compiled kernel image: a CUBIN for a real architecture (sm_XY) or PTX for a virtual one (compute_XY).</summary>
public sealed record KernelImage(byte[] Image, string Target, string Log)
{
    public bool IsCubin => Target.StartsWith("sm_", StringComparison.Ordinal);

    /// <summary>Read from the disk cache rather than compiled now.</summary>
    public bool FromCache { get; init; }
}

/// <summary>Compiles CUDA C with NVRTC.</summary>
public static class NvrtcCompiler
{
    /// <summary>"13.0": the NVRTC version, part of every cache key (a new compiler makes new code).</summary>
    public static unsafe string Version()
    {
        int major, minor;
        Nvrtc.Check(NvrtcNative.nvrtcVersion(&major, &minor));
        return $"{major}.{minor}";
    }

    /// <summary>The architectures this NVRTC can emit code for (e.g. 75, 80, 86, 89, 90, ...).</summary>
    public static unsafe int[] SupportedArchitectures()
    {
        int count;
        Nvrtc.Check(NvrtcNative.nvrtcGetNumSupportedArchs(&count));
        int[] archs = new int[count];
        fixed (int* p = archs)
            Nvrtc.Check(NvrtcNative.nvrtcGetSupportedArchs(p));
        return archs;
    }

    /// <summary>
    /// The target for a device of compute capability major.minor: its own sm_XY (a CUBIN, no JIT at load)
    /// when NVRTC knows it, else PTX for the newest older architecture NVRTC knows (the driver JITs it).
    /// </summary>
    public static string TargetFor(int major, int minor, IReadOnlyCollection<int> supported)
    {
        int cc = major * 10 + minor;
        if (supported.Contains(cc))
            return $"sm_{cc}";
        int[] older = supported.Where(a => a <= cc).ToArray();
        if (older.Length == 0)
            throw new NativeException($"this NVRTC cannot compile for a GPU of compute capability {major}.{minor} (it supports {string.Join(", ", supported.Order())}); use an NVRTC from an older CUDA release");
        return $"compute_{older.Max()}";
    }

    /// <summary>Compiles one translation unit for one target; a compile error throws <see cref="NvrtcException"/> with the log.</summary>
    public static unsafe KernelImage Compile(string source, string name, string target, IReadOnlyList<string> options)
    {
        using var program = NvrtcProgram.Create(source, name);
        var all = new List<string>(options) { $"--gpu-architecture={target}" };
        byte[][] utf8 = all.Select(o => Encoding.UTF8.GetBytes(o + "\0")).ToArray();
        var pins = utf8.Select(b => System.Runtime.InteropServices.GCHandle.Alloc(b, System.Runtime.InteropServices.GCHandleType.Pinned)).ToArray();
        try
        {
            byte** argv = stackalloc byte*[utf8.Length];
            for (int i = 0; i < utf8.Length; i++)
                argv[i] = (byte*)pins[i].AddrOfPinnedObject();
            NvrtcResult status = NvrtcNative.nvrtcCompileProgram(program.Value, utf8.Length, argv);
            string log = GetLog(program.Value);
            if (status != NvrtcResult.Success)
                throw new NvrtcException(status, $"nvrtcCompileProgram({name}, {string.Join(" ", all)})", log);
            bool cubin = target.StartsWith("sm_", StringComparison.Ordinal);
            return new KernelImage(cubin ? GetCubin(program.Value) : GetPtx(program.Value), target, log);
        }
        finally
        {
            foreach (var pin in pins)
                pin.Free();
        }
    }

    static unsafe string GetLog(nint prog)
    {
        nuint size;
        Nvrtc.Check(NvrtcNative.nvrtcGetProgramLogSize(prog, &size));
        if (size <= 1)
            return "";
        byte[] log = new byte[(int)size];
        fixed (byte* p = log)
            Nvrtc.Check(NvrtcNative.nvrtcGetProgramLog(prog, p));
        return Encoding.UTF8.GetString(log, 0, (int)size - 1);
    }

    static unsafe byte[] GetCubin(nint prog)
    {
        nuint size;
        Nvrtc.Check(NvrtcNative.nvrtcGetCUBINSize(prog, &size));
        byte[] image = new byte[(int)size];
        fixed (byte* p = image)
            Nvrtc.Check(NvrtcNative.nvrtcGetCUBIN(prog, p));
        return image;
    }

    static unsafe byte[] GetPtx(nint prog)
    {
        nuint size;
        Nvrtc.Check(NvrtcNative.nvrtcGetPTXSize(prog, &size));
        byte[] image = new byte[(int)size];
        fixed (byte* p = image)
            Nvrtc.Check(NvrtcNative.nvrtcGetPTX(prog, p));
        return image;
    }
}
