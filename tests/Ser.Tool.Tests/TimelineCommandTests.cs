using System.Text.Json;
using Ser.Engine.Audio;
using Ser.Engine.Checkpoints;
using Ser.Engine.Data.Synthetic;
using Ser.Engine.Features;
using Ser.Engine.Inference;
using Ser.Engine.Models;
using Ser.Engine.Training;

namespace Ser.Tool.Tests;

/// <summary>`sertool timeline` on a random-weight model and synthetic speech separated by silences.</summary>
[Collection(nameof(ConsoleCapture))]
public sealed class TimelineCommandTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("ser-timeline-cli-").FullName;
    readonly string _model, _wav;
    readonly float[] _pcm;

    public TimelineCommandTests()
    {
        _model = Path.Combine(_dir, "model.ser");
        var config = ModelConfig.FromJson(CliFixtures.TinyModelJson, "test") with { Classes = 4 };
        using (var ex = Executor.Create(config, new ExecutorOptions { Training = false, MaxBatch = 1, MaxFrames = 64, Threads = 1 }))
        {
            ex.InitializeParameters(11, InitMode.AllPathsLive);
            var stats = new FeatureStats(Enumerable.Repeat(-50f, 400).ToArray(), Enumerable.Repeat(12f, 400).ToArray());
            Checkpoint.Save(_model, ex, ["neutral", "angry", "happy", "sad"], stats);
        }
        var u = SyntheticCorpus.Create(10, seed: 2).Take(3).Select(x => x.Audio.Load()).ToList();
        _pcm = [.. new float[8000], .. u[0], .. new float[16000], .. u[1], .. new float[12000], .. u[2], .. new float[8000]];
        _wav = Path.Combine(_dir, "talk.wav");
        WavWriter.WriteMonoFloat32(_wav, _pcm, 16000);
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    [Fact]
    public void Json_holds_only_the_final_segments_and_equals_the_EmotionStream_on_the_whole_file()
    {
        var (code, output, err) = Cli.Run("timeline", "--model", _model, _wav, "--json");
        Assert.True(code == 0, err);
        using var doc = JsonDocument.Parse(output);   // stdout is the JSON and nothing else
        var segments = doc.RootElement.GetProperty("segments");
        int count = segments.GetArrayLength();
        Assert.True(count >= 3, $"{count} segments for 3 utterances (one may hold a pause)");

        using var recognizer = EmotionRecognizer.Load(_model);
        using var stream = new EmotionStream(recognizer);
        stream.Push(_pcm);
        stream.Flush();
        var expected = new EmotionSegment[16];
        Assert.Equal(count, stream.Poll(expected));
        for (int i = 0; i < count; i++)
        {
            var s = segments[i];
            Assert.Equal(expected[i].StartSeconds, s.GetProperty("start").GetDouble());
            Assert.Equal(expected[i].EndSeconds, s.GetProperty("end").GetDouble());
            Assert.Equal(recognizer.Labels[expected[i].Label], s.GetProperty("label").GetString());
            for (int k = 0; k < 4; k++)
                Assert.Equal(expected[i].Probability(k), s.GetProperty("probabilities").GetProperty(recognizer.Labels[k]).GetSingle());
        }
        Assert.True(segments[0].GetProperty("start").GetDouble() >= 0.4, "the leading 0.5 s of silence is not speech");
    }

    [Fact]
    public void Csv_table_and_png()
    {
        var (code, output, err) = Cli.Run("timeline", "--model", _model, _wav, "--csv");
        Assert.True(code == 0, err);
        var lines = CliFixtures.Lines(output);
        Assert.Equal("start,end,label,neutral,angry,happy,sad", lines[0]);
        Assert.True(lines.Length >= 4, output);
        Assert.All(lines[1..], l => Assert.Equal(7, l.Split(',').Length));

        string png = Path.Combine(_dir, "t.png");
        (code, output, err) = Cli.Run("timeline", "--model", _model, _wav, "--out", png, "--max-segment", "2");
        Assert.True(code == 0, err);
        Assert.Contains("emotion", output);
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, File.ReadAllBytes(png)[..4]);

        (code, _, err) = Cli.Run("timeline", "--model", _model, _wav, "--max-segment", "0.2");
        Assert.Equal(1, code);
        Assert.Contains("--max-segment", err);
    }
}
