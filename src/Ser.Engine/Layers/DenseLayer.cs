using System.Numerics;
using Ser.Engine.Graph;
using Ser.Engine.Tensors;

namespace Ser.Engine.Layers;

/// <summary>
/// Dense: x [B, In], W [Out, In], b [Out] -> y [B, Out] = x W^T + b.
/// Backward: dW = dy^T x, db = sum_b dy, dx = dy W.
/// Init: W ~ U(±sqrt(6 / In)) when a ReLU follows (He uniform); the classifier's W starts at 0 (LeCun uniform
/// U(±sqrt(3 / In)) for numeric checks; why: <see cref="Models.ParameterInit"/>); b = 0.
/// </summary>
internal sealed class DenseLayer<T>(string name, int outputs, bool classifier) : Layer<T>(name)
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    int _weight, _bias;

    protected override ActivationShape Infer(ActivationShape input) => input.Kind == ActivationKind.Vector
        ? ActivationShape.Vector(outputs)
        : throw new InvalidOperationException($"{Name} needs a vector, got {input}");

    protected override void DeclareParameters(ParameterTable parameters)
    {
        int inputs = Input.Width;
        _weight = parameters.Add($"{Name}.weight", new Shape(outputs, inputs),
            classifier ? InitRule.Classifier(Math.Sqrt(3.0 / inputs)) : InitRule.UniformBound(Math.Sqrt(6.0 / inputs)));
        _bias = parameters.Add($"{Name}.bias", new Shape(outputs), InitRule.Zero);
    }

    public override void Forward(LayerContext<T> ctx) =>
        ctx.Backend.DenseForward(ctx.X, ctx.Param(_weight), ctx.Param(_bias), ctx.Y);

    public override void Backward(LayerContext<T> ctx) =>
        ctx.Backend.DenseBackward(ctx.X, ctx.Param(_weight), ctx.DY, NeedsInputGradient ? ctx.DX : default,
            ctx.Grad(_weight), ctx.Grad(_bias));

    public override double Flops(LayerContext<T> ctx, LayerPass pass)
    {
        double f = 2.0 * ctx.Batch * Input.Width * outputs;
        return pass == LayerPass.Forward ? f : f * (NeedsInputGradient ? 2 : 1);
    }
}
