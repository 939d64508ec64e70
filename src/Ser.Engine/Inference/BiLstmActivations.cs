using Ser.Engine.Training;

namespace Ser.Engine.Inference;

/// <summary>
/// The BiLSTM's hidden states over time for one utterance run alone (the paper's Figures 3 and 4).
/// Legend: S = ceil(T / 8) LSTM steps (80 ms each after three 2x poolings), H hidden units per direction.
/// Forward[s, j] is h_fw after step s (it has read steps 0..s); Backward[s, j] is h_bw after its step at s (it has
/// read steps S-1..s). The utterance vector the classifier reads is (Forward[S-1], Backward[0]).
/// </summary>
public sealed record BiLstmActivations(int Steps, int Hidden, double SecondsPerStep, float[] Forward, float[] Backward)
{
    /// <summary>h_fw at step s, unit j (values in (-1, 1)).</summary>
    public float ForwardAt(int step, int unit) => Forward[step * Hidden + unit];
    public float BackwardAt(int step, int unit) => Backward[step * Hidden + unit];
}

/// <summary>
/// Reads the BiLSTM's per-step hidden states. The engine's backends keep only what backward needs, in their own
/// layout, so this replays the recurrence on the host from the sequence the engine's BiLSTM actually read (the
/// reshape layer's output after a forward pass) and the checkpoint's LSTM weights, in the model contract's equations:
///   [i f g o] = W_ih x_t + W_hh h_prev + b;  i, f, o = sigmoid, g = tanh;  c = f c_prev + i g;  h = o tanh(c).
/// The replay's last states agree with the engine's BiLSTM output (tested), so the picture is the engine's model.
/// </summary>
internal static class BiLstmTrace
{
    /// <param name="features">Normalised features [T, F] of one utterance.</param>
    public static BiLstmActivations Run(Executor executor, ReadOnlySpan<float> features, int frames) =>
        Run(executor, features, frames, out _);

    /// <param name="engineOutput">The engine's BiLSTM output [2H] for the same forward pass (for checks).</param>
    public static BiLstmActivations Run(Executor executor, ReadOnlySpan<float> features, int frames, out float[] engineOutput)
    {
        var probabilities = new float[executor.Config.Classes];
        executor.Predict(features, frames, probabilities);           // forward on [1, T, F], no padding
        var graph = executor.Graph;
        int lstm = graph.Layers.Select(l => l.Name).ToList().IndexOf("lstm");
        if (lstm < 1) throw new InvalidOperationException("the model has no 'lstm' layer");
        var sequenceView = graph.OutputView(lstm - 1);               // [1, S, I]
        var sequence = new float[sequenceView.Elements];
        graph.Backend.Download(sequenceView, sequence);
        var outputView = graph.OutputView(lstm);                     // [1, 2H]
        engineOutput = new float[outputView.Elements];
        graph.Backend.Download(outputView, engineOutput);

        int steps = sequenceView.Shape.D1, inputs = sequenceView.Shape.D2, h = executor.Config.Hidden;
        var forward = new float[steps * h];                          // [S, H]
        var backward = new float[steps * h];                         // [S, H]
        Direction(executor, "fw", sequence, steps, inputs, h, forward, reverse: false);
        Direction(executor, "bw", sequence, steps, inputs, h, backward, reverse: true);
        double secondsPerStep = 0.01 * (1 << executor.Config.Blocks);
        return new BiLstmActivations(steps, h, secondsPerStep, forward, backward);
    }

    static void Direction(Executor executor, string dir, float[] x, int steps, int inputs, int h, float[] states, bool reverse)
    {
        float[] wih = executor.GetParameter($"lstm.{dir}.w_ih");    // [4H, I]
        float[] whh = executor.GetParameter($"lstm.{dir}.w_hh");    // [4H, H]
        float[] bias = executor.GetParameter($"lstm.{dir}.bias");   // [4H]
        var gates = new double[4 * h];
        var hPrev = new double[h];
        var c = new double[h];
        for (int s = 0; s < steps; s++)
        {
            int t = reverse ? steps - 1 - s : s;
            var xt = x.AsSpan(t * inputs, inputs);
            for (int r = 0; r < 4 * h; r++)
            {
                double g = bias[r];
                var wi = wih.AsSpan(r * inputs, inputs);
                for (int i = 0; i < inputs; i++) g += wi[i] * xt[i];
                var wh = whh.AsSpan(r * h, h);
                for (int j = 0; j < h; j++) g += wh[j] * hPrev[j];
                gates[r] = g;
            }
            for (int j = 0; j < h; j++)
            {
                double i = Sigmoid(gates[j]), f = Sigmoid(gates[h + j]), g = Math.Tanh(gates[2 * h + j]), o = Sigmoid(gates[3 * h + j]);
                c[j] = f * c[j] + i * g;
                hPrev[j] = o * Math.Tanh(c[j]);
                states[t * h + j] = (float)hPrev[j];
            }
        }
    }

    static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));
}
