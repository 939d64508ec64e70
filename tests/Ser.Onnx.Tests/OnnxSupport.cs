using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Ser.Engine.Checkpoints;
using Ser.Engine.Export;
using Ser.Engine.Features;
using Ser.Engine.Models;
using Ser.Engine.Training;

namespace Ser.Onnx.Tests;

/// <summary>Checkpoints with random weights (every path live) and plausible dB statistics, in a temp folder.</summary>
internal sealed class ModelFolder : IDisposable
{
    public static readonly string[] Labels = ["neutral", "angry", "happy", "sad"];

    public string Dir { get; } = Directory.CreateTempSubdirectory("ser-onnx-").FullName;

    public string Save(string preset, string mode = "variable", string? temperature = null, ulong seed = 5, string? name = null)
    {
        var config = ModelConfig.Preset(preset);
        string path = Path.Combine(Dir, name ?? $"{preset}-{mode}-{temperature ?? "1"}-{seed}.ser");
        using var ex = Executor.Create(config, new ExecutorOptions { Training = false, MaxBatch = 1, MaxFrames = 100, Threads = 1 });
        ex.InitializeParameters(seed, InitMode.AllPathsLive);
        var r = new Random((int)seed);
        // white noise at ±0.5 has about -5 dB per bin, speech-like input -20..-80 dB: stats in that range
        var stats = new FeatureStats(Enumerable.Range(0, FrontEnd.Bins).Select(_ => -45f + 20 * r.NextSingle()).ToArray(),
                                     Enumerable.Range(0, FrontEnd.Bins).Select(_ => 12f + 6 * r.NextSingle()).ToArray());
        var meta = new Dictionary<string, string> { ["length_mode"] = mode, ["preset"] = preset, ["corpus"] = "test" };
        if (temperature is not null) meta[Checkpoint.TemperatureKey] = temperature;
        Checkpoint.Save(path, ex, Labels, stats, meta);
        return path;
    }

    public string Export(string checkpoint, OnnxInput input = OnnxInput.Pcm, bool batched = false)
    {
        string path = Path.ChangeExtension(checkpoint, (input == OnnxInput.Pcm ? "" : ".features") + (batched ? ".batched" : "") + ".onnx");
        OnnxExporter.Save(Checkpoint.Load(checkpoint), path, new OnnxExportOptions { Input = input, Batched = batched });
        return path;
    }

    public void Dispose()
    {
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
    }
}

/// <summary>An ONNX Runtime CPU session on an exported model.</summary>
internal sealed class OrtModel : IDisposable
{
    readonly InferenceSession _session;

    public OrtModel(string path, int threads = 1)
    {
        using var options = new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1 };
        _session = new InferenceSession(path, options);
    }

    public IReadOnlyDictionary<string, string> Metadata => _session.ModelMetadata.CustomMetadataMap;
    public InferenceSession Session => _session;

    /// <summary>pcm [1, N] -> (probs [K], logits [K]).</summary>
    public (float[] Probs, float[] Logits) RunPcm(float[] pcm) =>
        Run("pcm", new DenseTensor<float>(pcm, [1, pcm.Length]));

    /// <summary>normalised features [T, F] -> (probs [K], logits [K]).</summary>
    public (float[] Probs, float[] Logits) RunFeatures(float[] features, int frames) =>
        Run("features", new DenseTensor<float>(features, [1, 1, frames, FrontEnd.Bins]));

    /// <summary>A ragged batch: rows [B, width] (padding past each length may hold anything) -> probs [B, K], logits [B, K].</summary>
    public (float[] Probs, float[] Logits) RunBatch(string input, float[] rows, int[] dims, long[] lengths) =>
        Run(input, new DenseTensor<float>(rows, dims), NamedOnnxValue.CreateFromTensor("lengths", new DenseTensor<long>(lengths, [lengths.Length])));

    (float[], float[]) Run(string input, DenseTensor<float> tensor, NamedOnnxValue? lengths = null)
    {
        List<NamedOnnxValue> inputs = [NamedOnnxValue.CreateFromTensor(input, tensor)];
        if (lengths is not null) inputs.Add(lengths);
        using var results = _session.Run(inputs);
        float[] Get(string name) => results.Single(r => r.Name == name).AsTensor<float>().ToArray();
        return (Get("probs"), Get("logits"));
    }

    public void Dispose() => _session.Dispose();
}

/// <summary>The engine's answer for the same audio: EmotionRecognizer's probabilities and the executor's logits.</summary>
internal static class Engine
{
    public static (float[] Probs, float[] Logits) Run(Checkpoint checkpoint, float[] pcm)
    {
        var features = FrontEnd.Compute(pcm);
        checkpoint.Stats.Normalize(features);
        return RunFeatures(checkpoint, features, FrontEnd.FrameCount(pcm.Length));
    }

    public static (float[] Probs, float[] Logits) RunFeatures(Checkpoint checkpoint, float[] normalised, int frames)
    {
        using var ex = checkpoint.CreateExecutor(new ExecutorOptions { Training = false, MaxBatch = 1, MaxFrames = Math.Max(frames, 1), Threads = 1 });
        var probs = new float[checkpoint.Config.Classes];
        ex.Predict(normalised, frames, probs);
        Ser.Engine.Inference.Calibration.ApplyTemperature(probs, checkpoint.Temperature);
        return (probs, ex.Graph.Logits().ToArray());
    }

    public static float[] Probabilities(Ser.Engine.Inference.EmotionRecognizer recognizer, float[] pcm)
    {
        var p = recognizer.Predict(pcm, FrontEnd.SampleRate);
        return recognizer.Labels.Select(l => p.Probabilities[l]).ToArray();
    }
}

internal static class Signals
{
    /// <summary>Uniform white noise in ±amplitude.</summary>
    public static float[] Noise(int seed, int samples, float amplitude = 0.5f)
    {
        var r = new Random(seed);
        var x = new float[samples];
        for (int i = 0; i < x.Length; i++) x[i] = amplitude * (2 * r.NextSingle() - 1);
        return x;
    }

    public static double MaxAbsDiff(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        Assert.Equal(a.Length, b.Length);
        double m = 0;
        for (int i = 0; i < a.Length; i++) m = Math.Max(m, Math.Abs((double)a[i] - b[i]));
        return m;
    }
}
