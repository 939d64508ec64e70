using System.Diagnostics;
using Ser.Engine.Graph;

namespace Ser.Engine.Profiling;

/// <summary>One layer's share of a training step: median time per pass over the profiled steps and its FLOPs.</summary>
/// <param name="Layer">Executor layer name (conv1, relu1, ..., lstm, fc2, loss, adam).</param>
/// <param name="ForwardSeconds">Median forward time (0 when the layer has no forward pass, e.g. adam).</param>
/// <param name="BackwardSeconds">Median backward (or, for adam, update) time.</param>
/// <param name="ForwardFlops">FLOPs of the forward pass on the profiled batch (valid frames only).</param>
/// <param name="BackwardFlops">FLOPs of the backward (or update) pass.</param>
public sealed record LayerTiming(string Layer, double ForwardSeconds, double BackwardSeconds, double ForwardFlops, double BackwardFlops)
{
    public double TotalSeconds => ForwardSeconds + BackwardSeconds;
    public double TotalFlops => ForwardFlops + BackwardFlops;
    public double ForwardGflops => Rate(ForwardFlops, ForwardSeconds);
    public double BackwardGflops => Rate(BackwardFlops, BackwardSeconds);

    static double Rate(double flops, double seconds) => seconds > 0 ? flops / seconds / 1e9 : 0;
}

/// <summary>What <see cref="LayerProfiler.Summarize"/> returns: per-layer medians in execution order and the step's median.</summary>
/// <param name="StepSeconds">Median wall time of a whole step (includes what no layer accounts for: input upload, bookkeeping).</param>
/// <param name="OtherSeconds">Step time no layer accounts for: the median over steps of (step − its layers). Medians are
/// not additive, so this is not StepSeconds minus the layer medians (which a noisy step can drive negative).</param>
public sealed record StepProfile(IReadOnlyList<LayerTiming> Layers, double StepSeconds, double OtherSeconds, int Steps)
{
    public double LayerSeconds => Layers.Sum(l => l.TotalSeconds);
    public double TotalFlops => Layers.Sum(l => l.TotalFlops);
    public double Share(LayerTiming layer) => StepSeconds > 0 ? layer.TotalSeconds / StepSeconds : 0;
}

/// <summary>
/// A per-layer profiler: an <see cref="IExecutorObserver"/> that collects every layer's time and FLOPs per pass for each
/// step bracketed by <see cref="BeginStep"/> / <see cref="EndStep"/>, then reports medians over the steps. Times come from
/// the backend's timer (host clock on the CPU, device events on a GPU), so the profiler itself is backend-agnostic.
/// Recording allocates nothing once every layer has been seen (the first step).
/// </summary>
public sealed class LayerProfiler : IExecutorObserver
{
    readonly Dictionary<(string Layer, LayerPass Pass), int> _keys = [];
    readonly List<(string Layer, LayerPass Pass)> _order = [];
    readonly List<List<long>> _ticks = [];     // [key][step]
    readonly List<double> _flops = [];         // [key], of the last step
    readonly List<long> _stepTicks = [];
    readonly List<long> _otherTicks = [];      // [step] step ticks minus the ticks of its layers
    long[] _current = new long[64];            // [key] ticks of the step in progress (a layer may run twice)
    long _stepStart;
    bool _inStep;

    public int Steps => _stepTicks.Count;

    public void BeginStep()
    {
        if (_inStep) throw new InvalidOperationException("BeginStep called twice without EndStep");
        Array.Clear(_current);
        _inStep = true;
        _stepStart = Stopwatch.GetTimestamp();
    }

    /// <summary>Ends the step; <paramref name="stepTicks"/> overrides the host-clock step time (e.g. device time).</summary>
    public void EndStep(long? stepTicks = null)
    {
        long elapsed = stepTicks ?? Stopwatch.GetTimestamp() - _stepStart;
        if (!_inStep) throw new InvalidOperationException("EndStep without BeginStep");
        _inStep = false;
        long layers = 0;
        for (int k = 0; k < _order.Count; k++)
        {
            _ticks[k].Add(_current[k]);
            layers += _current[k];
        }
        _stepTicks.Add(elapsed);
        _otherTicks.Add(elapsed - layers);
    }

    public void LayerStarted(string layer, LayerPass pass) { }

    public void LayerEnded(string layer, LayerPass pass, long elapsedTicks, double flops)
    {
        if (!_inStep) return; // warm-up steps run with the profiler attached but are not recorded
        if (!_keys.TryGetValue((layer, pass), out int k))
        {
            k = _order.Count;
            _keys[(layer, pass)] = k;
            _order.Add((layer, pass));
            // A layer first seen after some steps gets zeros for them, so every list has one entry per step.
            _ticks.Add(Enumerable.Repeat(0L, _stepTicks.Count).ToList());
            _flops.Add(0);
            if (_current.Length <= k) Array.Resize(ref _current, 2 * _current.Length);
        }
        _current[k] += elapsedTicks;
        _flops[k] = flops;
    }

    /// <summary>Per-layer medians in the order layers first ran; forward and update/backward passes merged per layer.</summary>
    public StepProfile Summarize()
    {
        if (Steps == 0) throw new InvalidOperationException("no steps were profiled");
        var rows = new List<string>();
        var forward = new Dictionary<string, (double Seconds, double Flops)>();
        var backward = new Dictionary<string, (double Seconds, double Flops)>();
        for (int k = 0; k < _order.Count; k++)
        {
            var (layer, pass) = _order[k];
            if (!rows.Contains(layer)) rows.Add(layer);
            var value = (Median(_ticks[k]) / Stopwatch.Frequency, _flops[k]);
            if (pass == LayerPass.Forward) forward[layer] = value;
            else backward[layer] = value; // Backward or Update (adam)
        }
        var layers = rows.Select(name =>
        {
            var f = forward.GetValueOrDefault(name);
            var b = backward.GetValueOrDefault(name);
            return new LayerTiming(name, f.Seconds, b.Seconds, f.Flops, b.Flops);
        }).ToList();
        return new StepProfile(layers, Median(_stepTicks) / Stopwatch.Frequency, Median(_otherTicks) / Stopwatch.Frequency, Steps);
    }

    static double Median(List<long> values)
    {
        var sorted = values.Order().ToArray();
        int n = sorted.Length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + (double)sorted[n / 2]) / 2;
    }
}
