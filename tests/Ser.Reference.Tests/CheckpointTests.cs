using System.Text.Json;
using Ser.Engine;
using Ser.Reference.Checkpoints;

namespace Ser.Reference.Tests;

public class CheckpointTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ser-reference-tests-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Dictionary<string, string> ContractMetadata(ReferenceConfig config) => new()
    {
        ["format"] = "ser-checkpoint",
        ["format_version"] = "2",
        ["config"] = JsonSerializer.Serialize(new
        {
            channels = config.Convs.Select(c => c.Channels),
            kernels = config.Convs.Select(c => new[] { c.KernelTime, c.KernelFreq }),
            hidden = config.Hidden, dense = config.Dense, classes = config.Classes, dropout = config.Dropout,
        }),
        ["labels"] = """["neutral","angry","happy","sad"]""",
        ["feature_mean"] = JsonSerializer.Serialize(new float[config.Bins]),
        ["feature_std"] = JsonSerializer.Serialize(Enumerable.Repeat(1f, config.Bins)),
        ["epoch"] = "3",
    };

    private string WriteCheckpoint(ReferenceConfig config, Dictionary<string, HostTensor> weights)
    {
        string path = Path.Combine(_dir, "model.safetensors");
        // Contract order, as the engine writes it.
        var ordered = config.ParameterShapes().Select(p => KeyValuePair.Create(p.Name, weights[p.Name]));
        SafetensorsFile.Write(path, ordered, ContractMetadata(config));
        return path;
    }

    [Fact]
    public void Loaded_checkpoint_gives_the_same_logits_as_in_memory_weights()
    {
        var config = ReferenceConfig.Tiny();
        var weights = ReferenceCrnn.RandomWeights(config, seed: 5);
        string path = WriteCheckpoint(config, weights);

        using var fromMemory = new ReferenceCrnn(config, weights);
        using var fromFile = ReferenceCrnn.Load(path);
        Assert.Equal(config.ParameterShapes().Select(p => p.Shape), fromFile.Config.ParameterShapes().Select(p => p.Shape));

        var rng = new Random(2);
        int[] lengths = [6, 3];
        var features = new float[2 * 6 * config.Bins];
        for (int i = 0; i < features.Length; i++)
            features[i] = (i / config.Bins) % 6 < lengths[i / (6 * config.Bins)] ? (float)rng.NextDouble() : 0f;
        var expected = fromMemory.Logits(features, lengths);
        Assert.Equal(expected, fromFile.Logits(features, lengths));
        Assert.Contains(expected, v => v != 0);
        foreach (var (name, w) in fromFile.Weights()) Assert.Equal(weights[name].Data, w.Data);
    }

    [Fact]
    public void Safetensors_round_trip_keeps_metadata_layout_and_values()
    {
        var config = ReferenceConfig.Tiny(bins: 16);
        var weights = ReferenceCrnn.RandomWeights(config, seed: 9);
        string path = WriteCheckpoint(config, weights);
        byte[] bytes = File.ReadAllBytes(path);
        ulong headerSize = BitConverter.ToUInt64(bytes, 0);
        Assert.Equal(0UL, headerSize % 8);

        var contents = SafetensorsFile.Read(path);
        Assert.Equal("ser-checkpoint", contents.Metadata["format"]);
        Assert.Equal(64, contents.Metadata["sha256"].Length);
        Assert.Equal(weights.Keys.Order(), contents.Tensors.Keys.Order());
        foreach (var (name, t) in contents.Tensors)
        {
            Assert.Equal(weights[name].Shape, t.Shape);
            Assert.Equal(weights[name].Data, t.Data);
        }
        using var model = ReferenceCrnn.Load(path);
        Assert.Equal(16, model.Config.Bins); // F read from feature_mean
    }

    [Fact]
    public void Corrupt_or_mismatched_checkpoints_are_refused_with_one_line_errors()
    {
        var config = ReferenceConfig.Tiny(bins: 16);
        string path = WriteCheckpoint(config, ReferenceCrnn.RandomWeights(config, seed: 9));
        byte[] bytes = File.ReadAllBytes(path);

        var flipped = (byte[])bytes.Clone();
        flipped[^3] ^= 0x40;
        File.WriteAllBytes(path, flipped);
        var e = Assert.Throws<SerException>(() => ReferenceCrnn.Load(path));
        Assert.Contains("checksum", e.Message);

        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        e = Assert.Throws<SerException>(() => ReferenceCrnn.Load(path));
        Assert.Contains(path, e.Message);

        var wrongShape = ReferenceCrnn.RandomWeights(config, seed: 1);
        wrongShape["fc1.bias"] = new HostTensor([config.Dense + 1], new float[config.Dense + 1]);
        e = Assert.Throws<SerException>(() => new ReferenceCrnn(config, wrongShape));
        Assert.Contains("fc1.bias", e.Message);

        foreach (var m in new[] { e.Message }) Assert.DoesNotContain('\n', m);
    }
}
