using TorchSharp;
using static TorchSharp.torch;

namespace Ser.Reference.Tests;

/// <summary>"Same" padding for even kernels follows PyTorch: before = (k-1)/2, after = k-1-before.</summary>
public class ConvPaddingTests
{
    private static float[] Conv(float[] x, int frames, int bins, float[] w, int kt, int kf)
    {
        using var scope = NewDisposeScope();
        var input = torch.tensor(x, [1, 1, frames, bins]);
        var weight = torch.tensor(w, [1, 1, kt, kf]);
        var y = ReferenceCrnn.ConvSame(input, weight, torch.zeros(1), kt, kf);
        Assert.Equal([1L, 1, frames, bins], y.shape);
        return y.data<float>().ToArray();
    }

    [Fact]
    public void Kernel_2x2_pads_only_after()
    {
        // x = [[1,2,3],[4,5,6]], w = [[1,10],[100,1000]]; k = 2 -> 0 before, 1 after, so
        // y[t,f] = 1 x[t,f] + 10 x[t,f+1] + 100 x[t+1,f] + 1000 x[t+1,f+1] (zero outside). The digits show who was read.
        float[] y = Conv([1, 2, 3, 4, 5, 6], 2, 3, [1, 10, 100, 1000], 2, 2);
        Assert.Equal([5421f, 6532f, 603f, 54f, 65f, 6f], y);
    }

    [Fact]
    public void Kernel_1x4_pads_one_before_two_after()
    {
        // k = 4 -> 1 before, 2 after: y[f] = 1 x[f-1] + 10 x[f] + 100 x[f+1] + 1000 x[f+2].
        float[] y = Conv([1, 2, 3], 1, 3, [1, 10, 100, 1000], 1, 4);
        Assert.Equal([3210f, 321f, 32f], y);
    }

    [Fact]
    public void Kernel_4x1_pads_time_the_same_way()
    {
        float[] y = Conv([1, 2, 3], 3, 1, [1, 10, 100, 1000], 4, 1);
        Assert.Equal([3210f, 321f, 32f], y);
    }
}
