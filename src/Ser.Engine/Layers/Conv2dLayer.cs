using System.Numerics;
using Ser.Engine.Backends;
using Ser.Engine.Graph;
using Ser.Engine.Tensors;

namespace Ser.Engine.Layers;

/// <summary>
/// Masked Conv2d, "same" zero padding (PyTorch's convention for even kernels), stride 1, plus bias.
/// Legend: B batch, T frames (at this layer's level), F bins, C channels.
///   x [B, Cin, T, F], W [Cout, Cin, KT, KF], b [Cout]  ->  y [B, Cout, T, F]
/// Only valid frames t &lt; V_b are computed; frames past them read as zeros (the halo). Padded frames of y are left
/// unspecified, as with cuDNN: the mask layer that follows the ReLU zeroes them.
/// Init: W ~ U(±sqrt(6 / (Cin KT KF))) (He uniform, ReLU follows), b = 0.
/// Fused (<see cref="Fuse"/>: training on a backend that fuses conv blocks): this layer runs conv, ReLU, mask and pool
/// in one pass and its buffer holds the pooled output [B, Cout, T/2, F/2]; its reserve holds the pool's codes (1 byte
/// per pooled output). The ReLU, mask and pool layers after it are skipped. Same bits as the separate layers.
/// </summary>
internal sealed class Conv2dLayer<T>(string name, int outChannels, int kernelT, int kernelF) : Layer<T>(name)
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    int _weight, _bias;

    public ConvDesc Desc { get; private set; }

    /// <summary>The fused block's output (the pool's), when fused.</summary>
    public ActivationShape? FusedOutput { get; private set; }

    public override ActivationShape BufferShape => FusedOutput ?? Output;

    /// <summary>Takes over the ReLU, mask and pool that follow (whose output is <paramref name="pooled"/>).</summary>
    public void Fuse(ActivationShape pooled) => FusedOutput = pooled;

    protected override ActivationShape Infer(ActivationShape input)
    {
        if (input.Kind != ActivationKind.Maps) throw new InvalidOperationException($"{Name} needs maps, got {input}");
        Desc = new ConvDesc(input.Channels, outChannels, kernelT, kernelF, input.Width);
        return ActivationShape.Maps(outChannels, input.Level, input.Width);
    }

    protected override void DeclareParameters(ParameterTable parameters)
    {
        int fanIn = Desc.PatchSize;
        _weight = parameters.Add($"{Name}.weight", new Shape(outChannels, Desc.InChannels, kernelT, kernelF),
            InitRule.UniformBound(Math.Sqrt(6.0 / fanIn)));
        _bias = parameters.Add($"{Name}.bias", new Shape(outChannels), InitRule.Zero);
    }

    /// <summary>Fused: the pool's codes, one byte per pooled output.</summary>
    public override long ReserveElements(Backend<T> backend, in BatchCapacity capacity, bool training) =>
        FusedOutput is { } pooled ? Backend<T>.PoolCodeElements(pooled.MaxElements(capacity)) : 0;

    public override long WorkspaceElements(Backend<T> backend, in BatchCapacity capacity, bool training) => FusedOutput is null
        ? Math.Max(backend.ConvWorkspace(Desc, capacity.MaxBatch, capacity.FramesAt(Input.Level), capacity.RowsAt(Input.Level)),
                   backend.BiasWorkspace(outChannels, capacity.MaxBatch))
        : backend.ConvBlockWorkspace(Desc, capacity.MaxBatch, capacity.FramesAt(Input.Level), capacity.RowsAt(Input.Level));

    // fused: Y and DY are the pooled output and its gradient, Reserve the codes
    public override void Forward(LayerContext<T> ctx)
    {
        if (FusedOutput is not null)
            ctx.Backend.ConvBlockForward(Desc, ctx.X, ctx.Param(_weight), ctx.Param(_bias), ctx.Y, ctx.Reserve, ctx.Lengths(Input.Level),
                ctx.Workspace);
        else
            ctx.Backend.ConvForward(Desc, ctx.X, ctx.Param(_weight), ctx.Param(_bias), ctx.Y, ctx.Lengths(Input.Level), ctx.Workspace);
    }

    public override void Backward(LayerContext<T> ctx)
    {
        var lengths = ctx.Lengths(Input.Level);
        if (FusedOutput is not null)
        {
            ctx.Backend.ConvBlockBackward(Desc, ctx.X, ctx.Param(_weight), ctx.DY, ctx.Reserve, ctx.Grad(_weight), ctx.Grad(_bias),
                NeedsInputGradient ? ctx.DX : default, lengths, ctx.Workspace);
            return;
        }
        ctx.Backend.BiasBackward(ctx.DY, ctx.Grad(_bias), lengths, ctx.Workspace);
        ctx.Backend.ConvBackwardFilter(Desc, ctx.X, ctx.DY, ctx.Grad(_weight), lengths, ctx.Workspace);
        if (NeedsInputGradient)
            ctx.Backend.ConvBackwardData(Desc, ctx.DY, ctx.Param(_weight), ctx.DX, lengths, ctx.Workspace);
    }

    public override double Flops(LayerContext<T> ctx, LayerPass pass)
    {
        double pass1 = 2.0 * ValidFrames(ctx, Input.Level) * Desc.Bins * outChannels * Desc.PatchSize;
        return pass == LayerPass.Forward ? pass1 : pass1 * (NeedsInputGradient ? 2 : 1);
    }
}
