using Ser.Engine.Backends.Cpu;
using Ser.Engine.Graph;
using Ser.Engine.Models;
using Ser.Engine.Tests.Training;

namespace Ser.Engine.Tests.Backends;

/// <summary>The kernel-path choice, and agreement between paths (each path's own numerics are checked by the op tests).</summary>
public class SimdPathTests
{
    [Theory]
    [InlineData("avx512", SimdPath.Vector512)]
    [InlineData("AVX2", SimdPath.Vector256)]
    [InlineData(" scalar ", SimdPath.Scalar)]
    public void Names_parse_to_paths(string name, SimdPath expected)
    {
        SimdPaths.Require(expected);
        Assert.Equal(expected, CpuKernels.Parse(name, "--simd"));
    }

    [Fact]
    public void An_unknown_name_is_a_one_line_error()
    {
        var e = Assert.Throws<SerException>(() => CpuKernels.Parse("sse9", "SER_SIMD"));
        Assert.Equal("SER_SIMD: expected avx512, avx2 or scalar (got 'sse9')", e.Message);
    }

    /// <summary>
    /// Float gradients of a ragged batch on a vector path agree with the scalar path's to float rounding: the paths
    /// group lane sums differently, and a sum of n float terms moves by at most ~n x 6e-8 of its terms' scale.
    /// </summary>
    [Theory]
    [InlineData(SimdPath.Vector256)]
    [InlineData(SimdPath.Vector512)]
    public void Gradients_on_a_vector_path_agree_with_the_scalar_path(SimdPath path)
    {
        SimdPaths.Require(path);
        var config = TrainingTests.Config;
        int batch = 4, frames = 40;
        int[] lengths = [40, 9, 23, 1];
        int[] labels = [0, 3, 1, 2];
        float[] counts = [1, 1, 1, 1];
        var features = Rand.UniformF(new Random(5), batch * frames * config.Bins, -1.5, 1.5);
        List<float[]> Gradients(SimdPath p, out double loss)
        {
            using var ex = new GraphExecutor<float>(config, new CpuBackend<float>(2, p), batch, frames, training: true);
            ex.InitializeParameters(7, InitMode.AllPathsLive);
            ex.SetInput(features, batch, frames, lengths, labels);
            ex.Forward(training: false);
            loss = ex.Loss(counts, gradient: true);
            ex.Backward();
            var grads = new List<float[]>();
            for (int i = 0; i < ex.Parameters.Count; i++)
            {
                var g = new float[ex.GradientView(i).Elements];
                ex.Backend.Download(ex.GradientView(i), g);
                grads.Add(g);
            }
            return grads;
        }
        var reference = Gradients(SimdPath.Scalar, out double refLoss);
        var actual = Gradients(path, out double loss);
        Assert.Equal(refLoss, loss, 1e-5 * Math.Abs(refLoss));
        for (int i = 0; i < reference.Count; i++)
        {
            double scale = reference[i].Max(v => Math.Abs(v));
            Assert.True(scale > 0, $"parameter {i}: zero gradient, the comparison would be empty");
            Check.Close(reference[i].Select(v => (double)v).ToArray(), actual[i].Select(v => (double)v).ToArray(), 1e-4, 1e-4 * scale, $"parameter {i}");
        }
    }
}
