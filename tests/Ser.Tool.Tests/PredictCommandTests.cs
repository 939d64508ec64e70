using System.Text.Json;
using Ser.Engine.Audio;
using Ser.Engine.Checkpoints;
using Ser.Engine.Features;
using Ser.Engine.Models;
using Ser.Engine.Training;

namespace Ser.Tool.Tests;

/// <summary>`sertool predict` on a model with random weights (no training needed to test the plumbing).</summary>
[Collection(nameof(ConsoleCapture))]
public sealed class PredictCommandTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("ser-predict-cli-").FullName;
    readonly string _model;

    public PredictCommandTests()
    {
        _model = Path.Combine(_dir, "model.ser");
        var config = ModelConfig.FromJson(CliFixtures.TinyModelJson, "test") with { Classes = 4 };
        using var ex = Executor.Create(config, new ExecutorOptions { Training = false, MaxBatch = 1, MaxFrames = 64, Threads = 1 });
        ex.InitializeParameters(11, InitMode.AllPathsLive);
        var stats = new FeatureStats(Enumerable.Repeat(-50f, 400).ToArray(), Enumerable.Repeat(12f, 400).ToArray());
        Checkpoint.Save(_model, ex, ["neutral", "angry", "happy", "sad"], stats, new Dictionary<string, string> { ["length_mode"] = "variable" });
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    /// <summary>Rewrites _model as checkpoint format 1 wrote it: format_version "1", sha256 of the tensor bytes only.</summary>
    string AsFormatOne()
    {
        var bytes = File.ReadAllBytes(_model);
        int n = (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        var header = System.Text.Json.Nodes.JsonNode.Parse(System.Text.Encoding.UTF8.GetString(bytes, 8, n))!.AsObject();
        header["__metadata__"]!["format_version"] = "1";
        header["__metadata__"]!["sha256"] = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes.AsSpan(8 + n)));
        var json = System.Text.Encoding.UTF8.GetBytes(header.ToJsonString());
        int padded = (json.Length + 7) / 8 * 8;
        var file = new byte[8 + padded + bytes.Length - 8 - n];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)padded);
        file.AsSpan(8, padded).Fill((byte)' ');
        json.CopyTo(file, 8);
        bytes.AsSpan(8 + n).CopyTo(file.AsSpan(8 + padded));
        string path = Path.Combine(_dir, "old-model.ser");
        File.WriteAllBytes(path, file);
        return path;
    }

    [Fact]
    public void A_format_one_model_predicts_with_one_note_on_stderr()
    {
        string wav = Path.Combine(_dir, "tone.wav");
        WavWriter.WriteMono16(wav, CliFixtures.Tone(2, 150, 0.5, 16000), 16000);
        string old = AsFormatOne();

        var (code, output, err) = Cli.Run("predict", "--model", old, wav);
        Assert.Equal(0, code);
        var note = Assert.Single(CliFixtures.Lines(err));
        Assert.StartsWith("sertool: note: ", note);
        Assert.Contains("old-model.ser", note);
        Assert.Contains("format 1", note);
        Assert.Contains("tone.wav", output);

        (code, _, err) = Cli.Run("predict", "--model", _model, wav); // the current format: nothing to say
        Assert.Equal(0, code);
        Assert.Empty(CliFixtures.Lines(err));
    }

    [Fact]
    public void A_bad_wav_among_good_ones_is_one_error_line_and_exit_1_while_the_others_are_reported()
    {
        string good1 = Path.Combine(_dir, "good1.wav"), bad = Path.Combine(_dir, "bad.wav"), good2 = Path.Combine(_dir, "good2.wav");
        CliFixtures.WritePcm16(good1, CliFixtures.Tone(1, 200, 0.8, 44100), 44100, 2);
        File.WriteAllBytes(bad, "RIFF\x10\0\0\0WAVEfmt "u8.ToArray());
        WavWriter.WriteMono16(good2, CliFixtures.Tone(2, 150, 0.5, 16000), 16000);

        var (code, output, err) = Cli.Run("predict", "--model", _model, good1, bad, good2);
        Assert.Equal(1, code);
        var errors = CliFixtures.Lines(err);
        Assert.Single(errors);
        Assert.StartsWith("sertool: error: ", errors[0]);
        Assert.Contains("bad.wav", errors[0]);
        Assert.DoesNotContain(" at ", err);
        Assert.Contains("good1.wav", output);
        Assert.Contains("good2.wav", output);
        Assert.DoesNotContain("bad.wav", output);

        (code, output, _) = Cli.Run("predict", "--model", _model, good1, bad, good2, "--json");
        Assert.Equal(1, code);
        using var doc = JsonDocument.Parse(output);
        var results = doc.RootElement.GetProperty("results");
        Assert.Equal(3, results.GetArrayLength());
        Assert.True(results[0].TryGetProperty("label", out _));
        Assert.Contains("bad.wav", results[1].GetProperty("error").GetString());
        Assert.True(results[2].TryGetProperty("label", out _));
    }

    [Fact]
    public void The_same_sound_at_44k_stereo_and_16k_mono_gets_the_same_answer()
    {
        // a 16 kHz signal and its band-limited 44.1 kHz upsampling written as two identical channels
        var pcm = CliFixtures.Tone(3, 220, 1.0, 16000);
        string mono = Path.Combine(_dir, "mono.wav"), stereo = Path.Combine(_dir, "stereo.wav");
        WavWriter.WriteMonoFloat32(mono, pcm, 16000);
        var up = Resampler.Resample(pcm, 16000, 44100);
        WriteStereoFloat(stereo, up, 44100);

        var (code, output, err) = Cli.Run("predict", "--model", _model, mono, stereo, "--json");
        Assert.True(code == 0, err);
        using var doc = JsonDocument.Parse(output);
        var r = doc.RootElement.GetProperty("results");
        Assert.Equal(r[0].GetProperty("label").GetString(), r[1].GetProperty("label").GetString());
        foreach (var p in r[0].GetProperty("probabilities").EnumerateObject())
            Assert.True(Math.Abs(p.Value.GetDouble() - r[1].GetProperty("probabilities").GetProperty(p.Name).GetDouble()) < 0.01, p.Name);
    }

    [Fact]
    public void An_mp3_file_is_predicted_as_its_decoded_samples_are()
    {
        // The committed MP3 fixture (a 0.5 s 440 Hz tone, 22.05 kHz stereo, lame -b 64; no encoder on the CI machine), and
        // the samples it decodes to, mixed to mono and written as a float WAV: sertool must give both one answer.
        string mp3 = Path.Combine(AppContext.BaseDirectory, "Fixtures", "tone440-22k-stereo.mp3");
        var decoded = WavReader.Read(mp3);
        string wav = Path.Combine(_dir, "decoded.wav");
        WavWriter.WriteMonoFloat32(wav, decoded.MixToMono(), decoded.SampleRate);

        var (code, output, err) = Cli.Run("predict", "--model", _model, mp3, wav, "--json");
        Assert.True(code == 0, err);
        using var doc = JsonDocument.Parse(output);
        var r = doc.RootElement.GetProperty("results");
        Assert.Equal(mp3, r[0].GetProperty("file").GetString());
        Assert.InRange(r[0].GetProperty("seconds").GetDouble(), 0.45, 0.6);
        Assert.Equal(r[1].GetProperty("label").GetString(), r[0].GetProperty("label").GetString());
        foreach (var p in r[1].GetProperty("probabilities").EnumerateObject())
            Assert.Equal(p.Value.GetDouble(), r[0].GetProperty("probabilities").GetProperty(p.Name).GetDouble(), 1e-6);
    }

    [Fact]
    public void A_missing_model_is_exit_1()
    {
        var (code, _, err) = Cli.Run("predict", "--model", Path.Combine(_dir, "none.ser"), "x.wav");
        Assert.Equal(1, code);
        Assert.StartsWith("sertool: error: ", err);
        Assert.Contains("none.ser", err);
    }

    static void WriteStereoFloat(string path, float[] x, int rate)
    {
        int bytes = x.Length * 2 * 4;
        using var w = new BinaryWriter(File.Create(path));
        w.Write("RIFF"u8); w.Write(36 + bytes); w.Write("WAVE"u8);
        w.Write("fmt "u8); w.Write(16); w.Write((short)3); w.Write((short)2); w.Write(rate);
        w.Write(rate * 8); w.Write((short)8); w.Write((short)32);
        w.Write("data"u8); w.Write(bytes);
        foreach (float v in x) { w.Write(v); w.Write(v); }
    }
}
