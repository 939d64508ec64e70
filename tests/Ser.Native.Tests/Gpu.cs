using Ser.Engine.Backends.Cuda;
using Ser.Native;

namespace Ser.Native.Tests;

/// <summary>
/// Whether this machine has a usable GPU, decided once. GPU tests start with
/// <c>Assert.SkipUnless(Gpu.Available, Gpu.Reason)</c>: they skip (with the reason) where there is no
/// GPU, and where there is one a missing CUDA library fails them loudly instead of skipping.
/// </summary>
public static class Gpu
{
    static readonly Lazy<CudaRuntimeReport> Report = new(CudaRuntimeInfo.Probe);
    static readonly Lazy<CudaDevice> SharedDevice = new(() => CudaDevice.Open(0, new KernelCache(TestKernelCache)));

    public static bool Available => Report.Value.GpuAvailable;

    public static string Reason => Report.Value.GpuProblem ?? "a GPU is present";

    /// <summary>Device 0, opened once for the whole test run (tests run serially in the "Gpu" collection).</summary>
    public static CudaDevice Device => SharedDevice.Value;

    /// <summary>A fresh kernel cache per test run, so the tests exercise NVRTC compilation itself.</summary>
    public static readonly string TestKernelCache = Path.Combine(Path.GetTempPath(), $"ser-test-kernels-{Environment.ProcessId}");
}

/// <summary>GPU tests share one device and stream: run them one at a time.</summary>
[CollectionDefinition("Gpu", DisableParallelization = true)]
public sealed class GpuCollection;
