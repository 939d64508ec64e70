using System.Numerics;
using Ser.Engine.Graph;

namespace Ser.Engine.Layers;

/// <summary>
/// Max-pool 2x2, stride 2, ceil mode, over valid frames only.
///   x [B, C, T, F] (lengths V)  ->  y [B, C, ceil(T/2), ceil(F/2)] (lengths ceil(V/2)); the time level goes up by one.
/// Backward routes dy to the first maximum of each window (PyTorch's tie rule).
/// In a fused conv block (a CPU training executor; <see cref="Layer{T}.FusedInto"/> set) the executor skips this layer:
/// the conv before it pools each pair of rows as it computes them and saves 1-byte codes instead of its input.
/// </summary>
internal sealed class MaxPoolLayer<T>(string name) : Layer<T>(name) where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    protected override ActivationShape Infer(ActivationShape input) => input.Kind == ActivationKind.Maps
        ? ActivationShape.Maps(input.Channels, input.Level + 1, (input.Width + 1) / 2)
        : throw new InvalidOperationException($"{Name} needs maps, got {input}");

    public override void Forward(LayerContext<T> ctx) => ctx.Backend.PoolForward(ctx.X, ctx.Y, ctx.Lengths(Input.Level));

    public override void Backward(LayerContext<T> ctx) =>
        ctx.Backend.PoolBackward(ctx.X, ctx.Y, ctx.DY, ctx.DX, ctx.Lengths(Input.Level));

    public override double Flops(LayerContext<T> ctx, LayerPass pass) =>
        (double)ValidFrames(ctx, Input.Level) * Input.Channels * Input.Width; // one compare per input element
}
