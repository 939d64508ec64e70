using System.Diagnostics;
using Ser.Engine.Models;
using Ser.Engine.Training;

namespace Ser.Engine.Tests.Training;

public class TrainingTests
{
    static readonly ModelConfig Config = new()
    {
        Bins = 32,
        Channels = [4, 6, 8],
        Kernels = [[5, 5], [3, 4], [3, 3]],
        Hidden = 12,
        Dense = 12,
        Classes = 4,
        Dropout = 0.25,
    };

    static float[][] Train(int threads, int steps)
    {
        var set = SyntheticBatches.Set(5, 12, Config.Bins, Config.Classes, 9, 40);
        var batches = new[] { SyntheticBatches.Make(set[..6], Config.Bins), SyntheticBatches.Make(set[6..], Config.Bins) };
        using var ex = Executor.Create(Config, new ExecutorOptions { MaxBatch = 6, MaxFrames = 40, Threads = threads });
        ex.InitializeParameters(21);
        ex.Adam = new AdamOptions { LearningRate = 3e-3, ClipNorm = 5, WeightDecay = 1e-4 };
        for (int s = 0; s < steps; s++) ex.TrainStep(batches[s % 2], [3, 3, 3, 3]);
        return ex.ParameterNames.Select(ex.GetParameter).ToArray();
    }

    /// <summary>Invariant 5: same seed and data on the CPU give bit-identical weights - also across thread counts.</summary>
    [Fact]
    public void Training_is_bit_identical_across_runs_and_thread_counts()
    {
        var a = Train(2, 6);
        var b = Train(2, 6);
        var c = Train(1, 6);
        for (int p = 0; p < a.Length; p++)
        {
            Assert.Equal(a[p], b[p]); // exact float equality, element by element
            Assert.Equal(a[p], c[p]);
        }
        var fresh = Train(2, 0);
        Assert.Contains(Enumerable.Range(0, a.Length), p => !a[p].SequenceEqual(fresh[p])); // training moved the weights
    }

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

    /// <summary>The model can fit: 16 synthetic utterances reach 100% training accuracy.</summary>
    [Fact]
    public void Overfits_sixteen_synthetic_utterances()
    {
        var config = Config with { Dropout = 0 };
        var set = SyntheticBatches.Set(3, 16, config.Bins, config.Classes, 15, 60);
        var batches = new[] { SyntheticBatches.Make(set[..8], config.Bins), SyntheticBatches.Make(set[8..], config.Bins) };
        using var ex = Executor.Create(config, new ExecutorOptions { MaxBatch = 8, MaxFrames = 60 });
        ex.InitializeParameters(2);
        ex.Adam = new AdamOptions { LearningRate = 5e-3 };
        var clock = Stopwatch.StartNew();
        int correct = 0;
        for (int epoch = 0; epoch < 200 && clock.Elapsed.TotalSeconds < 20; epoch++)
        {
            foreach (var b in batches) ex.TrainStep(b);
            correct = batches.Sum(b => ex.Evaluate(b).Correct);
            if (correct == 16) break;
        }
        Assert.Equal(16, correct);
    }
}
