using Ser.Engine.Backends.Cpu;
using Ser.Engine.Backends.Cuda;
using Ser.Engine.Features;
using Ser.Engine.Graph;
using Ser.Engine.Models;
using Ser.Engine.Tests.Graph;
using Ser.Engine.Tests.Training;
using Ser.Engine.Training;
using Ser.Native;

namespace Ser.Engine.Tests.Cuda;

/// <summary>
/// The whole model on the GPU: invariant 2 (backend equivalence with the CPU oracle: logits, loss, every parameter
/// gradient; TF32 off), invariant 1 on the GPU (padding invariance), a short training run reaching the CPU's validation
/// UA, the queued (sync-free) step path, the GPU batch source (features against the CPU front end), inference through
/// the public API, and the out-of-memory message. All skip without a GPU.
/// Tolerances: logits and loss 1e-4 relative (float32 sums in a different order: cuDNN vs direct convolution, cuDNN's
/// LSTM vs ours); gradients 1e-3 relative with an absolute floor of 1e-4 of the tensor's largest entry (a gradient sums
/// thousands of such terms over frames).
/// </summary>
[Collection("Cuda")]
public class CudaModelTests
{
    /// <summary>Even and odd kernels in both axes, dropout present (inactive in the equivalence passes).</summary>
    static readonly ModelConfig Mixed = new()
    {
        Bins = 32,
        Channels = [4, 6, 8],
        Kernels = [[6, 8], [4, 5], [3, 4]],
        Hidden = 12,
        Dense = 10,
        Classes = 4,
        Dropout = 0.25,
    };

    static float[] Read(GraphExecutor<float> ex, Tensors.TensorView view)
    {
        var a = new float[view.Elements];
        ex.Backend.Download(view, a);
        return a;
    }

