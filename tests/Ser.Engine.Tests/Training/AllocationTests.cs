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
        for (int s = 0; s < 5; s++) ex.TrainStep(batch, counts);

        // Several windows of two steps each. An allocation on the step's path happens in every window; what the runtime
        // or the test host allocates now and then (a lazily created wait object, the host's own threads, which
        // GC.GetTotalAllocatedBytes also counts) lands in one window, not in most. So the median window must be clean.
        const int windows = 7;
        var thread = new long[windows];
        var total = new long[windows];
        for (int w = 0; w < windows; w++)
        {
            long thread0 = GC.GetAllocatedBytesForCurrentThread();
            long total0 = GC.GetTotalAllocatedBytes(precise: true);
            for (int s = 0; s < 2; s++) ex.TrainStep(batch, counts);
            thread[w] = GC.GetAllocatedBytesForCurrentThread() - thread0;
            total[w] = GC.GetTotalAllocatedBytes(precise: true) - total0;
        }
        string seen = $"bytes per window of 2 steps, stepping thread [{string.Join(", ", thread)}], whole process [{string.Join(", ", total)}]";
        Assert.True(Median(thread) == 0, $"the stepping thread allocates in steady state: {seen}");
        Assert.True(Median(total) < 1024, $"the process allocates in steady state (worker threads?): {seen}");
    }

    static long Median(long[] values) => values.Order().ElementAt(values.Length / 2);
}
