using System.Text.Json;
using Ser.Engine;
using Ser.Reference.Checkpoints;
using Ser.Reference.Native;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Ser.Reference;

/// <summary>
/// The contract's variable-length CRNN in TorchSharp, written for obviousness, not speed: the oracle the engine is
/// checked against. Legend: B batch, T frames, F bins, C channels, H hidden per direction, D dense, K classes;
/// Vb valid frames of sample b; suffix 1..3 = after conv block 1..3 (T3 = ceil(ceil(ceil(T/2)/2)/2)).
///
/// Variable length: after each conv+ReLU, frames t >= Vb are zeroed; pooling is ceil mode, and since ReLU outputs are
/// >= 0 a masked (zero) partner never wins a max over a valid frame, so the max is over valid frames only; the
/// BiLSTM is unrolled step by step over the padded batch with a per-sample "valid" mask that freezes h and c on
/// padded steps (forward: h at Vb3 - 1; backward: starts at its own Vb3 - 1 from zero state, read after step 0).
/// Gradients come from autograd. Dropout is identity (eval), as in every equivalence test.
/// </summary>
public sealed class ReferenceCrnn : IDisposable
{
    private readonly Dictionary<string, Tensor> _parameters = new(StringComparer.Ordinal); // leaves, requires_grad
    private readonly ScalarType _dtype;
    private bool _disposed;

    /// <summary>
    /// The result of <see cref="Step"/>: weighted loss, logits [B,K], u [B,2H] and gradients by parameter name (row-major,
    /// shapes as in <see cref="ReferenceConfig.ParameterShapes"/>). Outputs are double so a float64 model loses nothing.
    /// </summary>
    public sealed record StepResult(double Loss, double[] Logits, double[] Utterance, IReadOnlyDictionary<string, double[]> Gradients);

    /// <summary>Builds the model from weights (name -> row-major float32 + shape, the checkpoint names).</summary>
    /// <param name="float64">Compute in double precision (a tighter oracle); inputs stay float, outputs are double anyway.</param>
    public ReferenceCrnn(ReferenceConfig config, IReadOnlyDictionary<string, HostTensor> weights, bool float64 = false)
    {
        TorchSharpLoader.EnsureLoaded();
        config.CheckShapes(weights.ToDictionary(w => w.Key, w => w.Value.Shape));
        Config = config;
        _dtype = float64 ? ScalarType.Float64 : ScalarType.Float32;
        foreach (var (name, _) in config.ParameterShapes())
        {
            var w = weights[name];
            long[] shape = w.Shape.Select(d => (long)d).ToArray();
            var parameter = float64
                ? torch.tensor(w.Data.Select(v => (double)v).ToArray(), shape, ScalarType.Float64)
                : torch.tensor(w.Data, shape, ScalarType.Float32);
            _parameters[name] = parameter.requires_grad_(true).DetachFromDisposeScope(); // owned here, not by a caller's scope
        }
    }

    public ReferenceConfig Config { get; }

