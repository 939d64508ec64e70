using Ser.Engine.Backends.Cuda;
using Ser.Engine.Models;
using Ser.Engine.Tests.Training;
using Ser.Engine.Training;

namespace Ser.Engine.Tests.Cuda;

/// <summary>Choosing the device through the public API, and queued steps on the CPU; these run on any machine.</summary>
public class CudaDeviceSelectionTests
{
    [Fact]
    public void Cuda_without_a_usable_gpu_is_a_one_line_error()
    {
        Assert.SkipWhen(CudaBackend<float>.IsAvailable(out _), "a usable GPU is present");
        var e = Assert.Throws<SerException>(() => Executor.Create(TrainingTests.Config, new ExecutorOptions { Device = "cuda" }));
        Assert.StartsWith("device 'cuda': ", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Auto_takes_the_gpu_when_usable_else_the_cpu()
    {
        using var ex = Executor.Create(TrainingTests.Config, new ExecutorOptions { Device = "auto", MaxBatch = 2, MaxFrames = 20, Threads = 1 });
        Assert.Equal(CudaBackend<float>.IsAvailable(out _) ? "cuda" : "cpu", ex.Device);
    }

    [Fact]
    public void Unknown_device_names_the_choices()
    {
        var e = Assert.Throws<SerException>(() => Executor.Create(TrainingTests.Config, new ExecutorOptions { Device = "tpu" }));
        Assert.Contains("cpu, cuda or auto", e.Message);
    }

    /// <summary>On the CPU, queued steps are ordinary steps whose results are added up on the host.</summary>
    [Fact]
    public void Queued_steps_on_the_cpu_add_up_to_the_step_results()
    {
        var config = TrainingTests.Config;
        var set = SyntheticBatches.Set(4, 8, config.Bins, config.Classes, 9, 30);
        var batches = new[] { SyntheticBatches.Make(set[..4], config.Bins), SyntheticBatches.Make(set[4..], config.Bins) };
        var options = new ExecutorOptions { MaxBatch = 4, MaxFrames = 30, Threads = 1 };
        using var a = Executor.Create(config, options);
        using var b = Executor.Create(config, options);
        a.InitializeParameters(3, InitMode.AllPathsLive);
        b.InitializeParameters(3, InitMode.AllPathsLive);
        double loss = 0;
        int correct = 0, count = 0;
        for (int s = 0; s < 4; s++)
        {
            var r = a.TrainStep(batches[s % 2], [2, 2, 2, 2]);
            loss += r.Loss;
            correct += r.Correct;
            count += r.Count;
            b.QueueTrainStep(batches[s % 2], [2, 2, 2, 2]);
        }
        var t = b.TakeQueuedTotals();
        Assert.Equal(4, t.Steps);
        Assert.Equal(loss, t.LossSum, 12);
        Assert.Equal(correct, t.Correct);
        Assert.Equal(count, t.Count);
        Assert.Equal(0, b.TakeQueuedTotals().Steps); // taking clears them
        foreach (var name in a.ParameterNames) Assert.Equal(a.GetParameter(name), b.GetParameter(name));
    }
}
