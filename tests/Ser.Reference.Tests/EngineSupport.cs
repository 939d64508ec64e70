using Ser.Engine.Data;
using Ser.Engine.Models;
using Ser.Engine.Training;
using Ser.Reference.Checkpoints;

namespace Ser.Reference.Tests;

/// <summary>Shared pieces of the engine-vs-reference tests: ragged batches, engine weights as reference weights, error stats.</summary>
internal static class EngineSupport
{
    /// <summary>
    /// A batch padded to max(lengths): features uniform in [-1.5, 1.5) on valid frames, exactly zero on padding (the
    /// contract's input), labels uniform over the classes. Legend: B batch, T frames, F bins.
    /// </summary>
    public static Batch RaggedBatch(int bins, int classes, int[] lengths, int seed)
    {
        int b = lengths.Length, frames = lengths.Max();
        var batch = new Batch(b, frames, bins) { Count = b, Frames = frames };
        var rng = new Random(seed);
        for (int i = 0; i < b; i++)
        {
            batch.Lengths[i] = lengths[i];
            batch.Labels[i] = rng.Next(classes);
            batch.Indices[i] = i;
            var sample = batch.Sample(i);                               // [T, F]
            for (int j = 0; j < lengths[i] * bins; j++) sample[j] = (float)(3 * rng.NextDouble() - 1.5);
        }
        return batch;
    }

    /// <summary>The engine's current parameters as reference weights (same names, shapes, values).</summary>
    public static Dictionary<string, HostTensor> WeightsOf(Executor executor) =>
        executor.ParameterNames.ToDictionary(n => n, n => new HostTensor(executor.ParameterShape(n), executor.GetParameter(n)));

    public static Executor CreateEngine(ModelConfig config, Batch batch, ulong seed, bool training = true, string device = "cpu",
        Ser.Engine.Backends.Cpu.SimdPath? simd = null)
    {
        var ex = Executor.Create(config, new ExecutorOptions
        {
            MaxBatch = batch.Count, MaxFrames = batch.Frames, Threads = 2, Training = training, Device = device, Simd = simd,
        });
        ex.InitializeParameters(seed, InitMode.AllPathsLive);
        return ex;
    }

    /// <summary>Whether this build and machine can run the engine on <paramref name="device"/> (null) or why not.</summary>
    public static string? Unavailable(string device)
    {
        try
        {
            using var ex = Executor.Create(EngineEquivalenceTests.Tiny, new ExecutorOptions { MaxBatch = 1, MaxFrames = 1, Device = device });
            return null;
        }
        catch (Ser.Engine.SerException e)
        {
            return e.Message;
        }
    }
}

/// <summary>
/// Element-wise closeness |engine - reference| &lt;= atol * scale + rtol * |reference|, where scale is 1 for logits and
/// the loss and max|reference| of the tensor for gradients. Records the worst errors seen so a test can report them.
/// </summary>
internal sealed class Closeness(double rtol, double atol)
{
    public double MaxAbsolute { get; private set; }
    /// <summary>Largest |e - r| / (atol * scale + rtol * |r|): below 1 means within tolerance.</summary>
    public double WorstFraction { get; private set; }
    public string Worst { get; private set; } = "";

    public void Check(string what, ReadOnlySpan<float> engine, ReadOnlySpan<double> reference, bool scaleByTensor)
    {
        Assert.Equal(reference.Length, engine.Length);
        double scale = 1;
        if (scaleByTensor)
        {
            scale = 0;
            foreach (double r in reference) scale = Math.Max(scale, Math.Abs(r));
            Assert.True(scale > 0, $"{what}: reference gradient is all zero (the check would have no teeth)");
        }
        for (int i = 0; i < engine.Length; i++)
        {
            double diff = Math.Abs(engine[i] - reference[i]);
            double bound = atol * scale + rtol * Math.Abs(reference[i]);
            MaxAbsolute = Math.Max(MaxAbsolute, diff / scale);
            if (diff / bound > WorstFraction)
            {
                WorstFraction = diff / bound;
                Worst = $"{what}[{i}]: engine {engine[i]:R}, reference {reference[i]:R}";
            }
            if (!(diff <= bound))
                Assert.Fail($"{what}[{i}]: engine {engine[i]:R}, reference {reference[i]:R}, |diff| {diff:E2} > {bound:E2} " +
                            $"(rtol {rtol}, atol {atol} x scale {scale:G3})");
        }
    }

    public void Check(string what, double engine, double reference) =>
        Check(what, [(float)engine], [reference], scaleByTensor: false);

    public override string ToString() => $"max |diff|/scale {MaxAbsolute:E2}, worst {WorstFraction:P1} of tolerance at {Worst}";
}
