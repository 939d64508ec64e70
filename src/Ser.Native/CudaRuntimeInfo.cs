namespace Ser.Native;

/// <summary>One GPU as the driver reports it.</summary>
public sealed record GpuInfo(int Ordinal, string Name, int ComputeMajor, int ComputeMinor, long TotalMemoryBytes, int Multiprocessors)
{
    public string ComputeCapability => $"{ComputeMajor}.{ComputeMinor}";
}

/// <summary>One library: where it was found and its version, or why it is missing.</summary>
public sealed record LibraryInfo(CudaLibrary Library, string Name, string? Path, string? Version, string? Problem)
{
    public bool Loaded => Problem is null;
}

/// <summary>What <see cref="CudaRuntimeInfo.Probe"/> found.</summary>
public sealed record CudaRuntimeReport(
    IReadOnlyList<GpuInfo> Gpus,
    string? DriverVersion,
    IReadOnlyList<LibraryInfo> Libraries,
    string? GpuProblem,
    IReadOnlyList<string> Hints)
{
    /// <summary>At least one GPU is usable through the driver.</summary>
    public bool GpuAvailable => Gpus.Count > 0;

    /// <summary>A GPU and every library Ser uses are there.</summary>
    public bool Complete => GpuAvailable && Libraries.All(l => l.Loaded);
}

/// <summary>
/// A report of the CUDA setup that never throws: GPUs (name, compute capability, memory), driver
/// version, and for each library its resolved path and version or what is missing. Loading the
/// libraries is all it does to the process (no context is created).
/// </summary>
public static class CudaRuntimeInfo
{
    public static CudaRuntimeReport Probe() => Probe(LibraryLocator.Default);

    /// <summary>Probes with a given locator; GPUs and versions are read only through the process-wide resolver.</summary>
    public static CudaRuntimeReport Probe(LibraryLocator locator)
    {
        var gpus = new List<GpuInfo>();
        var libraries = new List<LibraryInfo>();
        var hints = new List<string>();
        string? driverVersion = null;
        string? gpuProblem = null;

        foreach (CudaLibrary library in Enum.GetValues<CudaLibrary>())
        {
            LibraryResolution r;
            try
            {
                r = locator.Resolve(library);
            }
            catch (Exception e)
            {
                r = new LibraryResolution(library, 0, null, $"lookup failed: {e.Message}");
            }
            string? version = null, problem = r.Error;
            if (r.Loaded && locator == LibraryLocator.Default)
                (version, problem) = Guard(() => LibraryVersion(library));
            libraries.Add(new LibraryInfo(library, LibraryLocator.DisplayName(library), r.Path, version, problem));
        }

        LibraryInfo driver = libraries[0];
        if (!driver.Loaded)
        {
            gpuProblem = "no GPU: libcuda.so.1 (the NVIDIA driver library) was not found";
            hints.Add("This machine has no usable NVIDIA GPU driver; Ser runs on the CPU backend.");
        }
        else if (locator == LibraryLocator.Default)
        {
            (driverVersion, string? versionProblem) = Guard(DriverVersion);
            (gpuProblem, gpus) = ReadGpus();
            if (versionProblem is not null)
                hints.Add($"cuDriverGetVersion failed: {versionProblem}");
        }

        if (libraries.Any(l => !l.Loaded))
        {
            hints.Add($"To point Ser at the CUDA libraries set {LibraryLocator.LibDirVariable}=<folder with libcuda.so.1/libcublas.so.13/...> "
                + $"(':'-separated for several), or {LibraryLocator.PythonSiteVariable}=<python site-packages> holding the nvidia-* wheels "
                + "(nvidia/cu13/lib, nvidia/cudnn/lib, ...).");
        }
        return new CudaRuntimeReport(gpus, driverVersion, libraries, gpuProblem, hints);
    }

    static (string? Value, string? Problem) Guard(Func<string> read)
    {
        try
        {
            return (read(), null);
        }
        catch (Exception e)
        {
            return (null, NativeException.OneLine(e.Message));
        }
    }

    static unsafe string DriverVersion()
    {
        int v;
        CudaDriver.Check(CudaNative.cuDriverGetVersion(&v));
        return $"{v / 1000}.{v % 1000 / 10}";
    }

    static unsafe (string? Problem, List<GpuInfo> Gpus) ReadGpus()
    {
        var gpus = new List<GpuInfo>();
        try
        {
            CudaResult init = CudaNative.cuInit(0);
            if (init != CudaResult.Success)
                return ($"no GPU: cuInit failed with {CudaDriver.StatusName(init)} ({CudaDriver.StatusText(init)})", gpus);
            int count;
            CudaDriver.Check(CudaNative.cuDeviceGetCount(&count));
            if (count == 0)
                return ("no GPU: the driver reports no CUDA device", gpus);
            byte* name = stackalloc byte[256];
            for (int i = 0; i < count; i++)
            {
                int dev, major, minor, sms;
                CudaDriver.Check(CudaNative.cuDeviceGet(&dev, i));
                CudaDriver.Check(CudaNative.cuDeviceGetName(name, 256, dev));
                nuint bytes;
                CudaDriver.Check(CudaNative.cuDeviceTotalMem_v2(&bytes, dev));
                CudaDriver.Check(CudaNative.cuDeviceGetAttribute(&major, CudaDeviceAttribute.ComputeCapabilityMajor, dev));
                CudaDriver.Check(CudaNative.cuDeviceGetAttribute(&minor, CudaDeviceAttribute.ComputeCapabilityMinor, dev));
                CudaDriver.Check(CudaNative.cuDeviceGetAttribute(&sms, CudaDeviceAttribute.MultiprocessorCount, dev));
                gpus.Add(new GpuInfo(i, NativeNames.FromUtf8(name) ?? "?", major, minor, (long)bytes, sms));
            }
            return (null, gpus);
        }
        catch (Exception e)
        {
            return ($"no GPU: {NativeException.OneLine(e.Message)}", gpus);
        }
    }

    static unsafe string LibraryVersion(CudaLibrary library)
    {
        switch (library)
        {
            case CudaLibrary.Driver:
                return DriverVersion();
            case CudaLibrary.Nvrtc:
                return NvrtcCompiler.Version();
            case CudaLibrary.Cublas:
            {
                int major, minor, patch;
                Cublas.Check(CublasNative.cublasGetProperty(LibraryProperty.MajorVersion, &major));
                Cublas.Check(CublasNative.cublasGetProperty(LibraryProperty.MinorVersion, &minor));
                Cublas.Check(CublasNative.cublasGetProperty(LibraryProperty.PatchLevel, &patch));
                return $"{major}.{minor}.{patch}";
            }
            case CudaLibrary.Cudnn:
                return Cudnn.Version();
            case CudaLibrary.Cufft:
            {
                int major, minor, patch;
                Cufft.Check(CufftNative.cufftGetProperty(LibraryProperty.MajorVersion, &major));
                Cufft.Check(CufftNative.cufftGetProperty(LibraryProperty.MinorVersion, &minor));
                Cufft.Check(CufftNative.cufftGetProperty(LibraryProperty.PatchLevel, &patch));
                return $"{major}.{minor}.{patch}";
            }
            default:
                return "?";
        }
    }
}
