using CommandLine;
using Ser.Engine;
using Ser.Engine.Checkpoints;
using Ser.Engine.Features;
using Ser.Engine.Models;
using Ser.Engine.Training;
using Ser.Reference.Checkpoints;

namespace Ser.Reference.Bench;

/// <summary>
/// `Ser.Reference probe`: what another implementation needs to prove it computes what the engine computes, as two
/// files: OUT/model.safetensors (an engine checkpoint, Checkpoint.Save) and OUT/probe.safetensors (a ragged batch:
/// "features" [B,T,F] zero past each length, "lengths" [B], "labels" [B] (as F32), and the engine's "logits" [B,K] and
/// weighted "loss" [1] in eval mode with all class counts 1). tools/pytorch/ser_reference.py `check --checkpoint
/// OUT/model.safetensors --probe OUT/probe.safetensors` compares against them.
/// </summary>
[Verb("probe", HelpText = "Write an engine checkpoint plus a batch with the engine's logits and loss, for other implementations to check against.")]
internal sealed class ProbeCommand
{
    [Option("preset", Default = "small", HelpText = "Model preset: small or paper.")]
    public string Preset { get; set; } = "small";

    [Option("out", Required = true, HelpText = "Output folder.")]
    public string Out { get; set; } = "";

    [Option("seed", Default = 5, HelpText = "Seed of the weights and the batch.")]
    public int Seed { get; set; } = 5;

    public int Run()
    {
        var config = ModelConfig.Preset(Preset);
        int[] lengths = [57, 1, 30, 12, 45, 7]; // unsorted, 1 and odd lengths
        var batch = new BenchBatch("probe", lengths, config.Bins, config.Classes, Seed);
        using var engine = Executor.Create(config, new ExecutorOptions { MaxBatch = lengths.Length, MaxFrames = lengths.Max(), Training = false });
        engine.InitializeParameters((ulong)Seed, InitMode.AllPathsLive);
        var logits = new float[lengths.Length * config.Classes];
        double loss = engine.Evaluate(batch.Engine, default, logits).Loss;

        Directory.CreateDirectory(Out);
        string model = Path.Combine(Out, "model.safetensors"), probe = Path.Combine(Out, "probe.safetensors");
        var stats = new FeatureStats(new float[config.Bins], Enumerable.Repeat(1f, config.Bins).ToArray());
        Checkpoint.Save(model, engine, ["neutral", "angry", "happy", "sad"], stats, new Dictionary<string, string> { ["note"] = "probe" });
        SafetensorsFile.Write(probe,
        [
            KeyValuePair.Create("features", new HostTensor([lengths.Length, batch.Frames, config.Bins], batch.Features)),
            KeyValuePair.Create("lengths", new HostTensor([lengths.Length], lengths.Select(v => (float)v).ToArray())),
            KeyValuePair.Create("labels", new HostTensor([lengths.Length], batch.Labels.Select(v => (float)v).ToArray())),
            KeyValuePair.Create("logits", new HostTensor([lengths.Length, config.Classes], logits)),
            KeyValuePair.Create("loss", new HostTensor([1], [(float)loss])),
        ], new Dictionary<string, string> { ["preset"] = Preset, ["config"] = config.ToJson() });
        Console.WriteLine($"wrote {model} and {probe} (B={lengths.Length}, T={batch.Frames}, loss {loss:F6})");
        return 0;
    }
}
