using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace Ser.Native;

/// <summary>The native libraries Ser binds.</summary>
public enum CudaLibrary
{
    /// <summary>libcuda.so.1, the CUDA driver API (installed with the NVIDIA driver).</summary>
    Driver,
    Nvrtc,
    Cublas,
    Cudnn,
    Cufft,
}

/// <summary>Where a library was found (or every place it was looked for).</summary>
public sealed record LibraryResolution(CudaLibrary Library, nint Handle, string? Path, string? Error)
{
    public bool Loaded => Handle != 0;
}

/// <summary>
/// Finds the CUDA libraries: CUDA 13 names before CUDA 12 ones, in this order of folders:
/// SER_CUDA_LIB_DIR (':'-separated), the default loader path (LD_LIBRARY_PATH, ldconfig),
/// /usr/local/cuda/lib64, /usr/local/cuda/targets/x86_64-linux/lib, /usr/lib/x86_64-linux-gnu,
/// (driver only: /usr/lib64, /usr/local/nvidia/lib64, /usr/lib/wsl/lib), then the pip wheel folders
/// site-packages/nvidia/{cu13,cudnn,cublas,cufft,cuda_nvrtc}/lib of every Python site-packages found
/// (SER_PYTHON_SITE, VIRTUAL_ENV, CONDA_PREFIX, ~/.local, /usr/local/lib/python3*, /usr/lib/python3*).
/// A folder wins over a newer name in a later folder: the user's explicit choice comes first.
/// Nothing is loaded until a library is first asked for.
/// </summary>
public sealed class LibraryLocator
{
    public const string LibDirVariable = "SER_CUDA_LIB_DIR";
    public const string PythonSiteVariable = "SER_PYTHON_SITE";

    /// <summary>The process-wide locator used by the [LibraryImport] resolver.</summary>
    public static LibraryLocator Default { get; } = new(Environment.GetEnvironmentVariable);

    readonly Func<string, string?> _env;
    readonly Func<CudaLibrary, IReadOnlyList<string>> _names;
    readonly ConcurrentDictionary<CudaLibrary, Lazy<LibraryResolution>> _cache = new();

    /// <param name="environment">Reads an environment variable (injectable for tests).</param>
    public LibraryLocator(Func<string, string?> environment) : this(environment, CandidateNames) { }

    /// <summary>Tests substitute the file names so that a lookup cannot find a real CUDA library.</summary>
    internal LibraryLocator(Func<string, string?> environment, Func<CudaLibrary, IReadOnlyList<string>> candidateNames)
    {
        _env = environment;
        _names = candidateNames;
    }

    /// <summary>File names tried for a library, newest CUDA first.</summary>
    public static IReadOnlyList<string> CandidateNames(CudaLibrary library) => library switch
    {
        CudaLibrary.Driver => ["libcuda.so.1"],
        CudaLibrary.Nvrtc => ["libnvrtc.so.13", "libnvrtc.so.12"],
        CudaLibrary.Cublas => ["libcublas.so.13", "libcublas.so.12"],
        CudaLibrary.Cudnn => ["libcudnn.so.9"],
        CudaLibrary.Cufft => ["libcufft.so.12", "libcufft.so.11"],
        _ => throw new ArgumentOutOfRangeException(nameof(library)),
    };

    public static string DisplayName(CudaLibrary library) => library switch
    {
        CudaLibrary.Driver => "CUDA driver",
        CudaLibrary.Nvrtc => "NVRTC",
        CudaLibrary.Cublas => "cuBLAS",
        CudaLibrary.Cudnn => "cuDNN",
        CudaLibrary.Cufft => "cuFFT",
        _ => library.ToString(),
    };

    /// <summary>One place to look: a folder, or null for the default loader path.</summary>
    public sealed record SearchLocation(string? Directory, string Label);

