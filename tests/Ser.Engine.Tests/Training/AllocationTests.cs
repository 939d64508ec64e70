using Ser.Engine.Training;

namespace Ser.Engine.Tests.Training;

/// <summary>Runs alone: GC.GetTotalAllocatedBytes counts every thread of the process, including other tests'.</summary>
[CollectionDefinition(nameof(AllocationTests), DisableParallelization = true)]
public sealed class AllocationCollection;

[Collection(nameof(AllocationTests))]
public class AllocationTests
{
    static readonly Ser.Engine.Models.ModelConfig Config = TrainingTests.Config;

    [Fact]
    public void Steady_state_training_step_allocates_nothing()
    {
        var set = SyntheticBatches.Set(9, 4, Config.Bins, Config.Classes, 20, 40);
        var batch = SyntheticBatches.Make(set, Config.Bins);
        using var ex = Executor.Create(Config, new ExecutorOptions { MaxBatch = 4, MaxFrames = 40, Threads = 2 });
        ex.InitializeParameters(1);
        float[] counts = [1, 1, 1, 1];
        ex.Adam = new AdamOptions { ClipNorm = 1 };
        for (int s = 0; s < 2; s++) ex.TrainStep(batch, counts);
        long thread0 = GC.GetAllocatedBytesForCurrentThread();
        long total0 = GC.GetTotalAllocatedBytes(precise: true);
        for (int s = 0; s < 3; s++) ex.TrainStep(batch, counts);
        long thread = GC.GetAllocatedBytesForCurrentThread() - thread0;
        long total = GC.GetTotalAllocatedBytes(precise: true) - total0;
        Assert.True(thread == 0, $"steps 3..5 allocated {thread} bytes on the stepping thread");
        Assert.True(total < 2048, $"steps 3..5 allocated {total} bytes in total");
    }

}
