using System.Buffers.Binary;
using System.Security.Cryptography;
using Ser.Engine;
using Ser.Engine.Checkpoints;
using Ser.Engine.Features;
using Ser.Engine.Models;
using Ser.Reference.Checkpoints;

namespace Ser.Reference.Tests;

/// <summary>
/// Checkpoints cross the engine/reference boundary both ways. Both sides compute the contract's "sha256" with their own
/// code: in format 2 the SHA-256 of the metadata, the tensor table and every byte after the header (format 1: those
/// bytes alone).
/// </summary>
public class EngineCheckpointTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("ser-reference-ckpt-").FullName;
    static readonly string[] Labels = ["neutral", "angry", "happy", "sad"];

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    static FeatureStats Stats(int bins) =>
        new(Enumerable.Range(0, bins).Select(i => 0.01f * i).ToArray(), Enumerable.Range(0, bins).Select(i => 1 + 0.001f * i).ToArray());

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // with Adam state (adam.m.*, adam.v.*): the reference loads the weights and ignores the rest
    public void Engine_checkpoint_loads_in_the_reference_with_the_same_logits(bool includeOptimizer)
    {
        var config = ModelConfig.Small;
        var batch = EngineSupport.RaggedBatch(config.Bins, config.Classes, [19, 1, 10, 7], seed: 21);
        using var engine = EngineSupport.CreateEngine(config, batch, 21);
        engine.TrainStep(batch); // Adam moments and weights no longer at their initial values
        string path = Path.Combine(_dir, "engine.safetensors");
        Checkpoint.Save(path, engine, Labels, Stats(config.Bins), new Dictionary<string, string> { ["note"] = "test" },
            includeOptimizer, epoch: 2);

        var engineLogits = new float[batch.Count * config.Classes];
        engine.Evaluate(batch, default, engineLogits);
        using var reference = ReferenceCrnn.Load(path, float64: true);
        Assert.Equal(ReferenceConfig.From(config).ParameterShapes().Select(p => p.Shape),
                     reference.Config.ParameterShapes().Select(p => p.Shape));
        Assert.Equal(config.Bins, reference.Config.Bins);
        new Closeness(1e-3, 1e-4).Check("logits", engineLogits, reference.Logits(batch), scaleByTensor: false);
        foreach (var (name, w) in reference.Weights()) Assert.Equal(engine.GetParameter(name), w.Data);
    }

    [Fact]
    public void Both_sides_compute_the_same_sha256()
    {
        var config = ModelConfig.Small;
        using var engine = Ser.Engine.Training.Executor.Create(config, new() { MaxBatch = 1, MaxFrames = 8, Training = false });
        engine.InitializeParameters(3, InitMode.AllPathsLive);
        string path = Path.Combine(_dir, "hash.safetensors");
        Checkpoint.Save(path, engine, Labels, Stats(config.Bins));

        byte[] bytes = File.ReadAllBytes(path);
        int dataStart = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(Checkpoint.FormatVersion.ToString(System.Globalization.CultureInfo.InvariantCulture),
            SafetensorsFile.Read(path).Metadata["format_version"]); // the reference checks the engine's hash on read
        Assert.Empty(Checkpoint.Load(path).Notices);

        // A flipped tensor byte and a changed feature mean (a header edit, same length) are refused by both readers.
        string pristine = Convert.ToBase64String(bytes);
        bytes[dataStart + 5] ^= 0x10;
        File.WriteAllBytes(path, bytes);
        Assert.Contains("checksum", Assert.Throws<SerException>(() => SafetensorsFile.Read(path)).Message);
        Assert.Contains("checksum", Assert.Throws<SerException>(() => Checkpoint.Load(path)).Message);

        bytes = Convert.FromBase64String(pristine);
        string header = System.Text.Encoding.UTF8.GetString(bytes, 8, dataStart - 8);
        int at = header.IndexOf("\"feature_mean\":\"[0,", StringComparison.Ordinal);
        Assert.True(at > 0, header);
        int digit = 8 + at + "\"feature_mean\":\"[".Length;
        Assert.Equal((byte)'0', bytes[digit]);
        bytes[digit] = (byte)'5'; // mean[0] = 5 dB instead of 0: valid JSON, valid statistics
        File.WriteAllBytes(path, bytes);
        Assert.Contains("checksum", Assert.Throws<SerException>(() => SafetensorsFile.Read(path)).Message);
        Assert.Contains("checksum", Assert.Throws<SerException>(() => Checkpoint.Load(path)).Message);
    }

    [Fact]
    public void Reference_written_checkpoint_loads_in_the_engine()
    {
        var config = ModelConfig.Small;
        var refConfig = ReferenceConfig.From(config);
        var weights = ReferenceCrnn.RandomWeights(refConfig, seed: 4);
        string path = Path.Combine(_dir, "reference.safetensors");
        var stats = Stats(config.Bins);
        SafetensorsFile.Write(path, refConfig.ParameterShapes().Select(p => KeyValuePair.Create(p.Name, weights[p.Name])),
            new Dictionary<string, string>
            {
                ["format"] = Checkpoint.FormatName,
                ["format_version"] = Checkpoint.FormatVersion.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["config"] = config.ToJson(),
                ["labels"] = System.Text.Json.JsonSerializer.Serialize(Labels),
                ["feature_mean"] = System.Text.Json.JsonSerializer.Serialize(stats.Mean),
                ["feature_std"] = System.Text.Json.JsonSerializer.Serialize(stats.Std),
            });

        var checkpoint = Checkpoint.Load(path); // verifies the reference's sha256
        using var engine = checkpoint.CreateExecutor(new() { MaxBatch = 3, MaxFrames = 16, Training = false });
        foreach (var (name, w) in weights) Assert.Equal(w.Data, engine.GetParameter(name));

        var batch = EngineSupport.RaggedBatch(config.Bins, config.Classes, [16, 5, 1], seed: 9);
        var logits = new float[batch.Count * config.Classes];
        engine.Evaluate(batch, default, logits);
        using var reference = new ReferenceCrnn(refConfig, weights, float64: true);
        new Closeness(1e-3, 1e-4).Check("logits", logits, reference.Logits(batch), scaleByTensor: false);
    }
}
