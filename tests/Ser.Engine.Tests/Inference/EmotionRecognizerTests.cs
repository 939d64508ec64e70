using Ser.Engine.Checkpoints;
using Ser.Engine.Experiments;
using Ser.Engine.Features;
using Ser.Engine.Inference;
using Ser.Engine.Models;
using Ser.Engine.Training;

namespace Ser.Engine.Tests.Inference;

public sealed class EmotionRecognizerTests : IDisposable
{
    // a tiny model on the real front end's 400 bins (random weights: these tests are about plumbing, not accuracy)
    static readonly ModelConfig Config = new()
    {
        Channels = [2, 3, 4],
        Kernels = [[3, 3], [3, 3], [2, 2]],
        Hidden = 6,
        Dense = 5,
        Classes = 4,
        Dropout = 0.3,
    };

    static readonly string[] Labels = ["neutral", "angry", "happy", "sad"];
    readonly string _dir = Directory.CreateTempSubdirectory("ser-recognizer-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    string SaveModel(string mode = "variable", ulong seed = 3)
    {
        string path = Path.Combine(_dir, $"{mode}.ser");
        using var ex = Executor.Create(Config, new ExecutorOptions { Training = false, MaxBatch = 1, MaxFrames = 100, Threads = 1 });
        ex.InitializeParameters(seed, InitMode.AllPathsLive);
        var r = new Random(4);
        var stats = new FeatureStats(Enumerable.Range(0, 400).Select(_ => -60f + 10 * r.NextSingle()).ToArray(),
                                     Enumerable.Range(0, 400).Select(_ => 8f + 4 * r.NextSingle()).ToArray());
        Checkpoint.Save(path, ex, Labels, stats, new Dictionary<string, string> { ["length_mode"] = mode });
        return path;
    }

    /// <summary>A voiced-ish test signal: a few harmonics with a per-signal pitch glide and noise.</summary>
    static float[] Signal(int seed, double seconds, int rate = 16000)
    {
        var r = new Random(seed);
        double f0 = 100 + 150 * r.NextDouble();
        var x = new float[(int)(seconds * rate)];
        double phase = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double f = f0 * (1 + 0.2 * Math.Sin(2 * Math.PI * 0.7 * i / rate));
            phase += 2 * Math.PI * f / rate;
            x[i] = (float)(0.3 * Math.Sin(phase) + 0.15 * Math.Sin(2 * phase) + 0.08 * Math.Sin(3 * phase) + 0.01 * (r.NextDouble() - 0.5));
        }
        return x;
    }

    [Fact]
    public void Parallel_predictions_equal_sequential_ones()
    {
        using var recognizer = EmotionRecognizer.Load(SaveModel(), new EmotionRecognizerOptions { MaxConcurrency = 3 });
        var signals = Enumerable.Range(0, 12).Select(i => Signal(i, 0.6 + 0.15 * i)).ToArray();
        var sequential = signals.Select(s => recognizer.Predict(s, 16000)).ToArray();
        var parallel = new EmotionPrediction[signals.Length];
        Parallel.For(0, signals.Length, new ParallelOptions { MaxDegreeOfParallelism = 6 }, i => parallel[i] = recognizer.Predict(signals[i], 16000));
        for (int i = 0; i < signals.Length; i++)
        {
            Assert.Equal(sequential[i].Label, parallel[i].Label);
            foreach (var l in Labels) Assert.Equal(sequential[i].Probabilities[l], parallel[i].Probabilities[l]);   // exact
            Assert.Equal(1.0, sequential[i].Probabilities.Values.Sum(), 5);
        }
        // the signals are told apart (the model is not ignoring its input)
        Assert.True(sequential.Select(p => p.Probabilities["angry"]).Distinct().Count() > 6);
    }

    [Fact]
    public void Predict_matches_the_executor_on_normalised_features_and_resamples_other_rates()
    {
        string path = SaveModel();
        using var recognizer = EmotionRecognizer.Load(path);
        var pcm = Signal(1, 1.3);
        var p = recognizer.Predict(pcm, 16000);

        var ckpt = Checkpoint.Load(path);
        using var ex = ckpt.CreateExecutor();
        var x = FrontEnd.Compute(pcm);
        ckpt.Stats.Normalize(x);
        var expected = new float[4];
        ex.Predict(x, FrontEnd.FrameCount(pcm.Length), expected);
        for (int k = 0; k < 4; k++) Assert.Equal(expected[k], p.Probabilities[Labels[k]]);
        Assert.Equal(Labels[Array.IndexOf(expected, expected.Max())], p.Label);
        Assert.Equal(1.3, p.Seconds, 3);

        // the same sound at 44.1 kHz (band-limited upsampling of the 16 kHz signal): resampled back, nearly the same posterior
        var q = recognizer.Predict(Ser.Engine.Audio.Resampler.Resample(pcm, 16000, 44100), 44100);
        Assert.Equal(1.3, q.Seconds, 2);
        foreach (var l in Labels) Assert.Equal(p.Probabilities[l], q.Probabilities[l], 2);
    }

