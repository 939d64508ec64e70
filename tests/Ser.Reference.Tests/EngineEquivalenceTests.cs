using Ser.Engine.Backends.Cpu;
using Ser.Engine.Models;
using Ser.Engine.Training;

namespace Ser.Reference.Tests;

/// <summary>
/// DESIGN invariant 3: the engine (CPU backend, float32) and the TorchSharp reference (float64, autograd), loaded with
/// the same weights (the engine's own initialisation), give the same logits, loss and gradients of EVERY parameter on
/// ragged batches (lengths 1 and odd, so every ceil and every "own last step" matters; padding exactly zero).
///
/// Tolerances, |engine - reference| &lt;= ATOL * scale + RTOL * |reference|, scale = 1 for logits and loss and
/// max|reference| over the tensor for a gradient:
///   RTOL = 1e-3, ATOL = 1e-4.
/// Why: the reference is float64, so the difference is the engine's float32 rounding. Its largest sums are the weight
/// gradients (conv filters summed over every valid frame and bin of the batch, up to ~10^4 terms here) whose rounding
/// error grows like sqrt(n) * 6e-8 relative to the summands: ~1e-5 of the tensor's scale. An entry that is small
/// because of cancellation can only be judged against that scale, hence atol * scale, not a bare relative bound.
/// Measured (each test prints its worst): logits/loss differ by at most 5e-7, gradients by at most 3.9e-6 of their
/// tensor's scale (paper config, conv3), i.e. under 2% of the bound. Deliberate bugs fail it clearly: "same" padding
/// of even kernels off by one (PadF = KF/2) gives logit errors of 2e-2..8e-2 in every case, and dropping the forget
/// gate from the LSTM's cell-gradient recurrence (dc = dc' instead of dc' * f) fails every case on dconv1.weight.
/// </summary>
public class EngineEquivalenceTests(ITestOutputHelper output)
{
    const double Rtol = 1e-3, Atol = 1e-4;

    /// <summary>Tiny, 16 bins, even kernels in both axes (asymmetric "same" padding), K = 4.</summary>
    internal static readonly ModelConfig Tiny = new()
    {
        Bins = 16,
        Channels = [2, 3, 4],
        Kernels = [[3, 4], [4, 3], [2, 2]],
        Hidden = 5,
        Dense = 6,
        Classes = 4,
        Dropout = 0.5, // eval: identity on both sides
    };

    /// <summary>The engine's small preset at the front end's 400 bins (I = 12 x 50).</summary>
    internal static readonly ModelConfig Small400 = ModelConfig.Small;

    // name, seed, lengths (first = T; unsorted; 1 and odd lengths; 17 -> 9 -> 5 -> 3, 2 -> 1 -> 1 -> 1)
    static readonly (string Config, int Seed, int[] Lengths)[] CaseList =
    [
        ("tiny", 1, [17, 1, 9, 4, 12]),
        ("tiny", 2, [11, 2, 11, 7]),
        ("tiny", 3, [25, 13, 1, 1, 6, 19]),
        ("small400", 4, [23, 1, 9, 14]),
        ("small400", 5, [15, 15, 3]),
        ("paper", 6, [13, 1, 6]),
    ];

    public static TheoryData<string, int, int[]> Cases
    {
        get
        {
            var data = new TheoryData<string, int, int[]>();
            foreach (var (config, seed, lengths) in CaseList) data.Add(config, seed, lengths);
            return data;
        }
    }

