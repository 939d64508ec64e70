using System.Globalization;
using Ser.Engine.Checkpoints;
using Ser.Engine.Data.Synthetic;
using Ser.Engine.Features;
using Ser.Engine.Models;
using Ser.Engine.Training;

namespace Ser.Abi.Tests;

/// <summary>A small random-weight model (temperature 1.7, so the ABI must apply it) and synthetic speech, on disk.</summary>
public sealed class AbiFixture : IDisposable
{
    public const float Temperature = 1.7f;
    public string Dir { get; } = Directory.CreateTempSubdirectory("ser-abi-").FullName;
    public string Model { get; }
    /// <summary>Whole utterances and the rates they are given at (resampled here when not 16 kHz).</summary>
    public IReadOnlyList<(float[] Pcm, int Rate)> Utterances { get; }
    /// <summary>16 kHz: speech from sample 0, digital silence, an utterance 10 dB quieter, low noise, speech, silence.</summary>
    public float[] Speech { get; }

    public AbiFixture()
    {
        Model = Path.Combine(Dir, "model.ser");
        WriteModel(Model, 4, Temperature);
        var utterances = SyntheticCorpus.Create(10, seed: 3).Take(4).Select(u => u.Audio.Load()).ToList();
        Utterances =
        [
            (utterances[0], 16000),
            (Engine.Audio.Resampler.Resample(utterances[1], 16000, 44100), 44100),
            (Engine.Audio.Resampler.Resample(utterances[2], 16000, 8000), 8000),
            (utterances[3][..4000], 16000),
        ];
        var noise = new Random(5);
        Speech =
        [
            .. utterances[0],
            .. new float[16000],                                              // 1 s digital silence
            .. utterances[1].Select(v => v * 0.316f),                         // -10 dB
            .. Enumerable.Range(0, 12800).Select(_ => (float)(0.001 * (noise.NextDouble() - 0.5))),  // 0.8 s at about -65 dBFS
            .. utterances[2],
            .. new float[8000],
        ];
    }

    public static void WriteModel(string path, int classes, float temperature)
    {
        var config = ModelConfig.FromJson("""{"channels":[2,3,4],"kernels":[[3,3],[3,3],[3,3]],"hidden":5,"dense":6,"dropout":0.2}""", "test")
            with { Classes = classes };
        using var ex = Executor.Create(config, new ExecutorOptions { Training = false, MaxBatch = 1, MaxFrames = 64, Threads = 1 });
        ex.InitializeParameters(11, InitMode.AllPathsLive);
        var stats = new FeatureStats(Enumerable.Repeat(-50f, 400).ToArray(), Enumerable.Repeat(12f, 400).ToArray());
        string[] names = classes == 4 ? ["neutral", "angry", "happy", "sad"] : Enumerable.Range(0, classes).Select(i => $"c{i}").ToArray();
        Checkpoint.Save(path, ex, names, stats, new Dictionary<string, string>
        {
            ["length_mode"] = "variable",
            ["corpus"] = "synthetic:abi-fixture",
            [Checkpoint.TemperatureKey] = temperature.ToString("R", CultureInfo.InvariantCulture),
        });
    }

    public static void WriteF32(string path, ReadOnlySpan<float> x)
    {
        using var f = File.Create(path);
        f.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(x));
    }

    public void Dispose()
    {
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
    }
}