    [Fact]
    public void Fixed_length_models_average_their_3s_pieces()
    {
        string path = SaveModel("fixed");
        using var recognizer = EmotionRecognizer.Load(path);
        Assert.Equal(LengthMode.Fixed, recognizer.Mode);
        var pcm = Signal(2, 7.1);                                  // 708 frames: pieces of 300, 300, 108 (+ 192 padding)
        int frames = FrontEnd.FrameCount(pcm.Length);
        var p = recognizer.Predict(pcm, 16000);

        var ckpt = Checkpoint.Load(path);
        using var ex = ckpt.CreateExecutor(new ExecutorOptions { Training = false, MaxBatch = 1, MaxFrames = 300 });
        var raw = FrontEnd.Compute(pcm);
        var mean = new double[4];
        var piece = new float[300 * 400];
        var post = new float[4];
        var pieces = FixedLengthPieces.Split(0, frames);
        Assert.Equal(3, pieces.Length);
        foreach (var pc in pieces)
        {
            raw.AsSpan(pc.Start * 400, pc.Valid * 400).CopyTo(piece);
            ckpt.Stats.Normalize(piece.AsSpan(0, pc.Valid * 400));
            piece.AsSpan(pc.Valid * 400).Clear();
            ex.Predict(piece, 300, post);
            for (int k = 0; k < 4; k++) mean[k] += post[k] / pieces.Length;
        }
        for (int k = 0; k < 4; k++) Assert.Equal(mean[k], p.Probabilities[Labels[k]], 5);
    }

    [Fact]
    public void Activations_replay_the_engines_bilstm()
    {
        string path = SaveModel();
        var ckpt = Checkpoint.Load(path);
        using var ex = ckpt.CreateExecutor();
        var pcm = Signal(3, 1.1);
        int frames = FrontEnd.FrameCount(pcm.Length);
        var x = FrontEnd.Compute(pcm);
        ckpt.Stats.Normalize(x);
        var a = BiLstmTrace.Run(ex, x, frames, out var engine);
        Assert.Equal((frames + 7) / 8, a.Steps);
        Assert.Equal(6, a.Hidden);
        Assert.Equal(0.08, a.SecondsPerStep, 9);
        for (int j = 0; j < 6; j++)
        {
            Assert.Equal(engine[j], a.ForwardAt(a.Steps - 1, j), 4);    // forward output: last step
            Assert.Equal(engine[6 + j], a.BackwardAt(0, j), 4);         // backward output: after step 0
        }
        Assert.True(a.Forward.Concat(a.Backward).All(v => v > -1 && v < 1));
        Assert.True(a.Forward.Distinct().Count() > a.Forward.Length / 2);   // states move over time

        using var recognizer = EmotionRecognizer.Load(path);
        var b = recognizer.Activations(pcm, 16000);
        Assert.Equal(a.Forward, b.Forward);
        Assert.Equal(a.Backward, b.Backward);
    }

    [Fact]
    public void Bad_inputs_are_one_line_errors()
    {
        Assert.Contains("not found", Assert.Throws<SerException>(() => EmotionRecognizer.Load(Path.Combine(_dir, "absent.ser"))).Message);
        string garbage = Path.Combine(_dir, "garbage.ser");
        File.WriteAllBytes(garbage, new byte[100]);
        Assert.Throws<SerException>(() => EmotionRecognizer.Load(garbage));
        using var recognizer = EmotionRecognizer.Load(SaveModel());
        Assert.Throws<SerException>(() => recognizer.Predict(Array.Empty<float>(), 16000));
        Assert.Throws<SerException>(() => recognizer.Predict(new float[100], 10));
        var wav = Path.Combine(_dir, "bad.wav");
        File.WriteAllText(wav, "not a wav");
        var e = Assert.ThrowsAny<SerException>(() => recognizer.PredictFile(wav));
        Assert.Contains("bad.wav", e.Message);
        recognizer.Dispose();
        Assert.Throws<ObjectDisposedException>(() => recognizer.Predict(new float[16000], 16000));
    }
}