    [Fact]
    public void Inference_executor_runs_the_lstm_in_inference_mode_with_the_cpus_logits()
    {
        Assert.SkipUnless(CudaGpu.Available, CudaGpu.Reason);
        int[] lengths = [37, 5, 1, 20, 12];
        int batch = lengths.Length, frames = lengths.Max();
        var r = new Random(3);
        var features = PaddingInvariance.RaggedFeatures(r, lengths, frames, Mixed.Bins);
        using var cpu = new GraphExecutor<float>(Mixed, new CpuBackend<float>(2), batch, frames, training: false);
        using var gpu = new GraphExecutor<float>(Mixed, CudaGpu.Backend, batch, frames, training: false, ownsBackend: false);
        var logits = new List<float[]>();
        foreach (var ex in new[] { cpu, gpu })
        {
            ex.InitializeParameters(7, InitMode.AllPathsLive);
            ex.SetInput(features, batch, frames, lengths, []);
            ex.Forward(training: false); // cuDNN CUDNN_FWD_MODE_INFERENCE on the GPU: no reserve written
            logits.Add(ex.Logits().ToArray());
        }
        Check.Close(logits[0], logits[1], 1e-4, 1e-5 * logits[0].Max(Math.Abs), "inference logits");
        var lstm = gpu.Layers.OfType<Layers.BiLstmLayer<float>>().Single();
        long rows = (long)batch * frames;
        Assert.True(CudaGpu.Backend.LstmReserve(lstm.Desc, batch, frames, rows, training: false) <
                    CudaGpu.Backend.LstmReserve(lstm.Desc, batch, frames, rows, training: true),
            "an inference executor plans no cuDNN reserve space");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Model_logits_loss_and_every_gradient_match_the_cpu(bool paperSizedInput)
    {
        Assert.SkipUnless(CudaGpu.Available, CudaGpu.Reason);
        var config = paperSizedInput ? ModelConfig.Small : Mixed; // Small: 400 bins, the real front end's width
        int[] lengths = paperSizedInput ? [61, 9, 33] : [37, 5, 1, 20, 12];
        int batch = lengths.Length, frames = lengths.Max();
        var r = new Random(paperSizedInput ? 2 : 1);
        var features = PaddingInvariance.RaggedFeatures(r, lengths, frames, config.Bins);
        int[] labels = lengths.Select(_ => r.Next(config.Classes)).ToArray();
        float[] counts = [3, 1, 2, 5];

        using var cpu = new GraphExecutor<float>(config, new CpuBackend<float>(2), batch, frames, training: true);
        using var gpu = new GraphExecutor<float>(config, CudaGpu.Backend, batch, frames, training: true, ownsBackend: false);
        var results = new List<(float[] Logits, double Loss, double[] PerSample, float[][] Grads, float[] TrainLogits)>();
        foreach (var ex in new[] { cpu, gpu })
        {
            ex.InitializeParameters(5, InitMode.AllPathsLive);
            ex.SetInput(features, batch, frames, lengths, labels);
            ex.Forward(training: false);
            var perSample = new double[batch];
            double loss = ex.Loss(counts, gradient: true, perSample);
            var logits = ex.Logits().ToArray();
            ex.Backward();
            var grads = Enumerable.Range(0, ex.Parameters.Count).Select(p => Read(ex, ex.GradientView(p))).ToArray();
            ex.Forward(training: true); // dropout active: the same mask on both backends
            results.Add((logits, loss, perSample, grads, ex.Logits().ToArray()));
        }
        var (c, g) = (results[0], results[1]);
        double logitScale = c.Logits.Max(Math.Abs);
        Check.Close(c.Logits, g.Logits, 1e-4, 1e-5 * logitScale, "logits");
        Check.Close(c.TrainLogits, g.TrainLogits, 1e-4, 1e-5 * logitScale, "logits with dropout");
        Assert.Equal(c.Loss, g.Loss, 1e-4 * Math.Abs(c.Loss));
        Check.Close(c.PerSample, g.PerSample, 1e-4, 1e-6, "per-sample CE");
        for (int p = 0; p < c.Grads.Length; p++)
        {
            double scale = c.Grads[p].Max(Math.Abs);
            Check.Close(c.Grads[p], g.Grads[p], 1e-3, 1e-4 * scale + 1e-9, "d" + cpu.Parameters[p].Name);
        }
    }

    /// <summary>Invariant 1 on the GPU: alone vs inside a padded batch with garbage padding (float32).</summary>
    [Fact]
    public void Padding_invariance_holds_on_the_gpu()
    {
        Assert.SkipUnless(CudaGpu.Available, CudaGpu.Reason);
        int[] lengths = [23, 1, 8, 17, 5, 2, 3];
        using var ex = new GraphExecutor<float>(Mixed, CudaGpu.Backend, lengths.Length, lengths.Max(), training: true, ownsBackend: false);
        PaddingInvariance.AssertHolds(ex, lengths, new Random(11));
    }

    static double UnweightedAccuracy(Executor ex, IReadOnlyList<Ser.Engine.Data.Batch> batches, int classes)
    {
        var hits = new int[classes];
        var totals = new int[classes];
        foreach (var batch in batches)
        {
            var logits = new float[batch.Count * classes];
            ex.Evaluate(batch, default, logits);
            for (int b = 0; b < batch.Count; b++)
            {
                int best = 0;
                for (int j = 1; j < classes; j++) if (logits[b * classes + j] > logits[b * classes + best]) best = j;
                totals[batch.Labels[b]]++;
                if (best == batch.Labels[b]) hits[batch.Labels[b]]++;
            }
        }
        return Enumerable.Range(0, classes).Where(c => totals[c] > 0).Average(c => (double)hits[c] / totals[c]);
    }

    /// <summary>
    /// The same short run (tiny synthetic set, same seed, dropout on) on both devices: the GPU run - through queued,
    /// sync-free steps - reaches the CPU run's validation UA (within 0.15) and clearly beats chance (0.25).
    /// </summary>
    [Fact]
    public void Training_on_the_gpu_reaches_the_cpus_validation_ua()
    {
        Assert.SkipUnless(CudaGpu.Available, CudaGpu.Reason);
        var config = Mixed;
        var train = SyntheticBatches.Set(21, 48, config.Bins, config.Classes, 12, 60);
        var valid = SyntheticBatches.Set(22, 24, config.Bins, config.Classes, 12, 60);
        var trainBatches = Enumerable.Range(0, 6).Select(i => SyntheticBatches.Make(train.Skip(8 * i).Take(8).ToList(), config.Bins)).ToList();
        var validBatches = Enumerable.Range(0, 3).Select(i => SyntheticBatches.Make(valid.Skip(8 * i).Take(8).ToList(), config.Bins)).ToList();
        var ua = new Dictionary<string, double>();
        foreach (var device in new[] { "cpu", "cuda" })
        {
            using var ex = Executor.Create(config, new ExecutorOptions { Device = device, MaxBatch = 8, MaxFrames = 60, Threads = 2 });
            ex.InitializeParameters(8, InitMode.AllPathsLive);
            ex.Adam = new AdamOptions { LearningRate = 3e-3 };
            for (int epoch = 0; epoch < 15; epoch++)
            {
                foreach (var b in trainBatches) ex.QueueTrainStep(b);
                var totals = ex.TakeQueuedTotals();
                Assert.Equal(trainBatches.Count, totals.Steps);
                Assert.True(double.IsFinite(totals.MeanLoss), $"{device} epoch {epoch}: loss {totals.MeanLoss}");
            }
            ua[device] = UnweightedAccuracy(ex, validBatches, config.Classes);
        }
        Assert.True(ua["cuda"] > 0.5, $"GPU validation UA {ua["cuda"]:0.000} (CPU {ua["cpu"]:0.000})");
        Assert.True(Math.Abs(ua["cuda"] - ua["cpu"]) <= 0.15, $"validation UA: GPU {ua["cuda"]:0.000}, CPU {ua["cpu"]:0.000}");
    }

    [Fact]
    public void Queued_steps_match_train_steps_and_allocate_nothing()
    {
        Assert.SkipUnless(CudaGpu.Available, CudaGpu.Reason);
        var config = Mixed;
        var set = SyntheticBatches.Set(9, 8, config.Bins, config.Classes, 20, 40);
        var batches = new[] { SyntheticBatches.Make(set[..4], config.Bins), SyntheticBatches.Make(set[4..], config.Bins) };
        float[] counts = [1, 2, 1, 2];
        var options = new ExecutorOptions { Device = "cuda", MaxBatch = 4, MaxFrames = 40 };
        using var a = Executor.Create(config, options);
        using var q = Executor.Create(config, options);
        a.InitializeParameters(4, InitMode.AllPathsLive);
        q.InitializeParameters(4, InitMode.AllPathsLive);
        double loss = 0;
        int correct = 0;
        for (int s = 0; s < 4; s++)
        {
            var r = a.TrainStep(batches[s % 2], counts);
            loss += r.Loss;
            correct += r.Correct;
            q.QueueTrainStep(batches[s % 2], counts);
        }
        var totals = q.TakeQueuedTotals();
        Assert.Equal(4, totals.Steps);
        Assert.Equal(loss, totals.LossSum, 1e-5 * Math.Abs(loss));
        Assert.Equal(correct, totals.Correct);
        foreach (var name in a.ParameterNames)
        {
            var pa = a.GetParameter(name);
            Check.Close(pa, q.GetParameter(name), 1e-5, 1e-6 * pa.Max(Math.Abs), name);
        }

        // Steady state: the same batch shapes again allocate nothing on the stepping thread.
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int s = 0; s < 4; s++) q.QueueTrainStep(batches[s % 2], counts);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        q.TakeQueuedTotals();
        Assert.True(allocated == 0, $"4 queued GPU steps allocated {allocated} bytes");
    }

