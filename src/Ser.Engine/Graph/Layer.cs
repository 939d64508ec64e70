using System.Numerics;
using Ser.Engine.Backends;
using Ser.Engine.Tensors;

namespace Ser.Engine.Graph;

/// <summary>
/// A node of the (sequential) graph. Forward and backward live side by side in each layer's file. A layer infers its
/// output shape, declares its parameters, and says how much saved state (reserve) and scratch (workspace) it needs
/// for the largest batch; the executor plans all memory from that before the first step.
/// </summary>
internal abstract class Layer<T> where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    protected Layer(string name) => Name = name;

    public string Name { get; }
    public ActivationShape Input { get; private set; }
    public ActivationShape Output { get; private set; }

    /// <summary>The output aliases the input buffer (ReLU, mask, dropout): no memory of its own.</summary>
    public virtual bool InPlace => false;

    /// <summary>
    /// Set when another layer does this one's work: the ReLU, mask and pool of a conv block the backend fuses (the conv
    /// layer named here computes the pooled output). The executor skips both passes of such a layer (reporting them to
    /// its observer with zero time and FLOPs) and stores no output for it.
    /// </summary>
    public string? FusedInto { get; internal set; }

    /// <summary>What this layer's output buffer holds: <see cref="Output"/>, or a fused block's output (a fused conv's
    /// buffer holds its pool's output).</summary>
    public virtual ActivationShape BufferShape => Output;

    /// <summary>Whether the executor needs dX (false for the first layer, whose input is data).</summary>
    public bool NeedsInputGradient { get; set; } = true;

    public ActivationShape Connect(ActivationShape input, ParameterTable parameters)
    {
        Input = input;
        Output = Infer(input);
        DeclareParameters(parameters);
        return Output;
    }

    protected abstract ActivationShape Infer(ActivationShape input);
    protected virtual void DeclareParameters(ParameterTable parameters) { }

    /// <summary>Saved forward state in elements for the largest batch the capacity allows; <paramref name="training"/>:
    /// the executor keeps gradients, so a backward pass may follow any forward.</summary>
    public virtual long ReserveElements(Backend<T> backend, in BatchCapacity capacity, bool training) => 0;
    public virtual long WorkspaceElements(Backend<T> backend, in BatchCapacity capacity, bool training) => 0;

    public abstract void Forward(LayerContext<T> ctx);
    public abstract void Backward(LayerContext<T> ctx);

    /// <summary>FLOPs of the pass for the current batch (valid frames only).</summary>
    public abstract double Flops(LayerContext<T> ctx, LayerPass pass);

    /// <summary>Sum of the valid lengths at the layer's input level.</summary>
    protected static long ValidFrames(LayerContext<T> ctx, int level)
    {
        long s = 0;
        foreach (int v in ctx.Lengths(level)) s += v;
        return s;
    }

    public override string ToString() => $"{Name}: {Input} -> {Output}";
}

/// <summary>
/// What a layer sees during a pass: the backend, the current batch's views (input, output and their gradients),
/// its reserve and the shared workspace, per-level lengths and its parameters. One instance, refilled per layer.
/// </summary>
internal sealed class LayerContext<T> where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    readonly GraphExecutor<T> _executor;

    public LayerContext(GraphExecutor<T> executor, Backend<T> backend)
    {
        _executor = executor;
        Backend = backend;
    }

    public Backend<T> Backend { get; }
    public int Batch { get; internal set; }
    public int Frames { get; internal set; }
    /// <summary>Training-mode forward (dropout active).</summary>
    public bool Training { get; internal set; }
    /// <summary>The executor keeps gradients: a backward pass may follow any forward (also one with dropout off), so
    /// layers save what it needs. False in an inference executor, which never runs one.</summary>
    public bool HasGradients { get; internal set; }
    public ulong DropoutSeed { get; internal set; }

    public TensorView X { get; internal set; }
    public TensorView Y { get; internal set; }
    public TensorView DX { get; internal set; }
    public TensorView DY { get; internal set; }
    public TensorView Reserve { get; internal set; }
    public TensorView Workspace { get; internal set; }

    /// <summary>Valid lengths of the current batch at pooling level l (ceil(V / 2^l)).</summary>
    public ReadOnlySpan<int> Lengths(int level) => _executor.Lengths(level);

    public TensorView Param(int index) => _executor.ParameterView(index);
    public TensorView Grad(int index) => _executor.GradientView(index);
}
