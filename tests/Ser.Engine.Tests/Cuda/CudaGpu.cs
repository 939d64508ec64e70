using Ser.Engine.Backends.Cuda;
using Ser.Native;

namespace Ser.Engine.Tests.Cuda;

/// <summary>
/// Whether this machine has a GPU, decided once - the same probe as Ser.Native.Tests' Gpu helper
/// (<see cref="CudaRuntimeInfo.Probe()"/>). GPU tests start with <c>Assert.SkipUnless(CudaGpu.Available, CudaGpu.Reason)</c>:
/// they skip (with the reason) where there is no GPU; where there is one, a missing CUDA library fails them loudly.
/// </summary>
public static class CudaGpu
{
    static readonly Lazy<CudaRuntimeReport> Report = new(CudaRuntimeInfo.Probe);
    static readonly Lazy<CudaBackend<float>> Shared = new(() => CudaBackend<float>.Open());

    public static bool Available => Report.Value.GpuAvailable;

    public static string Reason => Report.Value.GpuProblem ?? "a GPU is present";

    /// <summary>One CUDA backend for the whole run (tests use it one at a time: the "Cuda" collection).</summary>
    internal static CudaBackend<float> Backend => Shared.Value;
}

/// <summary>GPU tests share one device and stream and measure allocations: run them one at a time.</summary>
[CollectionDefinition("Cuda", DisableParallelization = true)]
public sealed class CudaCollection;
