using Ser.Reference.Checkpoints;
using Ser.Reference.Native;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Ser.Reference;

/// <summary>
/// The contract's CRNN written the way a PyTorch user would write it for SPEED, for the timed side of the benchmark
/// (<see cref="ReferenceCrnn"/> stays the readable oracle; a test checks the two agree to float64 precision).
/// Legend: B batch, T frames, F bins, C channels, I = C3*F3, H hidden per direction, D dense, K classes.
///
/// What it computes (and what that costs compared with the engine):
///  - convolutions, ReLU, mask and ceil-mode pooling on the whole PADDED batch [B,1,T,F] (torch has no per-sample
///    valid-length convolution; masking after ReLU keeps the contract's semantics, padded frames are computed and zeroed);
///  - the BiLSTM as ONE torch.nn.LSTM(bidirectional) call on a PackedSequence (pack_padded_sequence, batch sorted by
///    length): libtorch's fused RNN kernel, which runs each direction over each sample's own valid steps, so h_n of the
///    forward direction is h at V3_b - 1 and h_n of the reverse direction is h after step 0 started at V3_b - 1, exactly the
///    contract; b_hh is frozen at zero (the contract's single bias is b_ih);
///  - dense layers, dropout (active in <see cref="TrainStep"/>, like the engine's training step), weighted cross-entropy;
///  - training: loss.backward() and torch.optim.Adam (lr 1e-3, betas 0.9/0.999, eps 1e-8: the engine's defaults).
/// </summary>
public sealed class TorchCrnn : IDisposable
{
    readonly Parameter[] _convWeight = new Parameter[3], _convBias = new Parameter[3];
    readonly Parameter _fc1Weight, _fc1Bias, _fc2Weight, _fc2Bias;
    readonly LSTM _lstm;
    readonly Dictionary<string, Parameter> _lstmParameters; // torch names (weight_ih_l0, ..._reverse)
    readonly ScalarType _dtype;
    Adam? _optimizer;
    bool _disposed;

    /// <summary>Contract name -> torch.nn.LSTM parameter name (b_hh is not a contract parameter: frozen at zero).</summary>
    static readonly (string Contract, string Torch)[] LstmNames =
    [
        ("lstm.fw.w_ih", "weight_ih_l0"), ("lstm.fw.w_hh", "weight_hh_l0"), ("lstm.fw.bias", "bias_ih_l0"),
        ("lstm.bw.w_ih", "weight_ih_l0_reverse"), ("lstm.bw.w_hh", "weight_hh_l0_reverse"), ("lstm.bw.bias", "bias_ih_l0_reverse"),
    ];

    public TorchCrnn(ReferenceConfig config, IReadOnlyDictionary<string, HostTensor> weights, bool float64 = false)
    {
        TorchSharpLoader.EnsureLoaded();
        config.CheckShapes(weights.ToDictionary(w => w.Key, w => w.Value.Shape));
        Config = config;
        _dtype = float64 ? ScalarType.Float64 : ScalarType.Float32;
        Parameter P(string name) => new(Tensor(weights[name]).DetachFromDisposeScope(), requires_grad: true);
        for (int i = 0; i < 3; i++)
        {
            _convWeight[i] = P($"conv{i + 1}.weight");
            _convBias[i] = P($"conv{i + 1}.bias");
        }
        _fc1Weight = P("fc1.weight");
        _fc1Bias = P("fc1.bias");
        _fc2Weight = P("fc2.weight");
        _fc2Bias = P("fc2.bias");

        _lstm = nn.LSTM(config.LstmInput, config.Hidden, bidirectional: true, batchFirst: true, dtype: _dtype);
        _lstmParameters = _lstm.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        using (no_grad())
        {
            foreach (var (contract, torchName) in LstmNames) _lstmParameters[torchName].copy_(Tensor(weights[contract]));
            foreach (var name in new[] { "bias_hh_l0", "bias_hh_l0_reverse" })
                _lstmParameters[name].zero_().requires_grad_(false);
        }
    }

    public ReferenceConfig Config { get; }

