namespace Ser.Engine.Graph;

/// <summary>Which pass of a training step a layer timing belongs to.</summary>
public enum LayerPass
{
    Forward,
    Backward,
    /// <summary>The optimizer update (reported under the layer name "adam").</summary>
    Update,
}

/// <summary>
/// Per-layer timing hook of the graph executor (a profiler implements it). Called on the thread that runs the step,
/// around every layer of every pass; the backend is synchronised before <see cref="LayerEnded"/> so GPU timings are
/// real. Implementations should not allocate if they want the step to stay allocation-free.
/// </summary>
public interface IExecutorObserver
{
    void LayerStarted(string layer, LayerPass pass);

    /// <param name="layer">Layer name (conv1, relu1, mask1, pool1, ..., reshape, lstm, fc1, relu_fc1, dropout, fc2, loss, adam).</param>
    /// <param name="pass">Forward, backward or update.</param>
    /// <param name="elapsedTicks">Stopwatch ticks (<see cref="System.Diagnostics.Stopwatch.Frequency"/> per second).</param>
    /// <param name="flops">Floating-point operations the layer did for this batch (valid frames only), for GFLOP/s.</param>
    void LayerEnded(string layer, LayerPass pass, long elapsedTicks, double flops);
}
