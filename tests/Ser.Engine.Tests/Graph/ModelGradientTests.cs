using Ser.Engine.Backends.Cpu;
using Ser.Engine.Graph;
using Ser.Engine.Models;

namespace Ser.Engine.Tests.Graph;

/// <summary>Invariant 4 for the whole model: every parameter's gradient of the weighted loss matches central
/// finite differences, on the float64 path (the same layer code instantiated for double).</summary>
public class ModelGradientTests
{
    internal static readonly ModelConfig Tiny = new()
    {
        Bins = 12,
        Channels = [2, 3, 2],
        Kernels = [[3, 4], [2, 3], [3, 2]], // even kernels: asymmetric "same" padding
        Hidden = 3,
        Dense = 4,
        Classes = 3,
        Dropout = 0,
    };

    [Theory]
    [MemberData(nameof(SimdPaths.All), MemberType = typeof(SimdPaths))]
    public void Every_parameter_gradient_matches_finite_differences(SimdPath path)
    {
        SimdPaths.Require(path);
        int batch = 3, frames = 9;
        int[] lengths = [9, 1, 5];
        int[] labels = [0, 2, 1];
        float[] counts = [2, 1, 3];
        var r = new Random(11);
        var features = Rand.UniformF(r, batch * frames * Tiny.Bins, -1.5, 1.5);
        using var ex = new GraphExecutor<double>(Tiny, new CpuBackend<double>(2, path), batch, frames, training: true);
        ex.InitializeParameters(7, InitMode.AllPathsLive);
        ex.SetInput(features, batch, frames, lengths, labels);

        double Loss()
        {
            ex.Forward(training: false);
            return ex.Loss(counts, gradient: false);
        }

        ex.Forward(training: false);
        ex.Loss(counts, gradient: true);
        ex.Backward();
        const double h = 1e-6;
        int checkedCount = 0;
        for (int p = 0; p < ex.Parameters.Count; p++)
        {
            var view = ex.ParameterView(p);
            var values = new double[view.Elements];
            var grad = new double[view.Elements];
            ex.Backend.Download(view, values);
            ex.Backend.Download(ex.GradientView(p), grad);
            var numeric = new double[values.Length];
            for (int i = 0; i < values.Length; i++)
            {
                double keep = values[i];
                values[i] = keep + h; ex.Backend.Upload((ReadOnlySpan<double>)values, view); double up = Loss();
                values[i] = keep - h; ex.Backend.Upload((ReadOnlySpan<double>)values, view); double down = Loss();
                values[i] = keep; ex.Backend.Upload((ReadOnlySpan<double>)values, view);
                numeric[i] = (up - down) / (2 * h);
            }
            Check.Close(numeric, grad, 1e-5, 1e-9, ex.Parameters[p].Name);
            checkedCount += values.Length;
        }
        Assert.True(checkedCount > 300, $"only {checkedCount} parameters checked");
        // the check has teeth: gradients are not all zero
        ex.Forward(false); ex.Loss(counts, true); ex.Backward();
        var g1 = new double[ex.GradientView(0).Elements];
        ex.Backend.Download(ex.GradientView(0), g1);
        Assert.Contains(g1, v => Math.Abs(v) > 1e-6);
    }
}
