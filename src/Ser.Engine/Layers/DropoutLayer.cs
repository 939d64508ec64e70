using System.Numerics;
using Ser.Engine.Backends;
using Ser.Engine.Graph;

namespace Ser.Engine.Layers;

/// <summary>
/// Inverted dropout, in place on [B, N]: in training y = x * m with m in {0, 1/(1-p)} drawn from a counter-based hash
/// of (step seed, element) - reproducible and allocation-free; identity in evaluation. Reserve: the mask [B, N].
/// </summary>
internal sealed class DropoutLayer<T>(string name, double probability) : Layer<T>(name) where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    public override bool InPlace => true;
    public double Probability => probability;

    protected override ActivationShape Infer(ActivationShape input) => input;

    public override long ReserveElements(Backend<T> backend, in BatchCapacity capacity, bool training) =>
        probability > 0 ? Input.MaxElements(capacity) : 0;

    bool Active(LayerContext<T> ctx) => probability > 0 && ctx.Training;

    public override void Forward(LayerContext<T> ctx)
    {
        _lastActive = Active(ctx);
        if (_lastActive) ctx.Backend.DropoutForward(ctx.Y, ctx.Y, ctx.Reserve.Reshape(ctx.Y.Shape), probability, ctx.DropoutSeed);
    }

    bool _lastActive;

    public override void Backward(LayerContext<T> ctx)
    {
        if (_lastActive) ctx.Backend.DropoutBackward(ctx.DY, ctx.Reserve.Reshape(ctx.DY.Shape), ctx.DY);
    }

    public override double Flops(LayerContext<T> ctx, LayerPass pass) => Active(ctx) ? (double)ctx.Batch * Input.Width : 0;
}
