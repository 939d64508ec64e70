using System.Numerics;
using Ser.Engine.Backends;
using Ser.Engine.Layers;
using Ser.Engine.Models;
using Ser.Engine.Tensors;

namespace Ser.Engine.Graph;

/// <summary>
/// Runs the layer graph built from a <see cref="ModelConfig"/> on a <see cref="Backend{T}"/>: shape inference, memory
/// planning, forward, loss, backward and the Adam update, with a per-layer timing hook. One executor serves training
/// and inference (inference: batches of one or more, no padding needed).
/// <para>Memory: five arenas, each sized once - parameters, gradients (same layout), Adam moments (2x), activations
/// (every non-in-place layer output, layer reserves, two ping-pong gradient buffers) and workspace (the largest
/// any layer needs). Views for the current batch are prefixes of the planned regions, so a step allocates nothing.</para>
/// <para>Fused conv blocks: a training executor on a backend that <see cref="Backend{T}.FusesConvBlocks"/> (the CPU) runs
/// each conv, relu, mask, pool as one pass of the conv layer, which stores only the pooled output and 1-byte pool codes:
/// the conv-resolution maps and their gradient (the largest buffers by far) are never planned. The other three layers
/// stay in the graph (names, profiles, checkpoints) and are skipped. Inference executors keep every layer's output.</para>
/// </summary>
internal sealed class GraphExecutor<T> : IDisposable where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    readonly List<Layer<T>> _layers;
    readonly ParameterTable _parameters = new();
    readonly ActivationShape _inputShape;
    readonly LayerContext<T> _ctx;
    readonly bool _ownsBackend;
    readonly Arena _paramArena;
    readonly Arena? _gradArena, _momentArena;
    Arena? _actArena, _workArena;
    Region _inputRegion;
    Region[] _outRegion = [], _reserveRegion = [];
    ActivationShape[] _stored = []; // what each layer's output region holds (a fused block's layers share the pooled output)
    readonly Region[] _gradRegion = new Region[2];
    int[] _dyBuffer = [], _dxBuffer = [];
    int[][] _lengths = [];
    int[] _labels = [];
    double[] _weights = [];
    T[] _logits = [];
    bool _disposed;

    /// <param name="fuseConvBlocks">Fuse conv blocks where the backend can (training only); false: today's separate layers
    /// everywhere (tests compare the two).</param>
    public GraphExecutor(ModelConfig config, Backend<T> backend, int maxBatch, int maxFrames, bool training, bool ownsBackend = true,
        long maxPaddedFrames = 0, bool fuseConvBlocks = true)
    {
        Config = config.Validate();
        Backend = backend;
        Training = training;
        _ownsBackend = ownsBackend;
        _layers = CrnnModel.Build<T>(config);
        _inputShape = CrnnModel.InputShape(config);
        var shape = _inputShape;
        foreach (var layer in _layers) shape = layer.Connect(shape, _parameters);
        _layers[0].NeedsInputGradient = false;
        if (training && fuseConvBlocks && backend.FusesConvBlocks) FuseConvBlocks();
        _ctx = new LayerContext<T>(this, backend) { HasGradients = training };

        _paramArena = backend.Allocate(_parameters.Elements, "parameters");
        if (training)
        {
            _gradArena = backend.Allocate(_parameters.Elements, "gradients");
            _momentArena = backend.Allocate(2 * _parameters.Elements, "adam-moments");
        }
        Plan(BatchCapacity.Of(Math.Max(1, maxBatch), Math.Max(1, maxFrames), maxPaddedFrames));
    }

    /// <summary>
    /// Conv, relu, mask, pool in a row become one block run by the conv layer; the other three are marked
    /// <see cref="Layer{T}.FusedInto"/> and skipped.
    /// </summary>
    void FuseConvBlocks()
    {
        for (int i = 0; i + 3 < _layers.Count; i++)
        {
            if (_layers[i] is not Conv2dLayer<T> conv || _layers[i + 1] is not ReluLayer<T> relu ||
                _layers[i + 2] is not MaskLayer<T> mask || _layers[i + 3] is not MaxPoolLayer<T> pool)
                continue;
            conv.Fuse(pool.Output);
            relu.FusedInto = mask.FusedInto = pool.FusedInto = conv.Name;
            FusesConvBlocks = true;
        }
    }

    /// <summary>Whether conv blocks run fused (see the class notes).</summary>
    public bool FusesConvBlocks { get; private set; }

    public ModelConfig Config { get; }
    public Backend<T> Backend { get; }
    public bool Training { get; }
    public IReadOnlyList<Layer<T>> Layers => _layers;
    public IReadOnlyList<ParameterEntry> Parameters => _parameters.Entries;
    public BatchCapacity Capacity { get; private set; }
    public int MaxBatch => Capacity.MaxBatch;
    public int MaxFrames => Capacity.MaxFrames;
    /// <summary>Current batch size and padded frame count.</summary>
    public int Batch { get; private set; }
    public int Frames { get; private set; }
    /// <summary>Adam updates taken (t of the bias correction).</summary>
    public long Step { get; set; }
    public IExecutorObserver? Observer { get; set; }
    public ulong DropoutSeed { get; set; } = 0x5E5_0D50UL;

    /// <summary>Bytes of every arena this executor owns (parameters, gradients, moments, activations, workspace).</summary>
    public long ArenaBytes => _paramArena.Bytes + (_gradArena?.Bytes ?? 0) + (_momentArena?.Bytes ?? 0) +
                              (_actArena?.Bytes ?? 0) + (_workArena?.Bytes ?? 0);

    public IEnumerable<(string Name, long Bytes)> Arenas()
    {
        yield return ("parameters", _paramArena.Bytes);
        if (_gradArena is not null) yield return ("gradients", _gradArena.Bytes);
        if (_momentArena is not null) yield return ("adam-moments", _momentArena.Bytes);
        yield return ("activations", _actArena!.Bytes);
        yield return ("workspace", _workArena!.Bytes);
    }

    // ---- memory plan -------------------------------------------------------------------------------------------------

    /// <summary>Grows the activation and workspace arenas for a larger batch shape (allocates; not on the hot path).</summary>
    public void EnsureCapacity(int batch, int frames)
    {
        var c = Capacity;
        if (c.Holds(batch, frames)) return;
        int b = Math.Max(batch, c.MaxBatch), t = Math.Max(frames, c.MaxFrames);
        Plan(BatchCapacity.Of(b, t, Math.Max(c.MaxPaddedFrames, (long)batch * frames)));
    }

    void Plan(BatchCapacity capacity)
    {
        int maxBatch = capacity.MaxBatch;
        _actArena?.Dispose();
        _workArena?.Dispose();
        _actArena = _workArena = null;
        int n = _layers.Count;
        var act = new ArenaPlan("activations");
        _inputRegion = act.Reserve(_inputShape.MaxElements(capacity)); // [B, 1, T, F]
        _outRegion = new Region[n];
        _reserveRegion = new Region[n];
        _stored = new ActivationShape[n];
        long workspace = 0;
        for (int i = 0; i < n; i++)
        {
            var layer = _layers[i];
            var input = i == 0 ? _inputRegion : _outRegion[i - 1];
            if (layer.FusedInto is not null)
            {
                // skipped: its output is the block's, held by the fused conv's buffer
                _outRegion[i] = input;
                _reserveRegion[i] = Region.Empty;
                _stored[i] = _stored[i - 1];
                continue;
            }
            _stored[i] = layer.BufferShape;
            _outRegion[i] = layer.InPlace ? input : act.Reserve(layer.BufferShape.MaxElements(capacity));
            _reserveRegion[i] = act.Reserve(layer.ReserveElements(Backend, capacity, Training));
            workspace = Math.Max(workspace, layer.WorkspaceElements(Backend, capacity, Training));
        }
        // Gradients w.r.t. activations ping-pong between two buffers walking backwards; in-place layers stay put.
        _dyBuffer = new int[n];
        _dxBuffer = new int[n];
        var size = new long[2];
        if (Training)
        {
            int current = 0;
            for (int i = n - 1; i >= 0; i--)
            {
                var layer = _layers[i];
                _dyBuffer[i] = current;
                if (layer.FusedInto is not null)
                {
                    _dxBuffer[i] = current; // skipped: the fused conv reads its block output's gradient from here
                    continue;
                }
                size[current] = Math.Max(size[current], layer.BufferShape.MaxElements(capacity));
                _dxBuffer[i] = layer.InPlace ? current : 1 - current;
                if (layer.NeedsInputGradient)
                    size[_dxBuffer[i]] = Math.Max(size[_dxBuffer[i]], layer.Input.MaxElements(capacity));
                current = _dxBuffer[i];
            }
        }
        _gradRegion[0] = act.Reserve(size[0]);
        _gradRegion[1] = act.Reserve(size[1]);
        _actArena = Backend.Allocate(act.Elements, "activations");
        _workArena = Backend.Allocate(workspace, "workspace");

        int levels = Config.Blocks + 1;
        _lengths = new int[levels][];
        for (int l = 0; l < levels; l++) _lengths[l] = new int[maxBatch];
        _labels = new int[maxBatch];
        _weights = new double[maxBatch];
        _logits = new T[maxBatch * Config.Classes];
        Capacity = capacity;
    }

    public ReadOnlySpan<int> Lengths(int level) => _lengths[level].AsSpan(0, Batch);

    public TensorView ParameterView(int index) => _paramArena.View(_parameters.Entries[index].Region, _parameters.Entries[index].Shape);

    public TensorView GradientView(int index) =>
        (_gradArena ?? throw new InvalidOperationException("inference executor has no gradients"))
        .View(_parameters.Entries[index].Region, _parameters.Entries[index].Shape);

    /// <summary>Adam's first (moment 0) or second (1) moment of a parameter.</summary>
    public TensorView MomentView(int index, int moment)
    {
        var e = _parameters.Entries[index];
        var arena = _momentArena ?? throw new InvalidOperationException("inference executor has no optimizer state");
        return arena.View(e.Region.Offset + moment * _parameters.Elements, e.Shape);
    }

    public int ParameterIndex(string name) => _parameters.IndexOf(name);

    TensorView Flat(Arena arena, long elements) => arena.View(0, new Shape(checked((int)elements)));
    TensorView Input => _actArena!.View(_inputRegion, _inputShape.Concrete(Batch, Frames));
    /// <summary>Layer <paramref name="index"/>'s output for the current batch, valid after <see cref="Forward"/> (read-only use:
    /// inspecting activations, e.g. the sequence the BiLSTM reads).</summary>
    public TensorView OutputView(int index)
    {
        var layer = _layers[index];
        if (_stored[index] != layer.Output)
            throw new InvalidOperationException($"{layer.Name}'s output is not kept: a training executor fuses it into " +
                $"{layer.FusedInto ?? layer.Name}, which keeps only the pooled output (read it from an inference executor)");
        return _actArena!.View(_outRegion[index], layer.Output.Concrete(Batch, Frames));
    }
    public TensorView LogitsView => _actArena!.View(_outRegion[^1], _layers[^1].Output.Concrete(Batch, Frames));
    TensorView DLogitsView => _actArena!.View(_gradRegion[_dyBuffer[^1]], _layers[^1].Output.Concrete(Batch, Frames));

    // ---- a step --------------------------------------------------------------------------------------------------

    /// <summary>Initialises every parameter (see <see cref="ParameterInit"/>) and clears the optimizer state.</summary>
    public void InitializeParameters(ulong seed, InitMode mode = InitMode.Training)
    {
        var buffer = new T[_parameters.Entries.Max(e => e.Shape.Elements)];
        for (int i = 0; i < _parameters.Entries.Count; i++)
        {
            var e = _parameters.Entries[i];
            var span = buffer.AsSpan(0, (int)e.Shape.Elements);
            ParameterInit.Fill(e, seed, span, mode);
            Backend.Upload((ReadOnlySpan<T>)span, ParameterView(i));
        }
        if (_momentArena is not null) Backend.Zero(Flat(_momentArena, _momentArena.Elements));
        Step = 0;
    }

    /// <summary>Clears Adam's moments and step (weights loaded without optimizer state).</summary>
    public void InitializeMomentsOnly()
    {
        if (_momentArena is not null) Backend.Zero(Flat(_momentArena, _momentArena.Elements));
        Step = 0;
    }

    /// <summary>
    /// Loads a batch: features [B, T, F] (only frames t &lt; lengths[b] are read by the model), per-sample lengths, and
    /// optionally labels. Grows capacity if needed.
    /// </summary>
    public void SetInput(ReadOnlySpan<float> features, int batch, int frames, ReadOnlySpan<int> lengths, ReadOnlySpan<int> labels = default)
    {
        if (batch < 1 || frames < 1) throw new ArgumentException($"batch {batch} x {frames} frames is empty");
        long need = (long)batch * frames * Config.Bins;
        if (features.Length < need) throw new ArgumentException($"features hold {features.Length} values, [B, T, F] needs {need}");
        var input = PrepareInput(batch, frames, lengths, labels);
        Backend.Upload(features[..(int)need], input);
    }

    /// <summary>
    /// <see cref="SetInput"/> without the features: sets the batch shape, lengths and labels (growing capacity if needed)
    /// and returns the input tensor [B, 1, T, F] for the caller to fill on the backend (the GPU front end writes
    /// features there directly).
    /// </summary>
    public TensorView PrepareInput(int batch, int frames, ReadOnlySpan<int> lengths, ReadOnlySpan<int> labels = default)
    {
        if (batch < 1 || frames < 1) throw new ArgumentException($"batch {batch} x {frames} frames is empty");
        if (lengths.Length < batch) throw new ArgumentException($"{lengths.Length} lengths for a batch of {batch}");
        for (int b = 0; b < batch; b++)
            if (lengths[b] < 1 || lengths[b] > frames)
                throw new ArgumentOutOfRangeException(nameof(lengths), $"sample {b}: length {lengths[b]} outside 1..{frames}");
        if (!labels.IsEmpty)
            for (int b = 0; b < batch; b++)
                if ((uint)labels[b] >= (uint)Config.Classes)
                    throw new ArgumentOutOfRangeException(nameof(labels), $"sample {b}: label {labels[b]} outside 0..{Config.Classes - 1}");
        EnsureCapacity(batch, frames);
        Batch = batch;
        Frames = frames;
        for (int b = 0; b < batch; b++)
        {
            int v = lengths[b];
            for (int l = 0; l < _lengths.Length; l++)
            {
                _lengths[l][b] = v;
                v = (v + 1) / 2;
            }
            _labels[b] = labels.IsEmpty ? 0 : labels[b];
        }
        return Input;
    }

    /// <summary>Forward through every layer; training = dropout active.</summary>
    public void Forward(bool training)
    {
        _ctx.Batch = Batch;
        _ctx.Frames = Frames;
        _ctx.Training = training;
        _ctx.DropoutSeed = Mix(DropoutSeed + (ulong)Step);
        for (int i = 0; i < _layers.Count; i++)
        {
            var layer = _layers[i];
            if (layer.FusedInto is not null)
            {
                Skipped(layer, LayerPass.Forward);
                continue;
            }
            SetViews(i, gradients: false);
            long start = Begin(layer.Name, LayerPass.Forward);
            layer.Forward(_ctx);
            End(layer, LayerPass.Forward, start);
        }
    }

    /// <summary>Weights and normaliser of <see cref="Loss"/>.</summary>
    public Training.LossOptions LossOptions { get; set; } = new();

    /// <summary>
    /// The contract's weighted loss over the current batch: w_b = 1 / (V_b n_{y_b}) (V_b only with
    /// <see cref="LossOptions.LengthWeight"/>), loss = sum w_b CE_b / N (N = <see cref="LossOptions.Normalizer"/>, or
    /// sum w_b when 0), with n the class counts (all ones when empty). With gradient, also writes dlogits for
    /// <see cref="Backward"/>.
    /// </summary>
    public double Loss(ReadOnlySpan<float> classCounts, bool gradient, Span<double> perSample = default)
    {
        if (gradient && !Training) throw new InvalidOperationException("inference executor has no gradients");
        if (!classCounts.IsEmpty && classCounts.Length != Config.Classes)
            throw new ArgumentException($"{classCounts.Length} class counts for {Config.Classes} classes");
        for (int b = 0; b < Batch; b++)
        {
            double n = classCounts.IsEmpty ? 1.0 : classCounts[_labels[b]];
            if (!(n > 0)) throw new ArgumentException($"class {_labels[b]} has count {n}; counts must be positive");
            _weights[b] = 1.0 / ((LossOptions.LengthWeight ? _lengths[0][b] : 1) * n);
        }
        double normalizer = 0;
        if (LossOptions.Normalizer > 0) normalizer = LossOptions.Normalizer;
        else
            for (int b = 0; b < Batch; b++) normalizer += _weights[b];
        long start = Begin("loss", LayerPass.Forward);
        double loss = Backend.SoftmaxCrossEntropy(LogitsView, _labels.AsSpan(0, Batch), _weights.AsSpan(0, Batch), normalizer,
            gradient ? DLogitsView : default, perSample);
        EndNamed("loss", LayerPass.Forward, start, 5.0 * Batch * Config.Classes);
        return loss;
    }

    /// <summary>Loss weights w_b of the last <see cref="Loss"/> call.</summary>
    public ReadOnlySpan<double> LossWeights => _weights.AsSpan(0, Batch);

    public void Backward()
    {
        if (!Training) throw new InvalidOperationException("inference executor has no gradients");
        for (int i = _layers.Count - 1; i >= 0; i--)
        {
            var layer = _layers[i];
            if (layer.FusedInto is not null)
            {
                Skipped(layer, LayerPass.Backward);
                continue;
            }
            SetViews(i, gradients: true);
            long start = Begin(layer.Name, LayerPass.Backward);
            layer.Backward(_ctx);
            End(layer, LayerPass.Backward, start);
        }
    }

    /// <summary>
    /// One Adam(W) update from the current gradients; with clipNorm &gt; 0 the gradients are scaled so their global L2
    /// norm is at most clipNorm. Returns the gradient norm before clipping (0 when not computed).
    /// </summary>
    public double ApplyAdam(double learningRate, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8,
        double weightDecay = 0, double clipNorm = 0)
    {
        if (!Training) throw new InvalidOperationException("inference executor has no optimizer state");
        long start = Begin("adam", LayerPass.Update);
        var grads = Flat(_gradArena!, _gradArena!.Elements);
        double norm = 0, scale = 1;
        if (clipNorm > 0)
        {
            norm = Math.Sqrt(Backend.SumOfSquares(grads));
            if (norm > clipNorm) scale = clipNorm / norm;
        }
        Step++;
        var step = new AdamStep(learningRate, beta1, beta2, epsilon, weightDecay,
            1 - Math.Pow(beta1, Step), 1 - Math.Pow(beta2, Step), scale);
        long n = _parameters.Elements;
        Backend.AdamUpdate(Flat(_paramArena, n), grads, _momentArena!.View(0, new Shape(checked((int)n))),
            _momentArena.View(n, new Shape(checked((int)n))), step);
        EndNamed("adam", LayerPass.Update, start, 12.0 * n);
        return norm;
    }

    /// <summary>Logits [B, K] of the last forward, copied to the host.</summary>
    public ReadOnlySpan<T> Logits()
    {
        var view = LogitsView;
        var dst = _logits.AsSpan(0, (int)view.Elements);
        Backend.Download(view, dst);
        return dst;
    }

    void SetViews(int i, bool gradients)
    {
        var layer = _layers[i];
        var arena = _actArena!;
        var inRegion = i == 0 ? _inputRegion : _outRegion[i - 1];
        var inShape = layer.Input.Concrete(Batch, Frames);
        var outShape = layer.BufferShape.Concrete(Batch, Frames);
        _ctx.X = arena.View(inRegion, inShape);
        _ctx.Y = arena.View(_outRegion[i], outShape);
        var reserve = _reserveRegion[i];
        _ctx.Reserve = reserve.Capacity > 0 ? arena.View(reserve, new Shape(checked((int)reserve.Capacity))) : default;
        _ctx.Workspace = _workArena!.Elements > 0 ? Flat(_workArena, _workArena.Elements) : default;
        if (gradients)
        {
            _ctx.DY = arena.View(_gradRegion[_dyBuffer[i]], outShape);
            _ctx.DX = layer.NeedsInputGradient ? arena.View(_gradRegion[_dxBuffer[i]], inShape) : default;
        }
        else
        {
            _ctx.DY = _ctx.DX = default;
        }
    }

    long Begin(string name, LayerPass pass)
    {
        if (Observer is null) return 0;
        Observer.LayerStarted(name, pass);
        return Backend.TimerStart();
    }

    void End(Layer<T> layer, LayerPass pass, long start)
    {
        if (Observer is null) return;
        long ticks = Backend.TimerStop(start);
        Observer.LayerEnded(layer.Name, pass, ticks, layer.Flops(_ctx, pass));
    }

    /// <summary>A layer a fused block does the work of: the observer sees it, with no time and no FLOPs.</summary>
    void Skipped(Layer<T> layer, LayerPass pass)
    {
        if (Observer is null) return;
        Observer.LayerStarted(layer.Name, pass);
        Observer.LayerEnded(layer.Name, pass, 0, 0);
    }

    void EndNamed(string name, LayerPass pass, long start, double flops)
    {
        if (Observer is null) return;
        Observer.LayerEnded(name, pass, Backend.TimerStop(start), flops);
    }

    static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _actArena?.Dispose();
        _workArena?.Dispose();
        _paramArena.Dispose();
        _gradArena?.Dispose();
        _momentArena?.Dispose();
        if (_ownsBackend) Backend.Dispose();
    }
}
