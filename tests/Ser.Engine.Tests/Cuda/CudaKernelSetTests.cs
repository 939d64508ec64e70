using System.Reflection;
using Ser.Engine.Backends.Cuda;

namespace Ser.Engine.Tests.Cuda;

/// <summary>Every NVRTC program of ours compiles without multiply-add contraction (no GPU needed).</summary>
public class CudaKernelSetTests
{
    static IReadOnlyList<(string Name, CudaKernelSet Set)> AllSets() =>
        typeof(CudaKernels).Assembly.GetTypes()
            .SelectMany(t => t.GetFields(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic))
            .Where(f => f.FieldType == typeof(CudaKernelSet))
            .Select(f => ($"{f.DeclaringType!.Name}.{f.Name}", (CudaKernelSet)f.GetValue(null)!))
            .ToList();

    [Fact]
    public void Both_kernel_sets_compile_with_fmad_false()
    {
        var sets = AllSets();
        Assert.Contains(sets, s => s.Set.Source == CudaKernels.Source);
        Assert.Contains(sets, s => s.Set.Source == CudaFrontEndKernels.Source);
        foreach (var (name, set) in sets)
        {
            // NVRTC contracts a * b + c into one FMA by default (--fmad=true); the CPU oracle rounds twice.
            Assert.True(set.Options.Contains("--fmad=false"), $"{name} compiles without --fmad=false: {string.Join(' ', set.Options)}");
            Assert.DoesNotContain(set.Options, o => o.StartsWith("--use_fast_math", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Kernel_sets_have_distinct_program_names()
    {
        var names = AllSets().Select(s => s.Set.ProgramName).ToList();
        Assert.Equal(names.Count, names.Distinct().Count());
    }
}

/// <summary>The softmax cross-entropy launch stays inside its kernel's launch bounds (no GPU needed).</summary>
public class SoftmaxLaunchTests
{
    [Theory]
    [InlineData(1, 32)]
    [InlineData(32, 32)]
    [InlineData(33, 64)]
    [InlineData(200, 224)]
    [InlineData(256, 256)]
    [InlineData(1000, 256)]
    [InlineData(4096, 256)]
    public void Block_is_whole_warps_and_capped(int batch, int threads) => Assert.Equal(threads, CudaKernels.SoftmaxThreads(batch));

    [Fact]
    public void Kernel_declares_the_cap_as_its_launch_bounds()
    {
        Assert.True(CudaKernels.SoftmaxMaxThreads <= 256, "a larger block risks CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES");
        Assert.Contains($"__launch_bounds__({CudaKernels.SoftmaxMaxThreads}) {CudaKernels.SoftmaxCrossEntropy}(", CudaKernels.Source);
    }
}
