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

    /// <summary>The CUDA version cuDNN was built for (cudnnGetCudartVersion, e.g. 13000), when cuDNN loaded.</summary>
    public int? CudnnCudartVersion { get; init; }

    /// <summary>Null when every loaded NVRTC, cuBLAS and cuFFT is of the CUDA major cuDNN was built for; otherwise
    /// one line naming the ones that are not (see <see cref="CudaRuntimeInfo.CudaMajorMismatch"/>).</summary>
    public string? CudaMajorProblem { get; init; }
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
        int? cudart = null;
        string? majorProblem = null;
        if (libraries.Single(l => l.Library == CudaLibrary.Cudnn).Loaded && locator == LibraryLocator.Default)
        {
            var (text, _) = Guard(() => CudnnNative.cudnnGetCudartVersion().ToString(System.Globalization.CultureInfo.InvariantCulture));
            if (int.TryParse(text, out int v) && v > 0)
            {
                cudart = v;
                majorProblem = CudaMajorMismatch(v, libraries.Where(l => l.Loaded).Select(l => (l.Name, CudaMajorOf(l.Library, l.Version))));
            }
        }
        return new CudaRuntimeReport(gpus, driverVersion, libraries, gpuProblem, hints) { CudnnCudartVersion = cudart, CudaMajorProblem = majorProblem };
    }

    /// <summary>
    /// The CUDA major a library belongs to, from the version it reports: NVRTC and cuBLAS carry CUDA's own major (13.x in
    /// CUDA 13, 12.x in CUDA 12); cuFFT is one behind (cuFFT 12 in CUDA 13, libcufft.so.12; cuFFT 11 in CUDA 12). Null
    /// for the driver (any newer driver runs older CUDA libraries), cuDNN (see cudnnGetCudartVersion) or no version.
    /// </summary>
    public static int? CudaMajorOf(CudaLibrary library, string? version)
    {
        if (version is null || !int.TryParse(version.Split('.')[0], out int major)) return null;
        return library switch
        {
            CudaLibrary.Nvrtc or CudaLibrary.Cublas => major,
            CudaLibrary.Cufft => major + 1,
            _ => null,
        };
    }

    /// <summary>
    /// Null when every library with a known CUDA major is of the major cuDNN was built for; else one line naming each
    /// that is not. cudnnGetCudartVersion returns the CUDA runtime version cuDNN was compiled against (major * 1000 +
    /// minor * 10, cuDNN API reference), and its engines load cuBLAS(Lt) and NVRTC of that major by soname: a CUDA 12
    /// cuBLAS or NVRTC found first on the loader path beside a CUDA 13 cuDNN is two CUDA runtimes in one process.
    /// </summary>
    public static string? CudaMajorMismatch(int cudnnCudartVersion, IEnumerable<(string Name, int? CudaMajor)> libraries)
    {
        int want = cudnnCudartVersion / 1000;
        var odd = libraries.Where(l => l.CudaMajor is { } m && m != want).Select(l => $"{l.Name} is from CUDA {l.CudaMajor}").ToList();
        return odd.Count == 0 ? null
            : $"CUDA major mismatch: cuDNN was built for CUDA {want} but {string.Join(", ", odd)}; put one CUDA's libraries first "
              + $"({LibraryLocator.LibDirVariable})";
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