    /// <summary>The contract's parameters (what Adam updates), in contract order.</summary>
    IEnumerable<(string Name, Parameter Parameter)> ContractParameters()
    {
        for (int i = 0; i < 3; i++)
        {
            yield return ($"conv{i + 1}.weight", _convWeight[i]);
            yield return ($"conv{i + 1}.bias", _convBias[i]);
        }
        foreach (var (contract, torchName) in LstmNames) yield return (contract, _lstmParameters[torchName]);
        yield return ("fc1.weight", _fc1Weight);
        yield return ("fc1.bias", _fc1Bias);
        yield return ("fc2.weight", _fc2Weight);
        yield return ("fc2.bias", _fc2Bias);
    }

    /// <summary>Current weights by contract name (float32 copies).</summary>
    public Dictionary<string, HostTensor> Weights() => ContractParameters().ToDictionary(p => p.Name, p =>
    {
        using var f = p.Parameter.detach().to_type(ScalarType.Float32).contiguous();
        return new HostTensor(f.shape.Select(d => (int)d).ToArray(), f.data<float>().ToArray());
    }, StringComparer.Ordinal);

    /// <summary>Logits [B,K] (eval: no dropout, no autograd) for features [B,T,F] and lengths [B].</summary>
    public double[] Logits(float[] features, int[] lengths)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        return Doubles(Forward(features, lengths, training: false));
    }

    /// <summary>Forward only, result discarded: the timed inference path (eval, no autograd).</summary>
    public void Infer(float[] features, int[] lengths)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Forward(features, lengths, training: false);
    }

    /// <summary>The loss's weights and normaliser, as the engine's <see cref="Engine.Training.Executor.Loss"/>.</summary>
    public Engine.Training.LossOptions Loss { get; init; } = new();

    /// <summary>Adam's ε for <see cref="TrainStep"/> (the engine's default 1e-8); set before the first step.</summary>
    public double AdamEpsilon { get; init; } = 1e-8;

    /// <summary>One training step: zero grads, forward (dropout on), weighted loss, backward, Adam. Returns the loss.</summary>
    public double TrainStep(float[] features, int[] lengths, int[] labels, float[]? classCounts = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _optimizer ??= torch.optim.Adam(ContractParameters().Select(p => p.Parameter), lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: AdamEpsilon);
        using var scope = NewDisposeScope();
        _optimizer.zero_grad();
        var loss = WeightedLoss(Forward(features, lengths, training: true), lengths, labels, classCounts);
        loss.backward();
        _optimizer.step();
        return loss.to_type(ScalarType.Float64).item<double>();
    }

    /// <summary>Eval-mode forward, loss and backward (no update): loss, logits and gradients by contract name.</summary>
    public ReferenceCrnn.StepResult Gradients(float[] features, int[] lengths, int[] labels, float[]? classCounts = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        using var scope = NewDisposeScope();
        foreach (var (_, p) in ContractParameters()) p.grad?.zero_();
        var logits = Forward(features, lengths, training: false);
        var loss = WeightedLoss(logits, lengths, labels, classCounts);
        loss.backward();
        var gradients = ContractParameters().ToDictionary(p => p.Name, p => Doubles(p.Parameter.grad!), StringComparer.Ordinal);
        return new ReferenceCrnn.StepResult(loss.to_type(ScalarType.Float64).item<double>(), Doubles(logits), [], gradients);
    }

    Tensor Forward(float[] features, int[] lengths, bool training)
    {
        int batch = lengths.Length, bins = Config.Bins;
        if (batch == 0 || features.Length % (batch * bins) != 0)
            throw new ArgumentException($"features hold {features.Length} values, not a multiple of B*F = {batch}*{bins}");
        int frames = features.Length / (batch * bins);
        var x = torch.tensor(features, [batch, 1, frames, bins]);                         // [B,1,T,F], padding is zero
        if (_dtype != ScalarType.Float32) x = x.to_type(_dtype);
        var valid = lengths.ToArray();
        for (int i = 0; i < 3; i++)
        {
            var spec = Config.Convs[i];
            x = Conv(x, _convWeight[i], _convBias[i], spec.KernelTime, spec.KernelFreq);  // [B,C,T,F]
            // mask then ReLU (same result: relu(0) = 0), both in place: conv2d's backward needs its input, not its output
            x = x.mul_(FrameMask(valid, (int)x.shape[2])).relu_();
            x = F.max_pool2d(x, [2, 2], [2, 2], ceil_mode: true);                         // [B,C,ceil(T/2),ceil(F/2)]
            for (int b = 0; b < batch; b++) valid[b] = ReferenceConfig.CeilHalf(valid[b]);
        }
        long t3 = x.shape[2];
        var sequence = x.permute(0, 2, 1, 3).reshape(batch, t3, Config.LstmInput);         // [B,T3,I], index c*F3 + f

        // Sort by length (pack_padded_sequence's fast path), run both directions in one fused call, unsort.
        var order = Enumerable.Range(0, batch).OrderByDescending(b => valid[b]).ToArray();
        var inverse = new long[batch];
        for (int r = 0; r < batch; r++) inverse[order[r]] = r;
        var sorted = sequence.index_select(0, torch.tensor(order.Select(b => (long)b).ToArray()));
        var packed = nn.utils.rnn.pack_padded_sequence(sorted, torch.tensor(order.Select(b => (long)valid[b]).ToArray()),
            batch_first: true, enforce_sorted: true);
        var (_, hN, _) = _lstm.call(packed);                                                 // h_n [2,B,H]: fw, bw
        var utterance = torch.cat([hN[0], hN[1]], 1).index_select(0, torch.tensor(inverse)); // [B,2H]

        var hidden = F.relu(F.linear(utterance, _fc1Weight, _fc1Bias));                      // [B,D]
        hidden = F.dropout(hidden, Config.Dropout, training);
        return F.linear(hidden, _fc2Weight, _fc2Bias);                                       // [B,K]
    }

    /// <summary>
    /// "Same" padding, (k-1)/2 before and k/2 after, without copying the input into a padded buffer: conv2d pads k/2 on
    /// both sides, which for an even k gives one extra output row/column at the START (window at t - k/2), dropped by a view.
    /// </summary>
    static Tensor Conv(Tensor x, Tensor weight, Tensor bias, int kernelTime, int kernelFreq)
    {
        var y = F.conv2d(x, weight, bias, padding: [kernelTime / 2, kernelFreq / 2]);     // [B,C,T + 1 - KT%2, F + 1 - KF%2]
        if (kernelTime % 2 == 0) y = y.narrow(2, 1, y.shape[2] - 1);
        if (kernelFreq % 2 == 0) y = y.narrow(3, 1, y.shape[3] - 1);
        return y;
    }

    Tensor FrameMask(int[] valid, int frames)
    {
        var lengths = torch.tensor(valid.Select(v => (long)v).ToArray()).reshape(valid.Length, 1, 1, 1);
        return (torch.arange(frames).reshape(1, 1, frames, 1) < lengths).to_type(_dtype);  // [B,1,T,1]
    }

    Tensor WeightedLoss(Tensor logits, int[] lengths, int[] labels, float[]? classCounts)
    {
        var w = ReferenceCrnn.LossWeights(Loss, lengths, labels, classCounts);
        var weights = torch.tensor(w).to_type(_dtype);                                        // [B]
        var y = torch.tensor(labels.Select(l => (long)l).ToArray()).unsqueeze(1);             // [B,1]
        var ce = -F.log_softmax(logits, 1).gather(1, y).squeeze(1);                           // [B]
        return (weights * ce).sum() / (Loss.Normalizer > 0 ? Loss.Normalizer : w.Sum());
    }

    Tensor Tensor(HostTensor w)
    {
        var t = torch.tensor(w.Data, w.Shape.Select(d => (long)d).ToArray());
        return _dtype == ScalarType.Float32 ? t : t.to_type(_dtype);
    }

    static double[] Doubles(Tensor t)
    {
        using var d = t.detach().to_type(ScalarType.Float64).contiguous();
        return d.data<double>().ToArray();
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _optimizer?.Dispose();
        _lstm.Dispose();
        foreach (var p in _convWeight.Concat(_convBias).Append(_fc1Weight).Append(_fc1Bias).Append(_fc2Weight).Append(_fc2Bias))
            p.Dispose();
    }
}
