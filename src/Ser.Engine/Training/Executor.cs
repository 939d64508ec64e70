using Ser.Engine.Backends;
using Ser.Engine.Backends.Cpu;
using Ser.Engine.Backends.Cuda;
using Ser.Engine.Data;
using Ser.Engine.Graph;
using Ser.Engine.Models;

namespace Ser.Engine.Training;

/// <summary>
/// The public face of the engine (float32): one model on one device, for training and inference.
/// <code>
/// using var ex = Executor.Create(ModelConfig.Small, new ExecutorOptions { MaxBatch = 16, MaxFrames = 1200 });
/// ex.InitializeParameters(seed: 1);
/// var r = ex.TrainStep(batch, classCounts);          // forward + weighted loss + backward + Adam
/// var e = ex.Evaluate(batch, classCounts, logits);   // forward only, no dropout
/// ex.Predict(features, frames, probabilities);       // one utterance, no padding
/// Checkpoint.Save(path, ex, labels, stats, metadata, includeOptimizer: true, epoch: 3);
/// </code>
/// A training step in steady state allocates nothing. Not thread-safe: one step at a time.
/// On the GPU (Device = "cuda") <see cref="TrainStep"/> waits for the device once, at the end, to return the loss;
/// <see cref="QueueTrainStep"/> does not wait at all and leaves the results on the device until
/// <see cref="TakeQueuedTotals"/>.
/// </summary>
public sealed class Executor : IDisposable
{
    readonly GraphExecutor<float> _graph;
    readonly float[] _probabilities;

    Executor(GraphExecutor<float> graph, ExecutorOptions options)
    {
        _graph = graph;
        Options = options;
        _probabilities = new float[graph.Config.Classes];
        _graph.DropoutSeed = options.DropoutSeed;
    }

    /// <summary>Builds the model on the requested device with memory planned for the options' largest batch.</summary>
    public static Executor Create(ModelConfig config, ExecutorOptions? options = null)
    {
        options ??= new ExecutorOptions();
        config.Validate();
        if (options.MaxBatch < 1) throw new SerException($"max batch must be >= 1, got {options.MaxBatch}");
        if (options.MaxFrames < 1) throw new SerException($"max frames must be >= 1, got {options.MaxFrames}");
        if (options.MaxPaddedFrames < 0) throw new SerException($"max padded frames must be >= 0, got {options.MaxPaddedFrames}");
        Backend<float> backend = CreateBackend(options);
        try
        {
            return new Executor(new GraphExecutor<float>(config, backend, options.MaxBatch, options.MaxFrames, options.Training,
                ownsBackend: true, maxPaddedFrames: options.MaxPaddedFrames, fuseConvBlocks: options.FuseConvBlocks), options);
        }
        catch (Exception e) when (GpuOutOfMemoryException.IsOutOfMemory(e))
        {
            backend.Dispose();
            throw OutOfMemory("planning memory for", options.MaxBatch, options.MaxFrames, e);
        }
        catch
        {
            backend.Dispose();
            throw;
        }
    }

    /// <summary>
    /// How device "cuda" is opened when not the default (<see cref="CudaBackend{T}.Open"/>, which throws a one-line
    /// <see cref="SerException"/> when no GPU or library is usable); a hook for tests.
    /// </summary>
    internal static Func<ExecutorOptions, Backend<float>>? CudaBackendFactory { get; set; }

    static Backend<float> OpenCuda(ExecutorOptions options) => CudaBackend<float>.Open(options.GpuOrdinal, options.Tf32);

    static Backend<float> CreateBackend(ExecutorOptions options) => options.Device.ToLowerInvariant() switch
    {
        "cpu" => new CpuBackend<float>(options.Threads, options.Simd),
        "cuda" => (CudaBackendFactory ?? OpenCuda)(options),
        "auto" => CudaBackend<float>.IsAvailable(out _) ? (CudaBackendFactory ?? OpenCuda)(options) : new CpuBackend<float>(options.Threads, options.Simd),
        _ => throw new SerException($"unknown device '{options.Device}' (expected cpu, cuda or auto)"),
    };