    static ModelConfig Config(string name) => name switch
    {
        "tiny" => Tiny,
        "small400" => Small400,
        "paper" => ModelConfig.Paper,
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Engine_matches_reference_logits_loss_and_every_gradient(string configName, int seed, int[] lengths) =>
        Check("cpu", configName, seed, lengths);

    /// <summary>The same cases on the CUDA backend (same tolerances: float32 without TF32); skipped where there is none.</summary>
    [Fact]
    public void Engine_on_cuda_matches_reference_logits_loss_and_every_gradient()
    {
        string? why = EngineSupport.Unavailable("cuda");
        Assert.SkipUnless(why is null, $"no CUDA engine here: {why}");
        foreach (var (config, seed, lengths) in CaseList) Check("cuda", config, seed, lengths);
    }

    /// <summary>Every CPU kernel path this machine has (Vector512, Vector256, scalar) against the reference.</summary>
    [Theory]
    [InlineData(SimdPath.Scalar)]
    [InlineData(SimdPath.Vector256)]
    [InlineData(SimdPath.Vector512)]
    public void Engine_matches_reference_on_every_cpu_kernel_path(SimdPath path)
    {
        Assert.SkipUnless(CpuKernels.IsAvailable(path), $"this CPU does not accelerate {CpuKernels.Name(path)}");
        Check("cpu", "small400", 3, [40, 7, 23, 1], simd: path);
    }

    /// <summary>The loss variants of the protocol: a constant normaliser (the training split's) with and without 1/length.</summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Engine_matches_reference_with_a_constant_loss_normaliser(bool lengthWeight) =>
        Check("cpu", "tiny", 5, [9, 17, 1, 4], new LossOptions { LengthWeight = lengthWeight, Normalizer = 0.0123 });

    void Check(string device, string configName, int seed, int[] lengths, LossOptions? loss = null, SimdPath? simd = null)
    {
        loss ??= new LossOptions();
        var config = Config(configName);
        var batch = EngineSupport.RaggedBatch(config.Bins, config.Classes, lengths, seed);
        float[] classCounts = Enumerable.Range(0, config.Classes).Select(k => (float)(1 + (seed + 3 * k) % 7)).ToArray();

        using var engine = EngineSupport.CreateEngine(config, batch, (ulong)seed, device: device, simd: simd);
        engine.Loss = loss;
        var engineLogits = new float[batch.Count * config.Classes];
        double engineLoss = engine.ComputeGradients(batch, classCounts, engineLogits);

        using var reference = new ReferenceCrnn(ReferenceConfig.From(config), EngineSupport.WeightsOf(engine), float64: true) { Loss = loss };
        var expected = reference.Step(batch, classCounts);

        var close = new Closeness(Rtol, Atol);
        close.Check("logits", engineLogits, expected.Logits, scaleByTensor: false);
        close.Check("loss", engineLoss, expected.Loss);
        var gradientClose = new Closeness(Rtol, Atol);
        Assert.Equal(expected.Gradients.Keys.Order(), engine.ParameterNames.Order());
        foreach (var name in engine.ParameterNames)
            gradientClose.Check($"d{name}", engine.GetGradient(name), expected.Gradients[name], scaleByTensor: true);

        output.WriteLine($"{device}{(simd is { } p ? " " + CpuKernels.Name(p) : "")} {configName} seed {seed} lengths [{string.Join(",", lengths)}]: loss {engineLoss:R} vs {expected.Loss:R}");
        output.WriteLine($"  logits+loss: {close}");
        output.WriteLine($"  gradients:   {gradientClose}");
    }

    [Fact]
    public void Evaluate_logits_match_the_reference_too()
    {
        // The inference path (Evaluate, an inference-only executor) agrees with the training path's forward.
        var batch = EngineSupport.RaggedBatch(Small400.Bins, Small400.Classes, [21, 1, 8], seed: 8);
        using var trained = EngineSupport.CreateEngine(Small400, batch, 8);
        using var inference = EngineSupport.CreateEngine(Small400, batch, 8, training: false);
        var logits = new float[batch.Count * Small400.Classes];
        inference.Evaluate(batch, default, logits);
        using var reference = new ReferenceCrnn(ReferenceConfig.From(Small400), EngineSupport.WeightsOf(trained), float64: true);
        new Closeness(Rtol, Atol).Check("logits", logits, reference.Logits(batch), scaleByTensor: false);
    }
}
