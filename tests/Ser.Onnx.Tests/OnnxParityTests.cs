using Ser.Engine.Checkpoints;
using Ser.Engine.Data.Synthetic;
using Ser.Engine.Export;
using Ser.Engine.Features;
using Ser.Engine.Inference;

namespace Ser.Onnx.Tests;

/// <summary>
/// The exported model run by ONNX Runtime (CPU) against the engine on the same checkpoint and audio.
/// Bounds: probabilities within 1e-4 (the export's contract, issue 14). Both sides compute in float32 with different
/// summation orders (the engine's FFT against a DFT-as-convolution, its direct convolution and packed LSTM against ONNX
/// Runtime's im2col/GEMM kernels, AVX2 or AVX-512), so logits agree to a few 1e-6 relative, not bit for bit; the logit
/// bound below is relative to the logits' own scale.
/// </summary>
public sealed class OnnxParityTests(ITestOutputHelper output) : IDisposable
{
    const double ProbTolerance = 1e-4;
    readonly ModelFolder _models = new();

    public void Dispose() => _models.Dispose();

    /// <summary>Edge lengths of the frame rule (below one window, exactly one, one sample more) and 0.05-20 s.</summary>
    static readonly int[] Lengths = [160, 639, 640, 641, 800, 1_759, 1_760, 16_000, 37_123, 80_000, 320_000];

    static double LogitTolerance(float[] logits) => 1e-4 * Math.Max(1, logits.Max(Math.Abs));

    [Theory]
    [InlineData("small")]
    [InlineData("paper")]
    public void Pcm_model_matches_the_engine_on_random_pcm(string preset)
    {
        string ckpt = _models.Save(preset, temperature: preset == "small" ? "1.7" : null);
        var checkpoint = Checkpoint.Load(ckpt);
        using var onnx = new OrtModel(_models.Export(ckpt));
        using var recognizer = EmotionRecognizer.Load(ckpt);
        double worstProb = 0, worstLogit = 0;
        var tops = new HashSet<int>();
        for (int i = 0; i < Lengths.Length; i++)
        {
            var pcm = Signals.Noise(100 + i, Lengths[i], amplitude: 0.05f + 0.1f * i);
            var (probs, logits) = onnx.RunPcm(pcm);
            var engine = Engine.Run(checkpoint, pcm);
            var door = Engine.Probabilities(recognizer, pcm);   // what sertool predict reports
            double dp = Math.Max(Signals.MaxAbsDiff(door, probs), Signals.MaxAbsDiff(engine.Probs, probs));
            double dl = Signals.MaxAbsDiff(engine.Logits, logits);
            output.WriteLine($"{preset} N={Lengths[i],7}: max|dprob| {dp:E2}  max|dlogit| {dl:E2}  (|logit| <= {engine.Logits.Max(Math.Abs):F2})");
            Assert.True(dp <= ProbTolerance, $"N={Lengths[i]}: probabilities differ by {dp:E2}");
            Assert.True(dl <= LogitTolerance(engine.Logits), $"N={Lengths[i]}: logits differ by {dl:E2}");
            worstProb = Math.Max(worstProb, dp);
            worstLogit = Math.Max(worstLogit, dl);
            tops.Add(Array.IndexOf(probs, probs.Max()));
        }
        output.WriteLine($"{preset}: worst max|dprob| {worstProb:E2}, worst max|dlogit| {worstLogit:E2}");
        // the comparison means something only if the model's answers vary with the input
        Assert.True(tops.Count >= 2, "every input got the same top class: the check would not see a wrong model");
    }

    [Theory]
    [InlineData("small")]
    [InlineData("paper")]
    public void Pcm_model_matches_the_engine_on_synthetic_utterances(string preset)
    {
        string ckpt = _models.Save(preset, seed: 9);
        using var onnx = new OrtModel(_models.Export(ckpt));
        using var recognizer = EmotionRecognizer.Load(ckpt);
        var utterances = SyntheticCorpus.Create(utterances: 20, seed: 3).Take(preset == "small" ? 8 : 4);
        double worst = 0;
        foreach (var u in utterances)
        {
            var pcm = u.Audio.Load();
            var (probs, _) = onnx.RunPcm(pcm);
            double d = Signals.MaxAbsDiff(Engine.Probabilities(recognizer, pcm), probs);
            output.WriteLine($"{preset} {u.Id} ({pcm.Length / 16000.0:F2} s): max|dprob| {d:E2}");
            Assert.True(d <= ProbTolerance, $"{u.Id}: probabilities differ by {d:E2}");
            worst = Math.Max(worst, d);
        }
        output.WriteLine($"{preset}: worst {worst:E2}");
    }