    static GpuOutOfMemoryException OutOfMemory(string doing, int batch, int frames, Exception e) =>
        new($"GPU out of memory {doing} batch size {batch} x {frames} frames ({e.Message}); use a smaller batch size", e);

    public ModelConfig Config => _graph.Config;
    public ExecutorOptions Options { get; }
    public AdamOptions Adam { get; set; } = new();
    /// <summary>The loss's weights and normaliser (defaults: 1/(length x class count), each batch's own weight sum).</summary>
    public LossOptions Loss
    {
        get => _graph.LossOptions;
        set => _graph.LossOptions = value ?? throw new ArgumentNullException(nameof(value));
    }
    public string Device => _graph.Backend.Name;
    public int Threads => _graph.Backend.Workers;
    public bool IsTraining => _graph.Training;

    /// <summary>Adam steps taken so far (restored from a checkpoint with optimizer state).</summary>
    public long OptimizerStep
    {
        get => _graph.Step;
        internal set => _graph.Step = value;
    }

    /// <summary>Per-layer timing hook (null = off).</summary>
    public IExecutorObserver? Observer
    {
        get => _graph.Observer;
        set => _graph.Observer = value;
    }

    /// <summary>Peak working memory: every arena plus the backend's own scratch (CPU: per-thread panels; GPU: cuDNN weight
    /// spaces, staging), in bytes.</summary>
    public long ArenaBytes => _graph.Backend switch
    {
        CpuBackend<float> cpu => _graph.ArenaBytes + cpu.ScratchBytes,
        CudaBackend<float> cuda => cuda.DeviceBytes,
        _ => _graph.ArenaBytes,
    };

    /// <summary>The CUDA backend when this executor runs on the GPU.</summary>
    internal CudaBackend<float>? Cuda => _graph.Backend as CudaBackend<float>;

    /// <summary>Bytes per arena (parameters, gradients, adam-moments, activations, workspace).</summary>
    public IReadOnlyList<(string Name, long Bytes)> ArenaUsage => _graph.Arenas().ToList();

    /// <summary>Layer names in execution order, for profilers.</summary>
    public IReadOnlyList<string> LayerNames => _graph.Layers.Select(l => l.Name).ToList();

    /// <summary>
    /// Layers whose work another layer does, mapped to that layer: in a CPU training executor relu1, mask1, pool1 (and
    /// so on per block) run inside conv1's fused pass, so a profile shows them with no time of their own. Empty otherwise.
    /// </summary>
    public IReadOnlyDictionary<string, string> FusedLayers =>
        _graph.Layers.Where(l => l.FusedInto is not null).ToDictionary(l => l.Name, l => l.FusedInto!);

    public IReadOnlyList<string> ParameterNames => _graph.Parameters.Select(p => p.Name).ToList();

    public int ParameterCount => (int)_graph.Parameters.Sum(p => p.Shape.Elements);

    internal GraphExecutor<float> Graph => _graph;

    /// <summary>Fresh weights (documented in <see cref="ParameterInit"/>) and cleared optimizer state.</summary>
    public void InitializeParameters(ulong seed, InitMode mode = InitMode.Training) => _graph.InitializeParameters(seed, mode);

    /// <summary>
    /// Forward, weighted loss (w_b = 1/(V_b n_{y_b}), n = <paramref name="classCounts"/>, all ones if empty), backward
    /// and one Adam update with <see cref="Adam"/>.
    /// </summary>
    public StepResult TrainStep(Batch batch, ReadOnlySpan<float> classCounts = default)
    {
        if (!IsTraining) throw new InvalidOperationException("this executor was created for inference (Training = false)");
        try
        {
            Load(batch);
            _graph.Forward(training: true);
            var a = Adam;
            if (Cuda is { } cuda)
            {
                // One wait, at the end of the step: loss and correct count (counted on the GPU) are read after backward
                // and Adam are queued, so the GPU never idles mid-step and the step is complete when this returns.
                DeviceLoss(cuda, CudaLossMode.Defer, classCounts);
                _graph.Backward();
                double gpuNorm = _graph.ApplyAdam(a.LearningRate, a.Beta1, a.Beta2, a.Epsilon, a.WeightDecay, a.ClipNorm);
                var (gpuLoss, gpuCorrect) = cuda.ReadLoss();
                return new StepResult(gpuLoss, gpuCorrect, batch.Count, gpuNorm);
            }
            double loss = _graph.Loss(classCounts, gradient: true);
            int correct = CountCorrect(batch, default);
            _graph.Backward();
            double norm = _graph.ApplyAdam(a.LearningRate, a.Beta1, a.Beta2, a.Epsilon, a.WeightDecay, a.ClipNorm);
            return new StepResult(loss, correct, batch.Count, norm);
        }
        catch (Exception e) when (GpuOutOfMemoryException.IsOutOfMemory(e))
        {
            throw OutOfMemory("training on", batch.Count, batch.Frames, e);
        }
    }

