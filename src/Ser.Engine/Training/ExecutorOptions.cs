namespace Ser.Engine.Training;

/// <summary>How to build an <see cref="Executor"/>: the largest batch shape it must hold (memory is planned for it once),
/// whether it trains, the device and threads.</summary>
public sealed record ExecutorOptions
{
    /// <summary>Largest batch size (utterances). Larger batches grow the arenas (allocation) on first use.</summary>
    public int MaxBatch { get; init; } = 16;
    /// <summary>Largest padded frame count T of a batch (100 frames per second of audio).</summary>
    public int MaxFrames { get; init; } = 1200;
    /// <summary>False: inference only, no gradient or optimizer memory.</summary>
    public bool Training { get; init; } = true;
    /// <summary>CPU threads; 0 = <see cref="Environment.ProcessorCount"/>.</summary>
    public int Threads { get; init; }
    /// <summary>"cpu" (the CUDA backend registers "cuda" when it lands).</summary>
    public string Device { get; init; } = "cpu";
    /// <summary>Seeds dropout masks (with the step number).</summary>
    public ulong DropoutSeed { get; init; } = 0x5E5_0D50UL;
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

/// <summary>What one training or evaluation step measured on its batch.</summary>
/// <param name="Loss">The contract's weighted loss sum_b w_b CE_b / sum_b w_b.</param>
/// <param name="Correct">Samples whose argmax logit equals the label.</param>
/// <param name="Count">Samples in the batch.</param>
/// <param name="GradientNorm">Global gradient L2 norm before clipping (training with clipping only, else 0).</param>
public readonly record struct StepResult(double Loss, int Correct, int Count, double GradientNorm = 0);
