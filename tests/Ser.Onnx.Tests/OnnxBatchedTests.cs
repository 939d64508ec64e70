using Ser.Engine.Checkpoints;
using Ser.Engine.Export;
using Ser.Engine.Features;

namespace Ser.Onnx.Tests;

/// <summary>
/// The batched export (inputs [B, ...] + lengths [B]) keeps the engine's padding invariance: each row of a ragged batch,
/// whatever its padding holds, gets the probabilities the engine gives the utterance alone (within 1e-4, as the
/// single-utterance export).
/// </summary>
public sealed class OnnxBatchedTests(ITestOutputHelper output) : IDisposable
{
    readonly ModelFolder _models = new();

    public void Dispose() => _models.Dispose();

    [Theory]
    [InlineData("small")]
    [InlineData("paper")]
    public void Ragged_pcm_batch_rows_equal_the_engine_alone(string preset)
    {
        string ckpt = _models.Save(preset, temperature: "1.3", seed: 17);
        var checkpoint = Checkpoint.Load(ckpt);
        using var onnx = new OrtModel(_models.Export(ckpt, batched: true));
        Assert.Equal(["pcm", "lengths"], onnx.Session.InputMetadata.Keys);
        // short (one zero-padded frame), an odd frame count, and long rows, in no particular order
        int[] lengths = [48_000, 300, 17_123, 641, 2_400, 80_000];
        int width = lengths.Max();
        var rows = Signals.Noise(7, lengths.Length * width, 0.9f);   // the padding is loud noise: it must be ignored
        var (probs, logits) = onnx.RunBatch("pcm", rows, [lengths.Length, width], lengths.Select(l => (long)l).ToArray());
        double worst = 0;
        for (int b = 0; b < lengths.Length; b++)
        {
            var pcm = Signals.Noise(7, lengths.Length * width, 0.9f).AsSpan(b * width, lengths[b]).ToArray();
            var alone = Engine.Run(checkpoint, pcm);
            double dp = Signals.MaxAbsDiff(alone.Probs, probs.AsSpan(b * 4, 4));
            double dl = Signals.MaxAbsDiff(alone.Logits, logits.AsSpan(b * 4, 4));
            output.WriteLine($"{preset} row {b} (N={lengths[b]}): max|dprob| {dp:E2} max|dlogit| {dl:E2}");
            Assert.True(dp <= 1e-4, $"row {b}: probabilities differ from the engine's by {dp:E2}");
            Assert.True(dl <= 1e-4 * Math.Max(1, alone.Logits.Max(Math.Abs)), $"row {b}: logits differ by {dl:E2}");
            worst = Math.Max(worst, dp);
        }
        output.WriteLine($"{preset}: worst {worst:E2}");
    }

    [Fact]
    public void Ragged_features_batch_rows_equal_the_engine_alone()
    {
        string ckpt = _models.Save("paper", seed: 19);
        var checkpoint = Checkpoint.Load(ckpt);
        using var onnx = new OrtModel(_models.Export(ckpt, OnnxInput.Features, batched: true));
        int[] frames = [1, 2, 57, 9, 130];
        int width = frames.Max(), f = FrontEnd.Bins;
        var rows = Signals.Noise(3, frames.Length * width * f, 2f);   // normalised-feature-like values, padding included
        var (probs, _) = onnx.RunBatch("features", rows, [frames.Length, 1, width, f], frames.Select(t => (long)t).ToArray());
        for (int b = 0; b < frames.Length; b++)
        {
            var x = rows.AsSpan(b * width * f, frames[b] * f).ToArray();
            double d = Signals.MaxAbsDiff(Engine.RunFeatures(checkpoint, x, frames[b]).Probs, probs.AsSpan(b * 4, 4));
            output.WriteLine($"features row {b} (T={frames[b]}): max|dprob| {d:E2}");
            Assert.True(d <= 1e-4, $"row {b}: {d:E2}");
        }
    }

    [Fact]
    public void A_fixed_length_model_is_not_exported_batched()
    {
        string ckpt = _models.Save("small", mode: "fixed");
        var e = Assert.Throws<Ser.Engine.SerException>(() => OnnxExporter.Export(Checkpoint.Load(ckpt), new OnnxExportOptions { Batched = true }));
        Assert.Contains("fixed-length model cannot be exported batched", e.Message);
    }
}