    /// <summary>
    /// <see cref="TrainStep"/> without reading anything back: on the GPU no host synchronisation at all (unless
    /// <see cref="AdamOptions.ClipNorm"/> is on, which reads the gradient norm). Loss and correct predictions add up on
    /// the device until <see cref="TakeQueuedTotals"/>. On the CPU the same totals are kept on the host.
    /// </summary>
    public void QueueTrainStep(Batch batch, ReadOnlySpan<float> classCounts = default)
    {
        if (Cuda is null)
        {
            var r = TrainStep(batch, classCounts);
            _hostTotals = _hostTotals.Add(r.Loss, r.Correct, r.Count);
            return;
        }
        if (!IsTraining) throw new InvalidOperationException("this executor was created for inference (Training = false)");
        try
        {
            Load(batch);
            QueueLoadedTrainStep(classCounts);
        }
        catch (Exception e) when (GpuOutOfMemoryException.IsOutOfMemory(e))
        {
            throw OutOfMemory("training on", batch.Count, batch.Frames, e);
        }
    }

    QueuedStepTotals _hostTotals;

    /// <summary>A queued step on the input already in place (GPU only; the CUDA batch source loads it).</summary>
    internal void QueueLoadedTrainStep(ReadOnlySpan<float> classCounts)
    {
        var cuda = Cuda ?? throw new InvalidOperationException("queued steps on a loaded input need the GPU");
        _graph.Forward(training: true);
        DeviceLoss(cuda, CudaLossMode.Accumulate, classCounts);
        _graph.Backward();
        var a = Adam;
        _graph.ApplyAdam(a.LearningRate, a.Beta1, a.Beta2, a.Epsilon, a.WeightDecay, a.ClipNorm);
    }

    /// <summary>Loss and its gradient on the GPU, read back as <paramref name="mode"/> says (then back to Read).</summary>
    void DeviceLoss(CudaBackend<float> cuda, CudaLossMode mode, ReadOnlySpan<float> classCounts)
    {
        cuda.LossMode = mode;
        try
        {
            _graph.Loss(classCounts, gradient: true);
        }
        finally
        {
            cuda.LossMode = CudaLossMode.Read;
        }
    }

    /// <summary>Totals of the steps queued since the last call (then cleared). On the GPU: one host synchronisation.</summary>
    public QueuedStepTotals TakeQueuedTotals()
    {
        if (Cuda is { } cuda)
        {
            var (steps, loss, correct, samples) = cuda.TakeTotals();
            return new QueuedStepTotals(steps, loss, correct, samples);
        }
        var t = _hostTotals;
        _hostTotals = default;
        return t;
    }

    /// <summary>Forward only (dropout off): loss and accuracy on the batch; logits [B, K] copied out if given.</summary>
    public StepResult Evaluate(Batch batch, ReadOnlySpan<float> classCounts = default, Span<float> logits = default)
    {
        try
        {
            Load(batch);
            return EvaluateLoaded(classCounts, batch.Labels.AsSpan(0, batch.Count), logits);
        }
        catch (Exception e) when (GpuOutOfMemoryException.IsOutOfMemory(e))
        {
            throw OutOfMemory("evaluating", batch.Count, batch.Frames, e);
        }
    }

    /// <summary>Forward, loss and accuracy on the input already in place (labels: the batch's, B of them).</summary>
    internal StepResult EvaluateLoaded(ReadOnlySpan<float> classCounts, ReadOnlySpan<int> labels, Span<float> logits)
    {
        _graph.Forward(training: false);
        double loss = _graph.Loss(classCounts, gradient: false);
        return new StepResult(loss, CountCorrect(labels, logits), labels.Length);
    }

