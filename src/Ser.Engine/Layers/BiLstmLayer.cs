using System.Numerics;
using Ser.Engine.Backends;
using Ser.Engine.Graph;
using Ser.Engine.Tensors;

namespace Ser.Engine.Layers;

/// <summary>
/// Bidirectional LSTM read at each sample's own ends. Legend: B batch, T frames (level 3), I = C3*F3, H hidden.
///   x [B, T, I] (lengths V)  ->  u [B, 2H] = concat(h_fw at t = V_b - 1, h_bw after its step t = 0)
/// The backward direction starts at the sample's own last valid step, so padding never enters the recurrence.
/// Gate order (i, f, g, o); one bias per direction. Parameters lstm.{fw,bw}.{w_ih [4H, I], w_hh [4H, H], bias [4H]}.
/// Init: weights ~ U(±1/sqrt(H)); bias 0 except the forget gate, 1.
/// </summary>
internal sealed class BiLstmLayer<T>(string name, int hidden) : Layer<T>(name) where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    readonly int[] _index = new int[6];

    public LstmDesc Desc { get; private set; }

    protected override ActivationShape Infer(ActivationShape input)
    {
        if (input.Kind != ActivationKind.Sequence) throw new InvalidOperationException($"{Name} needs a sequence, got {input}");
        Desc = new LstmDesc(input.Width, hidden);
        return ActivationShape.Vector(2 * hidden);
    }

    protected override void DeclareParameters(ParameterTable parameters)
    {
        double bound = 1.0 / Math.Sqrt(hidden);
        int k = 0;
        foreach (var dir in new[] { "fw", "bw" })
        {
            _index[k++] = parameters.Add($"{Name}.{dir}.w_ih", new Shape(Desc.Gates, Desc.InputSize), InitRule.UniformBound(bound));
            _index[k++] = parameters.Add($"{Name}.{dir}.w_hh", new Shape(Desc.Gates, hidden), InitRule.UniformBound(bound));
            _index[k++] = parameters.Add($"{Name}.{dir}.bias", new Shape(Desc.Gates), InitRule.ForgetGateOne(hidden));
        }
    }

    LstmParams Params(LayerContext<T> ctx, bool grads) => grads
        ? new LstmParams(ctx.Grad(_index[0]), ctx.Grad(_index[1]), ctx.Grad(_index[2]),
                         ctx.Grad(_index[3]), ctx.Grad(_index[4]), ctx.Grad(_index[5]))
        : new LstmParams(ctx.Param(_index[0]), ctx.Param(_index[1]), ctx.Param(_index[2]),
                         ctx.Param(_index[3]), ctx.Param(_index[4]), ctx.Param(_index[5]));

    public override long ReserveElements(Backend<T> backend, in BatchCapacity capacity, bool training) =>
        backend.LstmReserve(Desc, capacity.MaxBatch, capacity.FramesAt(Input.Level), capacity.RowsAt(Input.Level), training);

    public override long WorkspaceElements(Backend<T> backend, in BatchCapacity capacity, bool training) =>
        backend.LstmWorkspace(Desc, capacity.MaxBatch, capacity.FramesAt(Input.Level), capacity.RowsAt(Input.Level), training);

    // Saves the backward pass's state only where one can follow (cuDNN: training vs inference forward mode).
    public override void Forward(LayerContext<T> ctx) =>
        ctx.Backend.LstmForward(Desc, ctx.X, Params(ctx, false), ctx.Y, ctx.Reserve, ctx.Workspace, ctx.Lengths(Input.Level),
            ctx.HasGradients);

    public override void Backward(LayerContext<T> ctx) =>
        ctx.Backend.LstmBackward(Desc, ctx.X, Params(ctx, false), ctx.Reserve, ctx.DY, NeedsInputGradient ? ctx.DX : default,
            Params(ctx, true), ctx.Workspace, ctx.Lengths(Input.Level));

    public override double Flops(LayerContext<T> ctx, LayerPass pass)
    {
        double steps = 2.0 * ValidFrames(ctx, Input.Level); // both directions
        double gemm = 2.0 * Desc.Gates * (Desc.InputSize + hidden);
        return pass == LayerPass.Forward ? steps * gemm : steps * 2 * gemm;
    }
}
