using System.Text;
using System.Text.Json;
using Ser.Engine;
using Ser.Engine.Audio;
using Ser.Tool.Commands;

namespace Ser.Tool.Tests;

/// <summary>Short WAVs, a tiny corpus and a tiny model config for CLI tests (Debug builds run the engine unoptimised).</summary>
internal static class CliFixtures
{
    public const string TinyModelJson = """{"channels":[2,2,2],"kernels":[[3,3],[3,3],[3,3]],"hidden":3,"dense":4,"dropout":0.2}""";
    static readonly string[] Classes = ["neutral", "angry", "happy", "sad"];

    /// <summary>5 sessions x 2 speakers x one 0.3-0.8 s utterance per class (three of 3.2 s); returns the corpus spec.</summary>
    public static string WriteCorpus(string dir)
    {
        Directory.CreateDirectory(dir);
        var lines = new List<string> { "path,label,speaker,session,gender" };
        int n = 0;
        for (int s = 1; s <= 5; s++)
            foreach (char g in "FM")
                for (int c = 0; c < 4; c++, n++)
                {
                    string speaker = $"Ses0{s}{g}", file = $"{speaker}_{c}.wav";
                    double seconds = n % 17 == 5 ? 3.2 : 0.3 + 0.1 * (n % 6);
                    WavWriter.WriteMono16(Path.Combine(dir, file), Tone(n, (g == 'F' ? 210 : 120) * Math.Pow(2, c / 3.0), seconds, 16000), 16000);
                    lines.Add($"{file},{Classes[c]},{speaker},Ses0{s},{g}");
                }
        string manifest = Path.Combine(dir, "manifest.csv");
        File.WriteAllLines(manifest, lines);
        return "manifest:" + manifest;
    }

    public static float[] Tone(int seed, double hz, double seconds, int rate)
    {
        var r = new Random(seed);
        var x = new float[(int)(seconds * rate)];
        for (int i = 0; i < x.Length; i++)
            x[i] = (float)(0.3 * Math.Sin(2 * Math.PI * hz * i / rate) + 0.1 * Math.Sin(4 * Math.PI * hz * i / rate) + 0.01 * (r.NextDouble() - 0.5));
        return x;
    }

    /// <summary>A 16-bit PCM WAV with any channel count (channel k is the signal scaled by 1/(k+1)).</summary>
    public static void WritePcm16(string path, float[] mono, int rate, int channels)
    {
        int bytes = mono.Length * channels * 2;
        using var w = new BinaryWriter(File.Create(path));
        w.Write("RIFF"u8); w.Write(36 + bytes); w.Write("WAVE"u8);
        w.Write("fmt "u8); w.Write(16); w.Write((short)1); w.Write((short)channels); w.Write(rate);
        w.Write(rate * channels * 2); w.Write((short)(channels * 2)); w.Write((short)16);
        w.Write("data"u8); w.Write(bytes);
        foreach (float v in mono)
            for (int ch = 0; ch < channels; ch++) w.Write((short)Math.Clamp(v / (ch + 1) * 32767, -32768, 32767));
    }

    public static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}

