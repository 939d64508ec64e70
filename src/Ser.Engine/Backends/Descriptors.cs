namespace Ser.Engine.Backends;

/// <summary>
/// A 2-D convolution over [B, C, T, F] maps: stride 1, "same" zero padding with PyTorch's convention for even kernels
/// (pad_before = (k-1)/2, pad_after = k-1-pad_before). Time T is the sample axis with per-sample valid lengths.
/// </summary>
internal readonly record struct ConvDesc(int InChannels, int OutChannels, int KernelT, int KernelF, int Bins)
{
    public int PadT => (KernelT - 1) / 2;
    public int PadF => (KernelF - 1) / 2;
    /// <summary>K of the implicit GEMM: Cin * KT * KF.</summary>
    public int PatchSize => InChannels * KernelT * KernelF;
}

/// <summary>A bidirectional single-layer LSTM: input I, hidden H per direction, PyTorch gate order (i, f, g, o).</summary>
internal readonly record struct LstmDesc(int InputSize, int Hidden)
{
    public int Gates => 4 * Hidden;
}

/// <summary>The six tensors of a BiLSTM (or their gradients), named as in the checkpoint (lstm.fw.w_ih ...).</summary>
internal readonly record struct LstmParams(
    Tensors.TensorView FwIh,   // [4H, I]
    Tensors.TensorView FwHh,   // [4H, H]
    Tensors.TensorView FwBias, // [4H]
    Tensors.TensorView BwIh,   // [4H, I]
    Tensors.TensorView BwHh,   // [4H, H]
    Tensors.TensorView BwBias) // [4H]
{
    public Tensors.TensorView Ih(int direction) => direction == 0 ? FwIh : BwIh;
    public Tensors.TensorView Hh(int direction) => direction == 0 ? FwHh : BwHh;
    public Tensors.TensorView Bias(int direction) => direction == 0 ? FwBias : BwBias;
}

/// <summary>One Adam step's scalars (bias corrections folded in by the caller).</summary>
internal readonly record struct AdamStep(double LearningRate, double Beta1, double Beta2, double Epsilon, double WeightDecay,
    double Correction1, double Correction2, double GradScale);
