using System.Runtime.InteropServices;

namespace Ser.Native.Tests;

/// <summary>Library lookup order and the message when a library is missing. Runs without a GPU.</summary>
public sealed class LibraryLocatorTests : IDisposable
{
    readonly string _root = Directory.CreateTempSubdirectory("ser-locator-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    string Dir(string relative) => Directory.CreateDirectory(Path.Combine(_root, relative)).FullName;

    LibraryLocator Locator(Dictionary<string, string> env, params string[] names) =>
        new(v => env.GetValueOrDefault(v), _ => names);

    // A harmless real shared library to stand in for a CUDA one: the runtime's zlib wrapper.
    static string RealLibrary => Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "libSystem.IO.Compression.Native.so");

    [Fact]
    public void Missing_library_message_names_the_files_the_folders_and_the_variable()
    {
        string explicitDir = Dir("cuda-libs");
        var locator = Locator(new() { ["SER_CUDA_LIB_DIR"] = explicitDir, ["HOME"] = _root }, "libser-missing.so.13", "libser-missing.so.12");

        var r = locator.Resolve(CudaLibrary.Cufft);

        Assert.False(r.Loaded);
        Assert.Contains("cuFFT", r.Error);
        Assert.Contains("libser-missing.so.13, libser-missing.so.12", r.Error);
        Assert.Contains($"{explicitDir} (SER_CUDA_LIB_DIR)", r.Error);
        Assert.Contains("default loader path", r.Error);
        Assert.Contains("/usr/local/cuda/lib64", r.Error);
        Assert.Contains("Set SER_CUDA_LIB_DIR", r.Error);
        Assert.Contains("SER_PYTHON_SITE", r.Error);
        // The report itself is `sertool device`: only the exception (a failed call elsewhere) points there.
        Assert.DoesNotContain("sertool device", r.Error);
        var e = Assert.Throws<NativeException>(() => locator.Require(CudaLibrary.Cufft));
        Assert.StartsWith(r.Error!, e.Message);
        Assert.EndsWith("Run `sertool device` for a full report.", e.Message);
    }

    [Fact]
    public void Real_driver_lookup_without_a_gpu_says_no_driver_and_what_was_tried()
    {
        var r = LibraryLocator.Default.Resolve(CudaLibrary.Driver);
        Assert.SkipWhen(r.Loaded, "libcuda.so.1 is installed here");
        Assert.Contains("libcuda.so.1", r.Error);
        Assert.Contains("NVIDIA driver", r.Error);
        Assert.Contains("/usr/lib/x86_64-linux-gnu", r.Error);
    }

    [Fact]
    public void Explicit_folders_come_first_in_the_order_given_and_the_path_is_reported()
    {
        string first = Dir("first"), second = Dir("second");
        File.Copy(RealLibrary, Path.Combine(first, "libser-fake.so.12"));
        File.Copy(RealLibrary, Path.Combine(second, "libser-fake.so.13"));
        var locator = Locator(new() { ["SER_CUDA_LIB_DIR"] = $"{first}:{second}" }, "libser-fake.so.13", "libser-fake.so.12");

        var r = locator.Resolve(CudaLibrary.Cublas);

        // A folder beats a newer name in a later folder: the user's first folder wins.
        Assert.True(r.Loaded, r.Error);
        Assert.Equal(Path.Combine(first, "libser-fake.so.12"), r.Path);
        Assert.Same(r, locator.Resolve(CudaLibrary.Cublas));
    }

    [Fact]
    public void A_file_that_does_not_load_is_reported_with_the_loader_error()
    {
        string dir = Dir("broken");
        File.WriteAllText(Path.Combine(dir, "libser-broken.so.9"), "not an ELF file");
        var locator = Locator(new() { ["SER_CUDA_LIB_DIR"] = dir }, "libser-broken.so.9");

        var r = locator.Resolve(CudaLibrary.Cudnn);

        Assert.False(r.Loaded);
        Assert.Contains($"{Path.Combine(dir, "libser-broken.so.9")} exists but did not load", r.Error);
    }

