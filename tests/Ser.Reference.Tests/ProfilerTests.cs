using System.Diagnostics;
using Ser.Engine.Graph;
using Ser.Engine.Models;
using Ser.Engine.Profiling;
using Ser.Engine.Training;

namespace Ser.Reference.Tests;

/// <summary>The per-layer profiler behind `sertool profile`: medians, pass merging, shares, and the FLOP model it reports.</summary>
public class ProfilerTests
{
    [Fact]
    public void Medians_per_layer_and_pass_merge_forward_with_backward_and_update()
    {
        var p = new LayerProfiler();
        long ms = Stopwatch.Frequency / 1000;
        long[] convForward = [5, 1, 3]; // median 3 ms
        for (int step = 0; step < 3; step++)
        {
            p.BeginStep();
            p.LayerEnded("conv1", LayerPass.Forward, convForward[step] * ms, 100);
            p.LayerEnded("loss", LayerPass.Forward, 1 * ms, 4);
            p.LayerEnded("conv1", LayerPass.Backward, 2 * ms, 200);
            p.LayerEnded("adam", LayerPass.Update, (step + 1) * ms, 12);
            p.EndStep(10 * ms);
        }
        p.LayerEnded("conv1", LayerPass.Forward, 1000 * ms, 1); // outside a step: ignored (warm-up)
        var profile = p.Summarize();
        Assert.Equal(["conv1", "loss", "adam"], profile.Layers.Select(l => l.Layer));
        var conv = profile.Layers[0];
        Assert.Equal(0.003, conv.ForwardSeconds, 9);
        Assert.Equal(0.002, conv.BackwardSeconds, 9);
        Assert.Equal(300, conv.TotalFlops);
        Assert.Equal(100 / 0.003 / 1e9, conv.ForwardGflops, 9);
        Assert.Equal(0.002, profile.Layers[2].BackwardSeconds, 9); // adam: update counted as its second pass
        Assert.Equal(0, profile.Layers[2].ForwardSeconds);
        Assert.Equal(0.010, profile.StepSeconds, 9);
        Assert.Equal(0.5, profile.Share(conv), 9);
        Assert.Equal(0.001, profile.OtherSeconds, 9); // per step 10-9, 10-6, 10-9 ms: median 1 ms (not 10 minus the medians' 8)
        Assert.Equal(3, profile.Steps);
    }

    [Fact]
    public void Profiling_a_real_step_covers_every_layer_and_the_step_time()
    {
        var config = EngineEquivalenceTests.Tiny;
        var batch = EngineSupport.RaggedBatch(config.Bins, config.Classes, [20, 7, 1], seed: 2);
        using var ex = EngineSupport.CreateEngine(config, batch, 2);
        var p = new LayerProfiler();
        ex.Observer = p;
        ex.TrainStep(batch); // warm-up: not recorded
        for (int i = 0; i < 3; i++)
        {
            p.BeginStep();
            ex.TrainStep(batch);
            p.EndStep();
        }
        var profile = p.Summarize();
        Assert.Equal([.. ex.LayerNames, "loss", "adam"], profile.Layers.Select(l => l.Layer));
        Assert.All(profile.Layers.Where(l => l.Layer.StartsWith("conv") || l.Layer == "lstm"), l =>
        {
            Assert.True(l.ForwardSeconds > 0 && l.BackwardSeconds > 0, l.Layer);
            Assert.True(l.ForwardFlops > 0 && l.BackwardFlops > 0, l.Layer);
        });

        // Within one step the layers' intervals nest inside the step's, so their sum cannot exceed it, and the unaccounted
        // time is its per-step median: never negative, however noisy the machine.
        Assert.True(profile.OtherSeconds >= 0, $"other {profile.OtherSeconds} s");
        for (int i = 0; i < 3; i++)
        {
            var single = new LayerProfiler();
            ex.Observer = single;
            single.BeginStep();
            ex.TrainStep(batch);
            single.EndStep();
            var one = single.Summarize();
            Assert.True(one.LayerSeconds <= one.StepSeconds, $"layers {one.LayerSeconds} s > step {one.StepSeconds} s");
        }
    }

    /// <summary>
    /// The FLOPs the profiler reports, recomputed from shapes and valid lengths with the textbook formulas:
    /// conv 2*Cin*KT*KF per output element over valid frames (backward 2x, 1x for conv1 which needs no dx),
    /// LSTM 2*4H*(I+H) per valid step per direction (backward 2x), dense 2*in*out per sample.
    /// </summary>
    [Fact]
    public void Reported_flops_follow_the_formulas_from_shapes_and_valid_lengths()
    {
        var config = ModelConfig.Paper;
        int[] lengths = [45, 17, 1];
        var batch = EngineSupport.RaggedBatch(config.Bins, config.Classes, lengths, seed: 1);
        using var ex = Executor.Create(config, new ExecutorOptions { MaxBatch = 3, MaxFrames = 45, Threads = 2 });
        ex.InitializeParameters(1);
        var p = new LayerProfiler();
        ex.Observer = p;
        p.BeginStep();
        ex.TrainStep(batch);
        p.EndStep();
        var layers = p.Summarize().Layers.ToDictionary(l => l.Layer);

        int[] valid = [.. lengths];
        int bins = config.Bins, cin = 1;
        for (int i = 0; i < 3; i++)
        {
            int cout = config.Channels[i], kt = config.Kernels[i][0], kf = config.Kernels[i][1];
            double forward = 2.0 * cin * kt * kf * cout * bins * valid.Sum();        // per output element over valid frames
            var conv = layers[$"conv{i + 1}"];
            Assert.Equal(forward, conv.ForwardFlops);
            Assert.Equal(i == 0 ? forward : 2 * forward, conv.BackwardFlops);       // dW (+ dX except for the input layer)
            for (int b = 0; b < valid.Length; b++) valid[b] = (valid[b] + 1) / 2;
            bins = (bins + 1) / 2;
            cin = cout;
        }
        int input = cin * bins, h = config.Hidden;
        double lstm = 2.0 * valid.Sum() * 2.0 * 4 * h * (input + h);                // both directions, valid steps only
        Assert.Equal(lstm, layers["lstm"].ForwardFlops);
        Assert.Equal(2 * lstm, layers["lstm"].BackwardFlops);
        Assert.Equal(2.0 * 3 * 2 * h * config.Dense, layers["fc1"].ForwardFlops);
        Assert.Equal(2.0 * 3 * config.Dense * config.Classes, layers["fc2"].ForwardFlops);
    }
}
