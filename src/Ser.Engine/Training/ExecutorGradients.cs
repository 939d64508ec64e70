using Ser.Engine.Data;

namespace Ser.Engine.Training;

/// <summary>
/// Read access to the parameter gradients, for the reference-equivalence tests and tools (internal: visible to
/// Ser.Reference, its tests and sertool). Training itself never needs this: <see cref="Executor.TrainStep"/> consumes
/// the gradients in its Adam update.
/// </summary>
internal static class ExecutorGradients
{
    /// <summary>
    /// Forward (dropout off, so results are comparable with a reference in eval mode), the contract's weighted loss and
    /// backward, WITHOUT an optimizer update. Returns the loss; logits [B, K] copied out if given. Read the gradients
    /// with <see cref="GetGradient"/> afterwards.
    /// </summary>
    public static double ComputeGradients(this Executor executor, Batch batch, ReadOnlySpan<float> classCounts = default,
        Span<float> logits = default)
    {
        if (!executor.IsTraining) throw new InvalidOperationException("this executor was created for inference (Training = false)");
        if (batch.Count < 1) throw new ArgumentException("batch is empty");
        var graph = executor.Graph;
        graph.SetInput(batch.Features.AsSpan(0, batch.Count * batch.Frames * batch.Bins), batch.Count, batch.Frames,
            batch.Lengths.AsSpan(0, batch.Count), batch.Labels.AsSpan(0, batch.Count));
        graph.Forward(training: false);
        double loss = graph.Loss(classCounts, gradient: true);
        if (!logits.IsEmpty) graph.Logits().CopyTo(logits);
        graph.Backward();
        return loss;
    }

    /// <summary>The gradient of the last backward pass for one parameter (row-major, the parameter's shape).</summary>
    public static float[] GetGradient(this Executor executor, string name)
    {
        var graph = executor.Graph;
        int index = graph.ParameterIndex(name);
        if (index < 0) throw new ArgumentException($"no parameter named '{name}'");
        var view = graph.GradientView(index);
        var values = new float[view.Elements];
        graph.Backend.Download(view, values);
        return values;
    }
}
