using Ser.Engine.Backends.Cuda;

namespace Ser.Engine.Tests.Cuda;

/// <summary>The GPU front end makes its cuFFT plans up front: every chunk it can cut has one (no GPU needed).</summary>
public class CudaFrontEndPlanTests
{
    [Theory]
    [InlineData(256)]
    [InlineData(1024)]
    [InlineData(8192)]
    public void Every_chunk_size_maps_to_a_plan_made_up_front(int maxChunkFrames)
    {
        var sizes = CudaFrontEnd.PlanSizes(maxChunkFrames).ToHashSet();
        Assert.Equal(1 + (int)Math.Log2(maxChunkFrames / CudaFrontEnd.MinChunkFrames), sizes.Count);
        for (int count = 1; count <= maxChunkFrames; count++)
        {
            int size = CudaFrontEnd.PlanSize(count, maxChunkFrames);
            Assert.True(size >= count, $"a chunk of {count} frames got a plan of {size}");
            Assert.Contains(size, sizes);
        }
    }
}