    /// <summary>
    /// Class posteriors for one utterance: features [T, F] (already normalised), run alone with no padding.
    /// probabilities receives K values.
    /// </summary>
    public void Predict(ReadOnlySpan<float> features, int frames, Span<float> probabilities)
    {
        int bins = Config.Bins;
        if (frames < 1) throw new SerException("cannot classify an utterance with no frames");
        if (features.Length < frames * bins) throw new ArgumentException($"features hold {features.Length} values, [T, F] needs {frames * bins}");
        if (probabilities.Length < Config.Classes) throw new ArgumentException($"probabilities must hold {Config.Classes} values");
        try
        {
            _graph.SetInput(features[..(frames * bins)], 1, frames, [frames]);
            _graph.Forward(training: false);
            Softmax(_graph.Logits(), probabilities[..Config.Classes]);
        }
        catch (Exception e) when (GpuOutOfMemoryException.IsOutOfMemory(e))
        {
            throw OutOfMemory("classifying", 1, frames, e);
        }
    }

    /// <summary>Softmax of each row of logits [B, K] into probabilities [B, K].</summary>
    public static void Softmax(ReadOnlySpan<float> logits, Span<float> probabilities)
    {
        float max = float.NegativeInfinity;
        foreach (float v in logits) max = Math.Max(max, v);
        double sum = 0;
        for (int i = 0; i < logits.Length; i++) sum += Math.Exp(logits[i] - max);
        for (int i = 0; i < logits.Length; i++) probabilities[i] = (float)(Math.Exp(logits[i] - max) / sum);
    }

    public int[] ParameterShape(string name) => _graph.Parameters[Index(name)].Shape.ToArray();

    public float[] GetParameter(string name)
    {
        var view = _graph.ParameterView(Index(name));
        var a = new float[view.Elements];
        _graph.Backend.Download(view, a);
        return a;
    }

    public void SetParameter(string name, ReadOnlySpan<float> values)
    {
        var view = _graph.ParameterView(Index(name));
        if (values.Length != view.Elements) throw new ArgumentException($"{name} has {view.Elements} values, got {values.Length}");
        _graph.Backend.Upload(values, view);
    }

    /// <summary>Adam moment (0 = m, 1 = v) of a parameter (training executors only).</summary>
    internal float[] GetMoment(string name, int moment)
    {
        var view = _graph.MomentView(Index(name), moment);
        var a = new float[view.Elements];
        _graph.Backend.Download(view, a);
        return a;
    }

    internal void SetMoment(string name, int moment, ReadOnlySpan<float> values) =>
        _graph.Backend.Upload(values, _graph.MomentView(Index(name), moment));

    int Index(string name)
    {
        int i = _graph.ParameterIndex(name);
        return i >= 0 ? i : throw new ArgumentException($"no parameter named '{name}'");
    }

    void Load(Batch batch)
    {
        if (batch.Count < 1) throw new ArgumentException("batch is empty");
        if (batch.Bins != Config.Bins) throw new SerException($"batch has {batch.Bins} bins, the model takes {Config.Bins}");
        _graph.SetInput(batch.Features.AsSpan(0, batch.Count * batch.Frames * batch.Bins), batch.Count, batch.Frames,
            batch.Lengths.AsSpan(0, batch.Count), batch.Labels.AsSpan(0, batch.Count));
    }

    int CountCorrect(Batch batch, Span<float> logitsOut) => CountCorrect(batch.Labels.AsSpan(0, batch.Count), logitsOut);

    int CountCorrect(ReadOnlySpan<int> labels, Span<float> logitsOut)
    {
        var logits = _graph.Logits();
        int k = Config.Classes, correct = 0;
        if (!logitsOut.IsEmpty) logits.CopyTo(logitsOut);
        for (int b = 0; b < labels.Length; b++)
        {
            var row = logits.Slice(b * k, k);
            int best = 0;
            for (int j = 1; j < k; j++) if (row[j] > row[best]) best = j;
            if (best == labels[b]) correct++;
        }
        return correct;
    }

    public void Dispose() => _graph.Dispose();
}