    [Fact]
    public void Predict_through_the_public_api_matches_the_cpu()
    {
        Assert.SkipUnless(CudaGpu.Available, CudaGpu.Reason);
        var r = new Random(12);
        var features = Rand.UniformF(r, 53 * Mixed.Bins);
        var probabilities = new Dictionary<string, float[]>();
        foreach (var device in new[] { "cpu", "cuda" })
        {
            using var ex = Executor.Create(Mixed, new ExecutorOptions { Device = device, Training = false, MaxBatch = 1, MaxFrames = 64 });
            ex.InitializeParameters(6, InitMode.AllPathsLive);
            var p = new float[Mixed.Classes];
            ex.Predict(features, 53, p);
            probabilities[device] = p;
            Assert.Equal(device, ex.Device);
        }
        Check.Close(probabilities["cpu"], probabilities["cuda"], 1e-4, 1e-6, "probabilities");
    }

    static float[] Tone(Random r, int samples)
    {
        var x = new float[samples];
        double f0 = 100 + 300 * r.NextDouble();
        for (int i = 0; i < samples; i++)
            x[i] = (float)(0.3 * Math.Sin(2 * Math.PI * f0 * i / 16000) + 0.05 * (r.NextDouble() * 2 - 1));
        return x;
    }

    [Fact]
    public void Batch_source_features_match_the_cpu_front_end()
    {
        Assert.SkipUnless(CudaGpu.Available, CudaGpu.Reason);
        var r = new Random(13);
        int[] samples = [20_800, 900, 400, 33_600, 16_000]; // 400: shorter than one window
        var pcm = samples.Select(n => Tone(r, n)).ToList();
        var cpuFeatures = pcm.Select(p => FrontEnd.Compute(p)).ToList();
        var acc = new FeatureStatsAccumulator();
        foreach (var f in cpuFeatures) acc.Add(f);
        var stats = acc.Finish();
        using var ex = Executor.Create(ModelConfig.Small, new ExecutorOptions { Device = "cuda", MaxBatch = 4, MaxFrames = 220 });
        using var source = new CudaBatchSource(ex, pcm, [0, 1, 2, 3, 0], stats);
        Assert.True(source.Resident);
        int[] items = [3, 0, 2, 1];
        var (batch, frames) = source.Load(items);
        Assert.Equal((4, items.Max(source.Frames)), (batch, frames));
        var lengths = items.Select(source.Frames).ToArray();
        var view = ex.Graph.PrepareInput(batch, frames, lengths, [3, 0, 2, 1]);
        var gpu = new float[view.Elements];
        ex.Graph.Backend.Download(view, gpu);
        for (int b = 0; b < batch; b++)
        {
            var raw = cpuFeatures[items[b]];
            var normalized = (float[])raw.Clone();
            stats.Normalize(normalized);
            Assert.Equal(raw.Length / FrontEnd.Bins, lengths[b]);
            for (int t = 0; t < frames; t++)
            {
                float peak = t < lengths[b] ? raw.AsSpan(t * FrontEnd.Bins, FrontEnd.Bins).ToArray().Max() : 0;
                for (int f = 0; f < FrontEnd.Bins; f++)
                {
                    float got = gpu[(b * frames + t) * FrontEnd.Bins + f];
                    if (t >= lengths[b])
                    {
                        Assert.True(got == 0, $"sample {b} frame {t} bin {f}: padding holds {got}");
                        continue;
                    }
                    if (raw[t * FrontEnd.Bins + f] < peak - 50) continue; // weak bins carry relatively more FFT rounding
                    double tol = 2e-3 / Math.Max(stats.Std[f], FeatureStats.StdFloor) + 1e-5;
                    float want = normalized[t * FrontEnd.Bins + f];
                    Assert.True(Math.Abs(want - got) <= tol, $"sample {b} frame {t} bin {f}: GPU {got}, CPU {want}");
                }
            }
        }
    }