    /// <summary>The folders searched for a library, in order (folders that do not exist are included; they are skipped when loading).</summary>
    public IReadOnlyList<SearchLocation> SearchLocations(CudaLibrary library)
    {
        var list = new List<SearchLocation>();
        foreach (string dir in SplitPaths(_env(LibDirVariable)))
            list.Add(new(dir, $"{dir} ({LibDirVariable})"));
        list.Add(new(null, "the default loader path (LD_LIBRARY_PATH, ldconfig)"));
        string[] system = library == CudaLibrary.Driver
            ? ["/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/local/nvidia/lib64", "/usr/lib/wsl/lib"]
            : ["/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib", "/usr/lib/x86_64-linux-gnu"];
        foreach (string dir in system)
            list.Add(new(dir, dir));
        // The driver never comes from a wheel: a pip "libcuda" would be a stub.
        if (library != CudaLibrary.Driver)
            foreach (string dir in WheelLibraryDirectories())
                list.Add(new(dir, dir));
        return list;
    }

    /// <summary>Python site-packages folders that may hold NVIDIA wheels, in order of preference.</summary>
    public IReadOnlyList<string> SitePackagesDirectories()
    {
        var dirs = new List<string>();
        dirs.AddRange(SplitPaths(_env(PythonSiteVariable)));
        foreach (string? prefix in new[] { _env("VIRTUAL_ENV"), _env("CONDA_PREFIX") })
            if (!string.IsNullOrEmpty(prefix))
                dirs.AddRange(PythonDirs(Path.Combine(prefix, "lib"), "site-packages"));
        string? home = _env("HOME");
        if (!string.IsNullOrEmpty(home))
            dirs.AddRange(PythonDirs(Path.Combine(home, ".local", "lib"), "site-packages"));
        foreach (string root in new[] { "/usr/local/lib", "/usr/lib" })
        {
            dirs.AddRange(PythonDirs(root, "site-packages"));
            dirs.AddRange(PythonDirs(root, "dist-packages"));
        }
        return dirs.Where(Directory.Exists).Distinct().ToList();
    }

    /// <summary>The lib folders of the NVIDIA wheels under every site-packages found (existing ones only).</summary>
    public IReadOnlyList<string> WheelLibraryDirectories()
    {
        string[] wheels = ["cu13", "cudnn", "cublas", "cufft", "cuda_nvrtc"];
        return SitePackagesDirectories()
            .SelectMany(site => wheels.Select(w => Path.Combine(site, "nvidia", w, "lib")))
            .Where(Directory.Exists)
            .ToList();
    }

    /// <summary>Loads (once) and returns where a library came from; never throws.</summary>
    public LibraryResolution Resolve(CudaLibrary library) =>
        _cache.GetOrAdd(library, l => new Lazy<LibraryResolution>(() => Load(l))).Value;

    /// <summary>Loads a library or throws a <see cref="NativeException"/> naming everything tried (and where to look next:
    /// the report of `sertool device`, which itself shows <see cref="LibraryResolution.Error"/> without that pointer).</summary>
    public nint Require(CudaLibrary library)
    {
        var r = Resolve(library);
        return r.Loaded ? r.Handle : throw new NativeException(r.Error! + " Run `sertool device` for a full report.");
    }

    LibraryResolution Load(CudaLibrary library)
    {
        // cuDNN's engines dlopen libcublasLt and libnvrtc by soname at run time: load ours first so they
        // are found even when they live only in a folder the loader does not search (best effort).
        if (library == CudaLibrary.Cudnn)
        {
            Resolve(CudaLibrary.Cublas);
            Resolve(CudaLibrary.Nvrtc);
        }
        var names = _names(library);
        var failures = new List<string>();
        var absent = new List<string>();
        var searched = new List<string>();
        foreach (var location in SearchLocations(library))
        {
            if (location.Directory is null)
            {
                searched.Add(location.Label);
                foreach (string name in names)
                    if (NativeLibrary.TryLoad(name, out nint h))
                        return new(library, h, LoadedPath(h, library) ?? name, null);
                continue;
            }
            if (!Directory.Exists(location.Directory))
            {
                absent.Add(location.Label);
                continue;
            }
            searched.Add(location.Label);
            foreach (string name in names)
            {
                string path = Path.Combine(location.Directory, name);
                if (!File.Exists(path))
                    continue;
                PreloadCompanions(library, location.Directory, name);
                try
                {
                    return new(library, NativeLibrary.Load(path), path, null);
                }
                catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
                {
                    failures.Add($"{path} exists but did not load ({NativeException.OneLine(e.Message)})");
                }
            }
        }
        return new(library, 0, null, MissingMessage(library, names, searched, absent, failures));
    }