/// <summary>`sertool train` → `evaluate` → `predict` → `activations` through Program.Main, as a user runs them.</summary>
[Collection(nameof(ConsoleCapture))]
public sealed class TrainCommandTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("ser-train-cli-").FullName;
    readonly string _corpus, _model;

    public TrainCommandTests()
    {
        _corpus = CliFixtures.WriteCorpus(Path.Combine(_dir, "corpus"));
        _model = Path.Combine(_dir, "tiny.json");
        File.WriteAllText(_model, CliFixtures.TinyModelJson);
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    /// <summary>train with tiny settings; an option in <paramref name="more"/> replaces the default one.</summary>
    string[] TrainArgs(string outDir, params string[] more)
    {
        var options = new Dictionary<string, string>
        {
            ["--corpus"] = _corpus, ["--preset"] = _model, ["--epochs"] = "1", ["--batch-size"] = "4", ["--threads"] = "1",
            ["--device"] = "cpu", ["--out"] = outDir,
        };
        for (int i = 0; i < more.Length; i += 2) options[more[i]] = more[i + 1];
        return ["train", .. options.SelectMany(o => new[] { o.Key, o.Value })];
    }

    [Fact]
    public void Train_then_evaluate_predict_and_draw_activations()
    {
        string run = Path.Combine(_dir, "run");
        var (code, output, err) = Cli.Run(TrainArgs(run, "--folds", "2"));
        Assert.True(code == 0, err + output);
        Assert.Contains("NOTE: running folds 2 of 5", output);                // says that it is a subset
        Assert.Contains("fold 2 epoch  1/1", output);                          // the per-epoch log line (redirected output)
        Assert.Contains(output.Split('\n'), l => l.StartsWith("sertool train:") && l.Contains("run folder")); // logs are not wrapped at 80 columns
        foreach (string f in new[] { "model.ser", "MODEL_CARD.md", "report.md", "report.json", "confusion.png", "learning-curves.png", "reliability.png", "state.json",
                                     "fold2/best.ser", "fold2/last.ser" })
            Assert.True(File.Exists(Path.Combine(run, f)), $"{f} missing");
        Assert.Contains(output.Split('\n'), l => l.StartsWith("calibration: model T = ") && l.Contains("pooled test NLL"));
        Assert.Contains("## Calibration", File.ReadAllText(Path.Combine(run, "report.md")));
        using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "report.json")));
        var fold = report.RootElement.GetProperty("folds")[0];
        Assert.Equal(2, fold.GetProperty("fold").GetInt32());
        string testSpeaker = fold.GetProperty("test_speaker").GetString()!;
        double testUa = fold.GetProperty("test").GetProperty("ua").GetDouble();
        Assert.Equal(4, fold.GetProperty("test").GetProperty("n").GetInt32());

        // evaluate on the fold's test speaker reproduces the report's score (same stats, labels, weights)
        (code, output, err) = Cli.Run("evaluate", "--model", Path.Combine(run, "model.ser"), "--corpus", _corpus,
            "--speakers", testSpeaker, "--json");
        Assert.True(code == 0, err);
        using (var ev = JsonDocument.Parse(output))
        {
            Assert.Equal(4, ev.RootElement.GetProperty("utterances").GetInt32());
            Assert.Equal(testUa, ev.RootElement.GetProperty("ua").GetDouble(), 9);
        }
        // with no --speakers on the model's own corpus: the fold's tested speaker, said on stderr
        (code, output, err) = Cli.Run("evaluate", "--model", Path.Combine(run, "model.ser"), "--corpus", _corpus);
        Assert.Equal(0, code);
        Assert.Contains("Actual \\ Predict", output);
        Assert.Contains($"speakers {testSpeaker}: 4 utterances", output);
        Assert.Contains($"scoring the model's tested speaker {testSpeaker}", err);
        Assert.DoesNotContain("warning", err);
        // every speaker: allowed, with a warning that most of them trained the model and one chose its epoch
        (code, output, err) = Cli.Run("evaluate", "--model", Path.Combine(run, "model.ser"), "--corpus", _corpus, "--speakers", "all");
        Assert.Equal(0, code);
        Assert.Contains("40 utterances", output);
        Assert.Contains("8 of the scored speakers were in the model's training split", err);
        Assert.Contains(fold.GetProperty("validation_speaker").GetString() + " chose the model's epoch", err);
        // the reverse direction: the test speaker chose an epoch too, scored on the validation speaker
        Assert.True(File.Exists(Path.Combine(run, "fold2", "best-reverse.ser")));
        Assert.Equal(fold.GetProperty("validation_speaker").GetString(), fold.GetProperty("reverse").GetProperty("tested").GetString());

        // predict: a 44.1 kHz stereo file and a 16 kHz mono one
        string stereo = Path.Combine(_dir, "stereo44k.wav"), mono = Path.Combine(_dir, "mono16k.wav");
        CliFixtures.WritePcm16(stereo, CliFixtures.Tone(1, 180, 1.2, 44100), 44100, 2);
        WavWriter.WriteMono16(mono, CliFixtures.Tone(2, 300, 0.9, 16000), 16000);
        (code, output, err) = Cli.Run("predict", "--model", Path.Combine(run, "model.ser"), stereo, mono, "--json");
        Assert.True(code == 0, err);
        using (var pr = JsonDocument.Parse(output))
        {
            var results = pr.RootElement.GetProperty("results");
            Assert.Equal(2, results.GetArrayLength());
            Assert.Equal(stereo, results[0].GetProperty("file").GetString());
            Assert.Equal(1.2, results[0].GetProperty("seconds").GetDouble(), 2);
            foreach (var r in results.EnumerateArray())
            {
                var probabilities = r.GetProperty("probabilities").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetDouble());
                Assert.Equal(["neutral", "angry", "happy", "sad"], probabilities.Keys);
                Assert.Equal(1.0, probabilities.Values.Sum(), 4);
                Assert.Equal(probabilities.MaxBy(p => p.Value).Key, r.GetProperty("label").GetString());
            }
        }

        // info: the model card's facts, as text and as JSON (the same facts model.ser's metadata carries)
        (code, output, err) = Cli.Run("info", Path.Combine(run, "model.ser"));
        Assert.True(code == 0, err);
        Assert.Contains("labels        0:neutral, 1:angry, 2:happy, 3:sad", output);
        Assert.Contains("pooled test WA", output);
        Assert.Contains("Not for decisions about people", output);
        (code, output, err) = Cli.Run("info", Path.Combine(run, "model.ser"), "--json");
        Assert.True(code == 0, err);
        using (var info = JsonDocument.Parse(output))
        {
            var card = info.RootElement.GetProperty("model_card");
            Assert.Equal(testSpeaker, card.GetProperty("folds")[0].GetProperty("test_speaker").GetString());
            Assert.Equal(testUa, card.GetProperty("pooled_ua").GetDouble(), 9);
            Assert.Equal(40, card.GetProperty("utterances").GetInt32());
            Assert.Equal(info.RootElement.GetProperty("temperature").GetDouble(), card.GetProperty("temperature").GetDouble(), 6);
            Assert.Equal(_corpus, info.RootElement.GetProperty("metadata").GetProperty("corpus").GetString());
        }
        (code, _, err) = Cli.Run("info", Path.Combine(_dir, "missing.ser"));
        Assert.Equal(1, code);
        Assert.StartsWith("sertool: error: ", err);

        string png = Path.Combine(_dir, "act.png");
        (code, output, err) = Cli.Run("activations", "--model", Path.Combine(run, "model.ser"), stereo, "--out", png);
        Assert.True(code == 0, err);
        Assert.Contains("3 forward + 3 backward", output);
        Assert.Equal(0x89, File.ReadAllBytes(png)[0]);

        // --resume of a finished run: nothing left to train, the report is rebuilt; other settings are refused
        (code, output, err) = Cli.Run("train", "--resume", "--out", run, "--threads", "1", "--device", "cpu");
        Assert.True(code == 0, err);
        Assert.Contains("fold 2: already finished", output);
        Assert.DoesNotContain("computing spectrograms", output);
        (code, _, err) = Cli.Run("train", "--resume", "--out", run, "--epochs", "3", "--device", "cpu");
        Assert.Equal(1, code);
        Assert.Contains("--epochs 3 differs from the run's 1", err);
        // a new run into the same folder is refused, not mixed in
        (code, _, err) = Cli.Run(TrainArgs(run));
        Assert.Equal(1, code);
        Assert.Contains("already holds a run", err);
    }

    [Fact]
    public void Fixed_mode_trains_too()
    {
        string run = Path.Combine(_dir, "fixed");
        var (code, output, err) = Cli.Run(TrainArgs(run, "--folds", "3", "--mode", "fixed"));
        Assert.True(code == 0, err + output);
        Assert.Contains("fixed-length", output);
        using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "report.json")));
        Assert.Equal("fixed", report.RootElement.GetProperty("mode").GetString());
    }

    [Theory]
    [InlineData("--device", "cuda", "cuda")]
    [InlineData("--device", "tpu", "--device")]
    [InlineData("--folds", "7", "--folds")]
    [InlineData("--mode", "sliding", "--mode")]
    [InlineData("--preset", "huge", "preset 'huge'")]
    [InlineData("--epochs", "0", "--epochs")]
    public void Bad_options_are_one_line_errors_before_anything_is_written(string option, string value, string mentions)
    {
        string run = Path.Combine(_dir, "bad");
        var (code, _, err) = Cli.Run(TrainArgs(run, option, value));
        Assert.Equal(1, code);
        var lines = CliFixtures.Lines(err);
        Assert.Single(lines);
        Assert.StartsWith("sertool: error: ", lines[0]);
        Assert.Contains(mentions, lines[0]);
        Assert.False(Directory.Exists(run));
    }

    [Fact]
    public void Without_model_the_newest_runs_model_is_used_and_no_run_is_a_clear_error()
    {
        string runs = Path.Combine(_dir, "runs");
        Assert.Contains("no trained model in", Assert.Throws<SerException>(() => ModelChoice.Resolve(null, runs)).Message);
        foreach (var (name, age) in new[] { ("old", 2), ("new", 1), ("unfinished", 0) })
        {
            Directory.CreateDirectory(Path.Combine(runs, name));
            if (name == "unfinished") continue;                       // a run still training has no model.ser yet
            string model = Path.Combine(runs, name, "model.ser");
            File.WriteAllText(model, "");
            File.SetLastWriteTimeUtc(model, DateTime.UtcNow.AddHours(-age));
        }
        Assert.Equal(Path.Combine(runs, "new", "model.ser"), ModelChoice.Resolve(null, runs));
        Assert.Equal("given.ser", ModelChoice.Resolve("given.ser", runs));
    }

    [Fact]
    public void Resume_without_a_run_is_a_clear_error()
    {
        var (code, _, err) = Cli.Run("train", "--resume", "--out", Path.Combine(_dir, "nothing"));
        Assert.Equal(1, code);
        Assert.Contains("no run to continue", err);
    }
}