    [Fact]
    public void Batch_source_steps_are_queued_and_allocate_nothing()
    {
        Assert.SkipUnless(CudaGpu.Available, CudaGpu.Reason);
        var r = new Random(14);
        var pcm = Enumerable.Range(0, 8).Select(i => Tone(r, 8000 + 2000 * i)).ToList();
        int[] labels = [0, 1, 2, 3, 0, 1, 2, 3];
        using var ex = Executor.Create(ModelConfig.Small, new ExecutorOptions { Device = "cuda", MaxBatch = 4, MaxFrames = 200 });
        ex.InitializeParameters(1, InitMode.AllPathsLive);
        using var source = new CudaBatchSource(ex, pcm, labels, FeatureStats.Identity);
        int[][] batches = [[7, 5, 3, 1], [6, 4, 2, 0]];
        foreach (var b in batches) source.QueueTrainStep(b, [2, 2, 2, 2]);
        ex.TakeQueuedTotals();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int s = 0; s < 4; s++) source.QueueTrainStep(batches[s % 2], [2, 2, 2, 2]);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        var totals = ex.TakeQueuedTotals();
        Assert.True(allocated == 0, $"4 queued steps from the batch source allocated {allocated} bytes");
        Assert.Equal((4, 16), (totals.Steps, totals.Count));
        Assert.True(double.IsFinite(totals.MeanLoss));
        var eval = source.Evaluate(batches[0]);
        Assert.Equal(4, eval.Count);
        Assert.True(double.IsFinite(eval.Loss));
    }

    [Fact]
    public void Out_of_memory_names_the_batch_size()
    {
        Assert.SkipUnless(CudaGpu.Available, CudaGpu.Reason);
        var (free, _) = CudaGpu.Backend.MemoryInfo();
        CudaDeviceMemory? blocker = null;
        try
        {
            // Leave ~0.75 GiB: enough for the handles and kernels, far from the paper model's activations at B = 64.
            blocker = CudaDeviceMemory.Allocate(Math.Max(1, free - (768L << 20)));
            var e = Assert.Throws<GpuOutOfMemoryException>(() =>
                Executor.Create(ModelConfig.Paper, new ExecutorOptions { Device = "cuda", MaxBatch = 64, MaxFrames = 1200 }));
            Assert.Contains("batch size 64", e.Message);
            Assert.DoesNotContain('\n', e.Message);
        }
        finally
        {
            blocker?.Dispose();
        }
    }
}