    [Fact]
    public void Pip_wheel_folders_are_found_under_every_site_packages_and_searched_last()
    {
        string site = Dir("site");
        string cu13 = Dir("site/nvidia/cu13/lib"), cudnn = Dir("site/nvidia/cudnn/lib");
        string venvSite = Dir("venv/lib/python3.12/site-packages");
        string venvCublas = Dir("venv/lib/python3.12/site-packages/nvidia/cublas/lib");
        var locator = Locator(new() { ["SER_PYTHON_SITE"] = site, ["VIRTUAL_ENV"] = Path.Combine(_root, "venv"), ["SER_CUDA_LIB_DIR"] = Dir("explicit") });

        Assert.Equal([site, venvSite], locator.SitePackagesDirectories().Take(2));
        var dirs = locator.SearchLocations(CudaLibrary.Cublas).Select(l => l.Directory).ToList();
        Assert.Equal(Path.Combine(_root, "explicit"), dirs[0]);
        Assert.Null(dirs[1]);  // the default loader path
        Assert.Equal([cu13, cudnn, venvCublas], dirs.Skip(dirs.Count - 3));
        Assert.True(dirs.IndexOf("/usr/local/cuda/lib64") < dirs.IndexOf(cu13));
        // The driver never comes from a wheel.
        Assert.DoesNotContain(locator.SearchLocations(CudaLibrary.Driver), l => l.Directory?.Contains("site", StringComparison.Ordinal) == true);
    }

    [Fact]
    public void Cuda_13_names_are_tried_before_cuda_12_names()
    {
        Assert.Equal(["libcublas.so.13", "libcublas.so.12"], LibraryLocator.CandidateNames(CudaLibrary.Cublas));
        Assert.Equal(["libnvrtc.so.13", "libnvrtc.so.12"], LibraryLocator.CandidateNames(CudaLibrary.Nvrtc));
        Assert.Equal(["libcufft.so.12", "libcufft.so.11"], LibraryLocator.CandidateNames(CudaLibrary.Cufft));
        Assert.Equal(["libcudnn.so.9"], LibraryLocator.CandidateNames(CudaLibrary.Cudnn));
        Assert.Equal(["libcuda.so.1"], LibraryLocator.CandidateNames(CudaLibrary.Driver));
    }

    [Fact]
    public void Probe_never_throws_and_explains_a_missing_gpu()
    {
        var report = CudaRuntimeInfo.Probe();
        Assert.Equal(5, report.Libraries.Count);
        Assert.Equal(report.Gpus.Count > 0, report.GpuAvailable);
        if (!report.GpuAvailable)
        {
            Assert.StartsWith("no GPU", report.GpuProblem);
            if (!report.Libraries[0].Loaded)
                Assert.Contains("libcuda.so.1", report.GpuProblem);
        }
        foreach (var l in report.Libraries)
            Assert.True(l.Loaded == (l.Path is not null && l.Problem is null) || !l.Loaded, l.Name);
        Assert.Equal(report.Libraries.Any(l => !l.Loaded), report.Hints.Any(h => h.Contains("SER_CUDA_LIB_DIR", StringComparison.Ordinal)));
    }

    [Theory]
    [InlineData(CudaLibrary.Nvrtc, "13.0", 13)]
    [InlineData(CudaLibrary.Cublas, "12.9.1", 12)]
    [InlineData(CudaLibrary.Cufft, "12.0.0", 13)]   // cuFFT 12 ships with CUDA 13
    [InlineData(CudaLibrary.Cufft, "11.4.1", 12)]
    [InlineData(CudaLibrary.Driver, "13.0", null)]
    [InlineData(CudaLibrary.Cublas, null, null)]
    public void Each_library_version_maps_to_its_cuda_major(CudaLibrary library, string? version, int? major) =>
        Assert.Equal(major, CudaRuntimeInfo.CudaMajorOf(library, version));

    [Fact]
    public void A_library_of_another_cuda_major_than_cudnns_is_named()
    {
        Assert.Null(CudaRuntimeInfo.CudaMajorMismatch(13000, [("NVRTC", 13), ("cuBLAS", 13), ("cuFFT", 13), ("CUDA driver", null)]));
        string? problem = CudaRuntimeInfo.CudaMajorMismatch(13000, [("NVRTC", 12), ("cuBLAS", 13), ("cuFFT", 13)]);
        Assert.NotNull(problem);
        Assert.Contains("cuDNN was built for CUDA 13", problem);
        Assert.Contains("NVRTC is from CUDA 12", problem);
        Assert.DoesNotContain("cuBLAS", problem);
        Assert.Contains("CUDA 12", CudaRuntimeInfo.CudaMajorMismatch(12080, [("cuBLAS", 13)]));
    }
}
