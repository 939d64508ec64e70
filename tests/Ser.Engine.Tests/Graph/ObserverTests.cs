using Ser.Engine.Graph;
using Ser.Engine.Models;
using Ser.Engine.Tests.Training;
using Ser.Engine.Training;

namespace Ser.Engine.Tests.Graph;

public class ObserverTests
{
    sealed class Recorder : IExecutorObserver
    {
        public readonly List<(string Layer, LayerPass Pass, double Flops)> Ended = [];
        public int Started;
        public void LayerStarted(string layer, LayerPass pass) => Started++;
        public void LayerEnded(string layer, LayerPass pass, long elapsedTicks, double flops)
        {
            Assert.True(elapsedTicks >= 0);
            Ended.Add((layer, pass, flops));
        }
    }

    [Fact]
    public void Every_layer_reports_each_pass_with_its_flops()
    {
        var config = TrainingTests.Config;
        var batch = SyntheticBatches.Make(SyntheticBatches.Set(1, 3, config.Bins, config.Classes, 10, 30), config.Bins);
        using var ex = Executor.Create(config, new ExecutorOptions { MaxBatch = 3, MaxFrames = 30 });
        ex.InitializeParameters(1);
        var rec = new Recorder();
        ex.Observer = rec;
        ex.TrainStep(batch);
        Assert.Equal(rec.Started, rec.Ended.Count);
        var forward = rec.Ended.Where(e => e.Pass == LayerPass.Forward).Select(e => e.Layer).ToList();
        Assert.Equal([.. ex.LayerNames, "loss"], forward);
        var backward = rec.Ended.Where(e => e.Pass == LayerPass.Backward).Select(e => e.Layer).ToList();
        Assert.Equal(ex.LayerNames.Reverse(), backward);
        Assert.Equal("adam", rec.Ended[^1].Layer);
        // conv1 forward: 2 * sum(V) * F * Cout * Cin*KT*KF
        double expected = 2.0 * batch.Lengths.Take(3).Sum() * config.Bins * config.Channels[0] * config.Kernels[0][0] * config.Kernels[0][1];
        Assert.Equal(expected, rec.Ended.First(e => e.Layer == "conv1").Flops);
        Assert.True(rec.Ended.Single(e => e.Layer == "lstm" && e.Pass == LayerPass.Backward).Flops > 0);
    }

    /// <summary>The small preset's training step does at most 1/20 of the paper preset's FLOPs (the brief's budget).</summary>
    [Fact]
    public void Small_preset_costs_at_most_a_twentieth_of_paper()
    {
        double Flops(ModelConfig config)
        {
            using var ex = Executor.Create(config, new ExecutorOptions { MaxBatch = 1, MaxFrames = 450 });
            var rec = new Recorder();
            ex.Observer = rec;
            var batch = new Ser.Engine.Data.Batch(1, 450, config.Bins) { Count = 1, Frames = 450 };
            batch.Lengths[0] = 450; // a 4.5 s utterance
            ex.TrainStep(batch);
            return rec.Ended.Sum(e => e.Flops);
        }
        double paper = Flops(ModelConfig.Paper), small = Flops(ModelConfig.Small);
        Assert.InRange(paper / 1e9, 14, 18); // DESIGN: ~16 GFLOP per training step at 4.5 s
        Assert.True(small * 20 <= paper, $"small {small / 1e9:0.00} GFLOP vs paper {paper / 1e9:0.00} GFLOP");
    }
}