    string MissingMessage(CudaLibrary library, IReadOnlyList<string> names, List<string> searched, List<string> absent, List<string> failures)
    {
        string what = library == CudaLibrary.Driver
            ? "the NVIDIA driver library (no usable NVIDIA GPU driver on this machine)"
            : $"the {DisplayName(library)} library";
        string text = $"{what} was not found: tried {string.Join(", ", names)} in {string.Join("; ", searched)}";
        if (absent.Count > 0)
            text += $"; absent folders: {string.Join(", ", absent)}";
        if (library != CudaLibrary.Driver && !searched.Any(s => s.Contains("site-packages", StringComparison.Ordinal)))
            text += "; no pip wheel folder (site-packages/nvidia/*/lib) was found";
        if (failures.Count > 0)
            text += "; " + string.Join("; ", failures);
        return text + $". Set {LibDirVariable} to the folder that holds {names[0]}"
            + (library == CudaLibrary.Driver ? "" : $" (or {PythonSiteVariable} to a Python site-packages with the nvidia-* wheels)")
            + ".";
    }

    // Load the libraries a library needs from its own folder first, so that a copy found by full path
    // does not pick up a different version of its companions from the loader path (the loader matches
    // already-loaded sonames). Best effort: a failure here shows up when the library itself loads.
    static void PreloadCompanions(CudaLibrary library, string dir, string name)
    {
        IEnumerable<string> companions = library switch
        {
            CudaLibrary.Cublas => [Path.Combine(dir, name.Replace("libcublas", "libcublasLt", StringComparison.Ordinal))],
            CudaLibrary.Nvrtc => Directory.EnumerateFiles(dir, "libnvrtc-builtins.so.*").Order(StringComparer.Ordinal),
            // graph first: the other cuDNN sub-libraries depend on it.
            CudaLibrary.Cudnn => Directory.EnumerateFiles(dir, "libcudnn_*.so.9")
                .OrderBy(p => p.Contains("libcudnn_graph", StringComparison.Ordinal) ? 0 : 1).ThenBy(p => p, StringComparer.Ordinal),
            _ => [],
        };
        foreach (string path in companions)
            if (File.Exists(path))
                NativeLibrary.TryLoad(path, out _);
    }

    // For a library found by the loader, report the file it mapped: the mapping that holds a known export.
    static string? LoadedPath(nint handle, CudaLibrary library)
    {
        string export = library switch
        {
            CudaLibrary.Driver => "cuInit",
            CudaLibrary.Nvrtc => "nvrtcVersion",
            CudaLibrary.Cublas => "cublasCreate_v2",
            CudaLibrary.Cudnn => "cudnnGetVersion",
            _ => "cufftCreate",
        };
        try
        {
            if (!NativeLibrary.TryGetExport(handle, export, out nint address) || !File.Exists("/proc/self/maps"))
                return null;
            foreach (string line in File.ReadLines("/proc/self/maps"))
            {
                // start-end perms offset dev inode path
                string[] parts = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length < 6)
                    continue;
                string[] range = parts[0].Split('-');
                ulong start = Convert.ToUInt64(range[0], 16), end = Convert.ToUInt64(range[1], 16);
                if ((ulong)address >= start && (ulong)address < end)
                    return parts[5].Trim();
            }
        }
        catch (IOException) { }
        catch (FormatException) { }
        return null;
    }

    static IEnumerable<string> SplitPaths(string? value) =>
        string.IsNullOrWhiteSpace(value) ? [] : value.Split(':', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    static IEnumerable<string> PythonDirs(string root, string leaf)
    {
        if (!Directory.Exists(root))
            return [];
        try
        {
            return Directory.GetDirectories(root, "python3*").Order(StringComparer.Ordinal)
                .Select(d => Path.Combine(d, leaf)).ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }
}