    [Theory]
    [InlineData("small")]
    [InlineData("paper")]
    public void Features_model_matches_the_engine_and_the_pcm_model(string preset)
    {
        string ckpt = _models.Save(preset, seed: 11);
        var checkpoint = Checkpoint.Load(ckpt);
        using var pcmModel = new OrtModel(_models.Export(ckpt));
        using var featureModel = new OrtModel(_models.Export(ckpt, OnnxInput.Features));
        Assert.Equal("features", featureModel.Metadata["ser.input"]);
        foreach (int n in new[] { 300, 800, 16_000, 56_789 })
        {
            var pcm = Signals.Noise(n, n, 0.3f);
            var features = FrontEnd.Compute(pcm);
            checkpoint.Stats.Normalize(features);
            int frames = FrontEnd.FrameCount(n);
            var viaFeatures = featureModel.RunFeatures(features, frames);
            var viaPcm = pcmModel.RunPcm(pcm);
            var engine = Engine.RunFeatures(checkpoint, features, frames);
            double dEngine = Signals.MaxAbsDiff(engine.Probs, viaFeatures.Probs);
            double dPcm = Signals.MaxAbsDiff(viaPcm.Probs, viaFeatures.Probs);
            double dLogit = Signals.MaxAbsDiff(engine.Logits, viaFeatures.Logits);
            output.WriteLine($"{preset} N={n}: features-in vs engine max|dprob| {dEngine:E2} max|dlogit| {dLogit:E2}; vs pcm-in {dPcm:E2}");
            Assert.True(dEngine <= ProbTolerance, $"features-in vs engine: {dEngine:E2}");
            Assert.True(dPcm <= ProbTolerance, $"features-in vs pcm-in: {dPcm:E2}");
            Assert.True(dLogit <= LogitTolerance(engine.Logits), $"features-in logits vs engine: {dLogit:E2}");
        }
    }

    [Fact]
    public void Fixed_length_model_exports_its_pieces_and_averages_them()
    {
        string ckpt = _models.Save("small", mode: "fixed", temperature: "0.8", seed: 13);
        using var onnx = new OrtModel(_models.Export(ckpt));
        using var recognizer = EmotionRecognizer.Load(ckpt);
        Assert.Equal("fixed", onnx.Metadata["ser.length_mode"]);
        Assert.Equal("300", onnx.Metadata["ser.piece_frames"]);
        // 1 piece, exactly 3 s of frames (2 99 + 640 samples = 300 frames), 2 pieces with a padded tail, 4 pieces
        foreach (int n in new[] { 4_000, 299 * 160 + 640, 299 * 160 + 641 + 160, 170_000 })
        {
            var pcm = Signals.Noise(n, n, 0.2f);
            var (probs, logits) = onnx.RunPcm(pcm);
            double d = Signals.MaxAbsDiff(Engine.Probabilities(recognizer, pcm), probs);
            output.WriteLine($"fixed N={n} ({FrontEnd.FrameCount(n)} frames): max|dprob| {d:E2}");
            Assert.True(d <= ProbTolerance, $"N={n}: probabilities differ by {d:E2}");
            for (int k = 0; k < probs.Length; k++) Assert.Equal(Math.Log(probs[k]), logits[k], 1e-5);
        }
    }

    [Fact]
    public void Metadata_carries_the_contract_and_the_checkpoint_metadata()
    {
        string ckpt = _models.Save("small", temperature: "1.25");
        using var onnx = new OrtModel(_models.Export(ckpt));
        var m = onnx.Metadata;
        Assert.Equal("neutral,angry,happy,sad", m["ser.labels"]);
        Assert.Equal("16000", m["ser.sample_rate"]);
        Assert.Equal("1.25", m["ser.temperature"]);
        Assert.Equal("pcm", m["ser.input"]);
        Assert.Equal("variable", m["ser.length_mode"]);
        Assert.Contains("\"hop\":160", m["ser.front_end"]);
        Assert.Contains("\"dft_size\":1600", m["ser.front_end"]);
        Assert.Equal("small", m["preset"]);
        Assert.Equal("test", m["corpus"]);
        var inputs = onnx.Session.InputMetadata;
        Assert.Equal(["pcm"], inputs.Keys);
        Assert.Equal([1, -1], inputs["pcm"].Dimensions);
        Assert.Equal(["probs", "logits"], onnx.Session.OutputMetadata.Keys);
        Assert.Equal([1, 4], onnx.Session.OutputMetadata["probs"].Dimensions);
    }

    [Fact]
    public void A_different_bin_count_is_refused_with_a_clear_message()
    {
        var config = Ser.Engine.Models.ModelConfig.Small with { Bins = 200 };
        string path = Path.Combine(_models.Dir, "bins200.ser");
        using (var ex = Ser.Engine.Training.Executor.Create(config, new() { Training = false, MaxBatch = 1, MaxFrames = 10 }))
        {
            ex.InitializeParameters(1, Ser.Engine.Models.InitMode.AllPathsLive);
            Checkpoint.Save(path, ex, ModelFolder.Labels, new FeatureStats(new float[200], Enumerable.Repeat(1f, 200).ToArray()));
        }
        var e = Assert.Throws<Ser.Engine.SerException>(() => OnnxExporter.Export(Checkpoint.Load(path)));
        Assert.Contains("200 bins", e.Message);
    }
}
