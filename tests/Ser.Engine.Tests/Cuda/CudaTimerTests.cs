using Ser.Engine.Tensors;

namespace Ser.Engine.Tests.Cuda;

/// <summary>The CUDA backend's profiler timers measure device time with events (skip without a GPU).</summary>
[Collection("Cuda")]
public class CudaTimerTests
{
    [Fact]
    public void Timers_measure_device_work_and_more_work_takes_longer()
    {
        Assert.SkipUnless(CudaGpu.Available, CudaGpu.Reason);
        var be = CudaGpu.Backend;
        using var arena = be.Allocate(64L << 20, "timer test");  // 256 MiB
        var small = arena.View(0, new Shape(1 << 10));
        var large = arena.View(0, new Shape(64 << 20));
        long Time(TensorView t)
        {
            long token = be.TimerStart();
            for (int i = 0; i < 8; i++) be.Zero(t);
            return be.TimerStop(token);
        }
        Time(large); // warm-up
        long tSmall = Time(small), tLarge = Time(large);
        Assert.True(tLarge > 0, "8 memsets of 256 MiB took no device time");
        Assert.True(tLarge > tSmall, $"256 MiB memsets ({tLarge} ticks) not slower than 4 KiB ones ({tSmall})");
        // Tokens are independent: two open timers, closed in either order.
        long a = be.TimerStart(), b = be.TimerStart();
        be.Zero(large);
        Assert.True(be.TimerStop(b) >= 0);
        Assert.True(be.TimerStop(a) >= 0);
    }
}
