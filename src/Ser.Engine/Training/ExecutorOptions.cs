namespace Ser.Engine.Training;

/// <summary>How to build an <see cref="Executor"/>: the largest batch shape it must hold (memory is planned for it once),
/// whether it trains, the device and threads.</summary>
public sealed record ExecutorOptions
{
    /// <summary>Largest batch size (utterances). Larger batches grow the arenas (allocation) on first use.</summary>
    public int MaxBatch { get; init; } = 16;
    /// <summary>Largest padded frame count T of a batch (100 frames per second of audio).</summary>
    public int MaxFrames { get; init; } = 1200;
    /// <summary>
    /// Largest B * T of a batch (the data loader's frame cap per batch); 0 = MaxBatch * MaxFrames. Activation memory
    /// is planned for this many padded frames.
    /// </summary>
    public long MaxPaddedFrames { get; init; }
    /// <summary>False: inference only, no gradient or optimizer memory.</summary>
    public bool Training { get; init; } = true;
    /// <summary>CPU threads; 0 = <see cref="Environment.ProcessorCount"/>.</summary>
    public int Threads { get; init; }
    /// <summary>CPU kernels' vector width; null = <see cref="Backends.Cpu.CpuKernels.Current"/> (--simd, SER_SIMD, else the widest).</summary>
    public Backends.Cpu.SimdPath? Simd { get; init; }
    /// <summary>"cpu", "cuda" (the GPU; a one-line error when there is none) or "auto" (the GPU when usable, else the CPU).</summary>
    public string Device { get; init; } = "cpu";
    /// <summary>Which GPU (CUDA device ordinal) "cuda" and "auto" use.</summary>
    public int GpuOrdinal { get; init; }
    /// <summary>GPU only, speed over accuracy: allow TF32 tensor-core math in cuDNN/cuBLAS and FFT/Winograd convolution
    /// algorithms (faster; ~1e-3 relative error, so CPU and GPU results no longer agree to float32 rounding). Off by
    /// default.</summary>
    public bool Tf32 { get; init; }
    /// <summary>
    /// Training on the CPU runs each conv, relu, mask, pool block as one fused pass that never stores the conv-resolution
    /// maps (about half the activation memory of the paper preset); false: the separate layers. Same results either way
    /// (tests compare them bit for bit); internal, for those tests.
    /// </summary>
    internal bool FuseConvBlocks { get; init; } = true;
    /// <summary>Seeds dropout masks (with the step number).</summary>
    public ulong DropoutSeed { get; init; } = 0x5E5_0D50UL;

    /// <summary>
    /// Options sized for the largest batch a reusable <see cref="Data.Batch"/> buffer can hold (e.g. the data loader's
    /// CreateBatch()): capacity, frame capacity and padded-frame budget.
    /// </summary>
    public static ExecutorOptions For(Data.Batch batch, bool training = true, string device = "cpu", int threads = 0) => new()
    {
        MaxBatch = batch.Capacity,
        MaxFrames = batch.FrameCapacity,
        MaxPaddedFrames = batch.MaxPaddedFrames,
        Training = training,
        Device = device,
        Threads = threads,
    };
}

/// <summary>Adam settings (β1 0.9, β2 0.999, ε 1e-8; decoupled weight decay and grad-norm clipping off by default).</summary>
public sealed record AdamOptions
{
    public double LearningRate { get; init; } = 1e-3;
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.999;
    public double Epsilon { get; init; } = 1e-8;
    /// <summary>AdamW-style decoupled decay: p -= lr * wd * p. 0 = off.</summary>
    public double WeightDecay { get; init; }
    /// <summary>Scale gradients so their global L2 norm is at most this. 0 = off.</summary>
    public double ClipNorm { get; init; }
}

/// <summary>
/// The weighted loss: w_b = 1 / (V_b n_{y_b}) (V_b valid frames, n class counts; the V_b factor only with
/// <see cref="LengthWeight"/>), loss = sum_b w_b CE_b / N with N = <see cref="Normalizer"/>, or the batch's own
/// sum_b w_b when that is 0 (then the weights only set the mix inside a batch).
/// </summary>
public sealed record LossOptions
{
    public bool LengthWeight { get; init; } = true;
    /// <summary>N; 0 = each batch's sum of weights.</summary>
    public double Normalizer { get; init; }
}

/// <summary>What one training or evaluation step measured on its batch.</summary>
/// <param name="Loss">The contract's weighted loss sum_b w_b CE_b / sum_b w_b.</param>
/// <param name="Correct">Samples whose argmax logit equals the label.</param>
/// <param name="Count">Samples in the batch.</param>
/// <param name="GradientNorm">Global gradient L2 norm before clipping (training with clipping only, else 0).</param>
public readonly record struct StepResult(double Loss, int Correct, int Count, double GradientNorm = 0);

/// <summary>What the steps queued with <see cref="Executor.QueueTrainStep"/> measured, added up.</summary>
/// <param name="Steps">Steps queued.</param>
/// <param name="LossSum">Sum of the steps' losses (each the batch's weighted loss).</param>
/// <param name="Correct">Samples whose argmax logit equals the label (training mode: dropout active).</param>
/// <param name="Count">Samples.</param>
public readonly record struct QueuedStepTotals(int Steps, double LossSum, int Correct, int Count)
{
    public double MeanLoss => Steps > 0 ? LossSum / Steps : double.NaN;
    public double Accuracy => Count > 0 ? (double)Correct / Count : double.NaN;
    internal QueuedStepTotals Add(double loss, int correct, int count) => new(Steps + 1, LossSum + loss, Correct + correct, Count + count);
}
