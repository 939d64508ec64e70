using System.Text.Json;
using Ser.Engine.Audio;
using Ser.Engine.Checkpoints;
using Ser.Engine.Features;
using Ser.Engine.Models;
using Ser.Engine.Training;

namespace Ser.Tool.Tests;

/// <summary>`sertool predict --manifest/--dir --out preds.jsonl`: records, errors, resume after a kill.</summary>
[Collection(nameof(ConsoleCapture))]
public sealed class BulkPredictTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("ser-bulk-").FullName;
    readonly string _model, _manifest, _audio;

    public BulkPredictTests()
    {
        _model = Path.Combine(_dir, "model.ser");
        var config = ModelConfig.FromJson(CliFixtures.TinyModelJson, "test") with { Classes = 4 };
        using (var ex = Executor.Create(config, new ExecutorOptions { Training = false, MaxBatch = 1, MaxFrames = 64, Threads = 1 }))
        {
            ex.InitializeParameters(11, InitMode.AllPathsLive);
            var stats = new FeatureStats(Enumerable.Repeat(-50f, 400).ToArray(), Enumerable.Repeat(12f, 400).ToArray());
            Checkpoint.Save(_model, ex, ["neutral", "angry", "happy", "sad"], stats);
        }
        _audio = Path.Combine(_dir, "audio");
        Directory.CreateDirectory(Path.Combine(_audio, "sub"));
        var lines = new List<string> { "path,label,speaker" };
        for (int i = 0; i < 20; i++)
        {
            string rel = i % 2 == 0 ? $"a{i:D2}.wav" : $"sub/b{i:D2}.wav";
            WavWriter.WriteMono16(Path.Combine(_audio, rel), CliFixtures.Tone(i, 100 + 10 * i, 0.3 + 0.05 * i, 16000), 16000);
            lines.Add($"{rel},neutral,s1");
        }
        File.WriteAllBytes(Path.Combine(_audio, "broken.wav"), "RIFF\x10\0\0\0WAVEfmt "u8.ToArray());
        lines.Add("broken.wav,neutral,s1");
        _manifest = Path.Combine(_audio, "list.csv");
        File.WriteAllLines(_manifest, lines);
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    static List<JsonElement> Records(string path) =>
        File.ReadAllLines(path).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();

    [Fact]
    public void Every_file_gets_one_record_an_unreadable_one_an_error_and_the_probabilities_are_predicts()
    {
        string output = Path.Combine(_dir, "preds.jsonl");
        var (code, _, err) = Cli.Run("predict", "--model", _model, "--manifest", _manifest, "--out", output);
        Assert.Equal(1, code);   // one error record
        Assert.Contains("21 files", err);
        var records = Records(output);
        Assert.Equal(21, records.Count);
        Assert.Equal(21, records.Select(r => r.GetProperty("file").GetString()).Distinct().Count());
        Assert.Contains("broken.wav", records.Single(r => r.TryGetProperty("error", out _)).GetProperty("file").GetString());

        var one = records.First(r => r.GetProperty("file").GetString() == "sub/b03.wav");
        (code, var json, err) = Cli.Run("predict", "--model", _model, Path.Combine(_audio, "sub", "b03.wav"), "--json");
        Assert.True(code == 0, err);
        var expected = JsonDocument.Parse(json).RootElement.GetProperty("results")[0].GetProperty("probabilities");
        foreach (var p in expected.EnumerateObject())
            Assert.Equal(p.Value.GetSingle(), one.GetProperty("probabilities").GetProperty(p.Name).GetSingle());
    }

    [Fact]
    public void A_killed_run_resumes_skipping_what_is_done_and_dropping_a_torn_line()
    {
        string output = Path.Combine(_dir, "resume.jsonl");
        Cli.Run("predict", "--model", _model, "--dir", _audio, "--out", output);
        var all = File.ReadAllLines(output);
        Assert.Equal(21, all.Length);
        // as if killed: the last 7 records lost and one torn in half
        File.WriteAllText(output, string.Join("\n", all[..13]) + "\n" + all[13][..(all[13].Length / 2)]);
        var (code, _, err) = Cli.Run("predict", "--model", _model, "--dir", _audio, "--out", output);
        Assert.Contains("13 already", err);
        var records = Records(output);
        Assert.Equal(21, records.Count);
        Assert.Equal(21, records.Select(r => r.GetProperty("file").GetString()).Distinct().Count());
        Assert.Equal(all.Order(), File.ReadAllLines(output).Order());   // the same records as an uninterrupted run
        Assert.True(code is 0 or 1);
    }
}
