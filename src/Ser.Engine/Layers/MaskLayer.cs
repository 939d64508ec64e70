using System.Numerics;
using Ser.Engine.Graph;

namespace Ser.Engine.Layers;

/// <summary>
/// In-place mask of maps [B, C, T, F]: frames t &gt;= V_b are set to zero, so the max-pool that follows can never pick a
/// padding value (the paper's eq. 1). Backward zeroes the same frames of the gradient.
/// In a fused conv block (a CPU training executor; <see cref="Layer{T}.FusedInto"/> set) the executor skips this layer:
/// the fused pass never reads or writes padded frames.
/// </summary>
internal sealed class MaskLayer<T>(string name) : Layer<T>(name) where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    public override bool InPlace => true;

    protected override ActivationShape Infer(ActivationShape input) =>
        input.Kind == ActivationKind.Maps ? input : throw new InvalidOperationException($"{Name} needs maps, got {input}");

    public override void Forward(LayerContext<T> ctx) => ctx.Backend.Mask(ctx.Y, ctx.Lengths(Input.Level));

    public override void Backward(LayerContext<T> ctx) => ctx.Backend.Mask(ctx.DY, ctx.Lengths(Input.Level));

    public override double Flops(LayerContext<T> ctx, LayerPass pass) => 0;
}