    /// <summary>
    /// Loads a contract checkpoint; the config is read off the tensor shapes (F from "feature_mean", else 400). Tensors
    /// named "adam.*" (the engine's optimizer state, saved for resuming) are not model parameters and are skipped.
    /// </summary>
    public static ReferenceCrnn Load(string path, bool float64 = false)
    {
        var contents = SafetensorsFile.Read(path);
        var parameters = contents.Tensors.Where(t => !t.Key.StartsWith("adam.", StringComparison.Ordinal))
            .ToDictionary(t => t.Key, t => t.Value, StringComparer.Ordinal);
        if (contents.Metadata.TryGetValue("format", out var format) && format != "ser-checkpoint")
            throw new SerException($"{path}: checkpoint format is '{format}', expected 'ser-checkpoint'");
        int bins = 400;
        if (contents.Metadata.TryGetValue("feature_mean", out var mean))
        {
            try { bins = JsonSerializer.Deserialize<float[]>(mean)?.Length ?? bins; }
            catch (JsonException) { throw new SerException($"{path}: checkpoint metadata 'feature_mean' is not a JSON array of numbers"); }
        }
        try
        {
            var config = ReferenceConfig.FromParameterShapes(parameters.ToDictionary(t => t.Key, t => t.Value.Shape), bins);
            return new ReferenceCrnn(config, parameters, float64);
        }
        catch (SerException e)
        {
            throw new SerException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>
    /// Deterministic weights for tests (System.Random, so any .NET side can reproduce them): uniform in
    /// +-1/sqrt(fan_in) like PyTorch's defaults; LSTM biases get a +1 offset on the forget gate rows so states carry.
    /// </summary>
    public static Dictionary<string, HostTensor> RandomWeights(ReferenceConfig config, int seed)
    {
        var rng = new Random(seed);
        var weights = new Dictionary<string, HostTensor>(StringComparer.Ordinal);
        int fanIn = 1;
        foreach (var (name, shape) in config.ParameterShapes())
        {
            if (name.EndsWith(".weight") || name.EndsWith(".w_ih"))
                fanIn = shape.Skip(1).Aggregate(1, (n, d) => n * d);
            if (name.StartsWith("lstm.")) fanIn = config.Hidden;
            float bound = 1f / MathF.Sqrt(fanIn);
            var data = new float[HostTensor.ElementCount(shape)];
            for (int i = 0; i < data.Length; i++) data[i] = (float)((2 * rng.NextDouble() - 1) * bound);
            if (name.EndsWith(".bias") && name.StartsWith("lstm."))
                for (int i = config.Hidden; i < 2 * config.Hidden; i++) data[i] += 1f; // forget gate rows (i, f, g, o)
            weights[name] = new HostTensor(shape, data);
        }
        return weights;
    }

    /// <summary>Current weights by name (float32 copies), e.g. to write a checkpoint or hand to the engine.</summary>
    public Dictionary<string, HostTensor> Weights() =>
        _parameters.ToDictionary(p => p.Key, p => ToHost(p.Value), StringComparer.Ordinal);

    /// <summary>Logits [B,K] for features [B,T,F] (row-major, T = features.Length / (B*F)) and lengths [B].</summary>
    public double[] Logits(ReadOnlySpan<float> features, int[] lengths)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (logits, _) = Forward(features, lengths);
        return ToDoubles(logits);
    }

    /// <summary>Logits for the first Count samples of an engine <see cref="Ser.Engine.Data.Batch"/>.</summary>
    public double[] Logits(Ser.Engine.Data.Batch batch) =>
        Logits(batch.Features.AsSpan(0, batch.Count * batch.Frames * batch.Bins), batch.Lengths[..batch.Count]);

    /// <summary>The loss's weights and normaliser, as the engine's <see cref="Engine.Training.Executor.Loss"/>.</summary>
    public Engine.Training.LossOptions Loss { get; init; } = new();

    /// <summary>w_b = 1 / (Vb * n[y_b]), without Vb when the options turn length weighting off.</summary>
    internal static double[] LossWeights(Engine.Training.LossOptions options, int[] lengths, int[] labels, float[]? classCounts)
    {
        var w = new double[lengths.Length];
        for (int b = 0; b < w.Length; b++)
            w[b] = 1.0 / ((options.LengthWeight ? lengths[b] : 1) * (double)(classCounts?[labels[b]] ?? 1f));
        return w;
    }

    /// <summary>
    /// Forward, weighted loss and backward. Loss = sum_b w_b CE_b / N with w_b = 1 / (Vb * n[y_b]) and N =
    /// <see cref="Loss"/>.Normalizer, or sum_b w_b when that is 0; <paramref name="classCounts"/> n [K] defaults to all
    /// ones. Gradients are of that loss, one per parameter.
    /// </summary>
    public StepResult Step(ReadOnlySpan<float> features, int[] lengths, int[] labels, float[]? classCounts = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int batch = lengths.Length;
        if (labels.Length != batch) throw new ArgumentException($"{labels.Length} labels for {batch} samples");
        if (labels.Any(y => y < 0 || y >= Config.Classes)) throw new ArgumentException($"labels must be in 0..{Config.Classes - 1}");
        if (classCounts is not null && (classCounts.Length != Config.Classes || classCounts.Any(n => !(n > 0))))
            throw new ArgumentException($"classCounts must hold {Config.Classes} positive values");

        using var scope = NewDisposeScope();
        var (logits, utterance) = Forward(features, lengths);

        var sampleWeights = LossWeights(Loss, lengths, labels, classCounts);
        var w = torch.tensor(sampleWeights, ScalarType.Float64).to_type(_dtype);                  // [B]
        var y = torch.tensor(labels.Select(l => (long)l).ToArray(), ScalarType.Int64).unsqueeze(1); // [B,1]
        var ce = -F.log_softmax(logits, 1).gather(1, y).squeeze(1);                               // [B]
        var loss = (w * ce).sum() / (Loss.Normalizer > 0 ? Loss.Normalizer : sampleWeights.Sum());

        var names = _parameters.Keys.ToArray();
        var grads = torch.autograd.grad([loss], names.Select(n => _parameters[n]).ToArray());
        var gradients = new Dictionary<string, double[]>(StringComparer.Ordinal);
        for (int i = 0; i < names.Length; i++) gradients[names[i]] = ToDoubles(grads[i]);
        return new StepResult(loss.to_type(ScalarType.Float64).item<double>(), ToDoubles(logits), ToDoubles(utterance), gradients);
    }

    public StepResult Step(Ser.Engine.Data.Batch batch, float[]? classCounts = null) =>
        Step(batch.Features.AsSpan(0, batch.Count * batch.Frames * batch.Bins), batch.Lengths[..batch.Count],
             batch.Labels[..batch.Count], classCounts);

    /// <summary>Builds the graph: returns logits [B,K] and the utterance vector u [B,2H].</summary>
    private (Tensor Logits, Tensor Utterance) Forward(ReadOnlySpan<float> features, int[] lengths)
    {
        int batch = lengths.Length, bins = Config.Bins;
        if (batch == 0 || features.Length % (batch * bins) != 0 || features.Length == 0)
            throw new ArgumentException($"features hold {features.Length} values, not a multiple of B*F = {batch}*{bins}");
        int frames = features.Length / (batch * bins);
        if (lengths.Any(v => v < 1 || v > frames)) throw new ArgumentException($"lengths must be in 1..{frames} (T)");

        var x = torch.tensor(features.ToArray(), [batch, 1, frames, bins], ScalarType.Float32).to_type(_dtype); // [B,1,T,F]
        var valid = lengths.ToArray();                                                                            // Vb per level
        x = x * FrameMask(valid, frames);  // the contract says padding is zero; make it so regardless

        for (int i = 0; i < Config.Convs.Count; i++)
        {
            var spec = Config.Convs[i];
            x = ConvSame(x, _parameters[$"conv{i + 1}.weight"], _parameters[$"conv{i + 1}.bias"], spec.KernelTime, spec.KernelFreq);
            x = F.relu(x) * FrameMask(valid, (int)x.shape[2]);                                                   // [B,C,T,F]
            x = F.max_pool2d(x, [2, 2], [2, 2], ceil_mode: true);                                                // [B,C,ceil(T/2),ceil(F/2)]
            valid = valid.Select(ReferenceConfig.CeilHalf).ToArray();
        }

        // [B,C3,T3,F3] -> [B,T3,C3*F3], feature index c*F3 + f.
        long t3 = x.shape[2];
        var sequence = x.permute(0, 2, 1, 3).reshape(batch, t3, Config.LstmInput);                                // [B,T3,I]
        var stepValid = torch.arange(t3).unsqueeze(0) < torch.tensor(valid.Select(v => (long)v).ToArray()).unsqueeze(1); // [B,T3] bool

        var forward = LstmDirection(sequence, stepValid, "fw", reverse: false);                                  // [B,H]
        var backward = LstmDirection(sequence, stepValid, "bw", reverse: true);                                  // [B,H]
        var utterance = torch.cat([forward, backward], 1);                                                       // [B,2H]

        var hidden = F.relu(F.linear(utterance, _parameters["fc1.weight"], _parameters["fc1.bias"]));            // [B,D]
        hidden = F.dropout(hidden, Config.Dropout, training: false);                                             // identity in eval
        var logits = F.linear(hidden, _parameters["fc2.weight"], _parameters["fc2.bias"]);                       // [B,K]
        return (logits, utterance);
    }

    /// <summary>
    /// Conv2d with "same" zero padding, PyTorch's convention for even kernels: before = (k-1)/2, after = k-1-before
    /// (k = 4: 1 before, 2 after), applied explicitly so the convention does not depend on TorchSharp's padding modes.
    /// </summary>
    internal static Tensor ConvSame(Tensor x, Tensor weight, Tensor bias, int kernelTime, int kernelFreq)
    {
        long tBefore = (kernelTime - 1) / 2, tAfter = kernelTime - 1 - tBefore;
        long fBefore = (kernelFreq - 1) / 2, fAfter = kernelFreq - 1 - fBefore;
        var padded = F.pad(x, [fBefore, fAfter, tBefore, tAfter]); // last dim (F) first, then T
        return F.conv2d(padded, weight, bias);
    }

    /// <summary>[B,1,T,1] of 1 where t &lt; Vb, else 0, in the model's dtype.</summary>
    private Tensor FrameMask(int[] valid, int frames)
    {
        var lengths = torch.tensor(valid.Select(v => (long)v).ToArray()).reshape(valid.Length, 1, 1, 1);
        return (torch.arange(frames).reshape(1, 1, frames, 1) < lengths).to_type(_dtype);
    }

    /// <summary>
    /// One LSTM direction, unrolled with explicit cell ops over the padded batch. Gates (i, f, g, o):
    /// c' = sig(f) c + sig(i) tanh(g), h' = sig(o) tanh(c'). On a step t >= Vb3 the sample keeps its h and c
    /// (torch.where), so forward ends holding h at Vb3-1 and backward starts from zero at Vb3-1.
    /// </summary>
    private Tensor LstmDirection(Tensor sequence, Tensor stepValid, string direction, bool reverse) =>
        UnrolledLstm(sequence, stepValid, _parameters[$"lstm.{direction}.w_ih"], _parameters[$"lstm.{direction}.w_hh"],
                     _parameters[$"lstm.{direction}.bias"], reverse);

    /// <param name="sequence">[B,T3,I]</param> <param name="stepValid">[B,T3] bool</param>
    /// <param name="wIh">[4H,I]</param> <param name="wHh">[4H,H]</param> <param name="bias">[4H]</param>
    /// <returns>h [B,H]</returns>
    internal static Tensor UnrolledLstm(Tensor sequence, Tensor stepValid, Tensor wIh, Tensor wHh, Tensor bias, bool reverse)
    {
        long batch = sequence.shape[0], steps = sequence.shape[1], hidden = wHh.shape[1];
        var inputGates = torch.matmul(sequence, wIh.t()) + bias;                  // [B,T3,4H]
        var h = torch.zeros([batch, hidden], sequence.dtype);                     // [B,H]
        var c = torch.zeros([batch, hidden], sequence.dtype);                     // [B,H]
        for (long s = 0; s < steps; s++)
        {
            long t = reverse ? steps - 1 - s : s;
            var gates = inputGates.select(1, t) + torch.matmul(h, wHh.t());       // [B,4H]
            var parts = gates.chunk(4, 1);
            var cNext = torch.sigmoid(parts[1]) * c + torch.sigmoid(parts[0]) * torch.tanh(parts[2]);
            var hNext = torch.sigmoid(parts[3]) * torch.tanh(cNext);
            var keep = stepValid.select(1, t).unsqueeze(1);                       // [B,1] bool
            c = torch.where(keep, cNext, c);
            h = torch.where(keep, hNext, h);
        }
        return h;
    }

    private static HostTensor ToHost(Tensor t)
    {
        using var f = t.detach().to_type(ScalarType.Float32).contiguous();
        return new HostTensor(f.shape.Select(d => (int)d).ToArray(), f.data<float>().ToArray());
    }

    private static double[] ToDoubles(Tensor t)
    {
        using var d = t.detach().to_type(ScalarType.Float64).contiguous();
        return d.data<double>().ToArray();
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var p in _parameters.Values) p.Dispose();
        _parameters.Clear();
    }
}
