using System.Numerics;
using Ser.Engine.Graph;

namespace Ser.Engine.Layers;

/// <summary>
/// Reshape maps to a sequence for the RNN: [B, C, T, F] -> [B, T, C*F], feature index c*F + f (channel-major), valid
/// frames only (padding frames of the output are zeros). Backward is the inverse permutation.
/// </summary>
internal sealed class SequenceLayer<T>(string name) : Layer<T>(name) where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    protected override ActivationShape Infer(ActivationShape input) => input.Kind == ActivationKind.Maps
        ? ActivationShape.Sequence(input.Level, input.Channels * input.Width)
        : throw new InvalidOperationException($"{Name} needs maps, got {input}");

    public override void Forward(LayerContext<T> ctx) => ctx.Backend.MapsToSequence(ctx.X, ctx.Y, ctx.Lengths(Input.Level));

    public override void Backward(LayerContext<T> ctx) => ctx.Backend.SequenceToMaps(ctx.DY, ctx.DX, ctx.Lengths(Input.Level));

    public override double Flops(LayerContext<T> ctx, LayerPass pass) => 0;
}
