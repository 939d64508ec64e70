using System.Numerics;
using Ser.Engine.Graph;

namespace Ser.Engine.Layers;

/// <summary>
/// In-place ReLU on maps [B, C, T, F] (valid frames only) or vectors [B, N].
/// Backward: dx = dy * (y &gt; 0), in place on the gradient (y = the stored output).
/// In a fused conv block (a CPU training executor; <see cref="Layer{T}.FusedInto"/> set) the executor skips this layer:
/// the conv before it applies the ReLU to the pooled maxima and routes the gradient through the pool codes.
/// </summary>
internal sealed class ReluLayer<T>(string name) : Layer<T>(name) where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    public override bool InPlace => true;

    protected override ActivationShape Infer(ActivationShape input) => input;

    ReadOnlySpan<int> LengthsFor(LayerContext<T> ctx) =>
        Input.Kind == ActivationKind.Maps ? ctx.Lengths(Input.Level) : default;

    public override void Forward(LayerContext<T> ctx) => ctx.Backend.ReluForward(ctx.Y, LengthsFor(ctx));

    public override void Backward(LayerContext<T> ctx) => ctx.Backend.ReluBackward(ctx.Y, ctx.DY, LengthsFor(ctx));

    public override double Flops(LayerContext<T> ctx, LayerPass pass) => Input.Kind == ActivationKind.Maps
        ? (double)ValidFrames(ctx, Input.Level) * Input.Channels * Input.Width
        : (double)ctx.Batch * Input.Width;
}
