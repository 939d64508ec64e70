using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using Ser.Engine.Checkpoints;
using Ser.Engine.Features;
using Ser.Engine.Models;
using Ser.Engine.Tests.Training;
using Ser.Engine.Training;

namespace Ser.Engine.Tests.Checkpoints;

public sealed class CheckpointTests : IDisposable
{
    static readonly ModelConfig Config = new()
    {
        Bins = 16,
        Channels = [2, 3, 4],
        Kernels = [[3, 3], [3, 2], [2, 2]],
        Hidden = 5,
        Dense = 6,
        Classes = 4,
        Dropout = 0.2,
    };

    static readonly string[] Labels = ["neutral", "angry", "happy", "sad"];
    readonly string _dir = Directory.CreateTempSubdirectory("ser-ckpt-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    static FeatureStats Stats() => new(Enumerable.Range(0, Config.Bins).Select(i => -40f + i).ToArray(),
                                       Enumerable.Range(0, Config.Bins).Select(i => 5f + 0.25f * i).ToArray());

    static Ser.Engine.Data.Batch[] Batches()
    {
        var set = SyntheticBatches.Set(4, 8, Config.Bins, Config.Classes, 5, 30);
        return [SyntheticBatches.Make(set[..4], Config.Bins), SyntheticBatches.Make(set[4..], Config.Bins)];
    }

    static Executor Trained(int steps)
    {
        var ex = Executor.Create(Config, new ExecutorOptions { MaxBatch = 4, MaxFrames = 30, Threads = 2 });
        ex.InitializeParameters(8, InitMode.AllPathsLive);
        var batches = Batches();
        for (int s = 0; s < steps; s++) ex.TrainStep(batches[s % 2]);
        return ex;
    }

    string SaveTrained(bool optimizer = true)
    {
        string path = Path.Combine(_dir, "model.safetensors");
        using var ex = Trained(3);
        Checkpoint.Save(path, ex, Labels, Stats(), new Dictionary<string, string> { ["corpus"] = "synthetic", ["fold"] = "1" },
            includeOptimizer: optimizer, epoch: 2);
        return path;
    }

    [Fact]
    public void Round_trip_restores_weights_metadata_and_training_state()
    {
        string path = Path.Combine(_dir, "model.safetensors");
        using var original = Trained(3);
        Checkpoint.Save(path, original, Labels, Stats(), new Dictionary<string, string> { ["corpus"] = "synthetic" },
            includeOptimizer: true, epoch: 2);
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp")); // the temp file was renamed away

        var ckpt = Checkpoint.Load(path);
        Assert.Equal(Config, ckpt.Config);
        Assert.Equal(Labels, ckpt.Labels);
        Assert.Equal(Stats().Mean, ckpt.Stats.Mean);
        Assert.Equal(Stats().Std, ckpt.Stats.Std);
        Assert.Equal("synthetic", ckpt.Metadata["corpus"]);
        Assert.Equal(2, ckpt.Epoch);
        Assert.Equal(3, ckpt.OptimizerStep);
        Assert.True(ckpt.HasOptimizerState);

        using var restored = Executor.Create(Config, new ExecutorOptions { MaxBatch = 4, MaxFrames = 30, Threads = 2 });
        ckpt.ApplyTo(restored);
        foreach (var name in original.ParameterNames) Assert.Equal(original.GetParameter(name), restored.GetParameter(name));

        // An interrupted run resumes exactly: two more steps from the file equal two more steps in memory.
        var batches = Batches();
        for (int s = 3; s < 5; s++)
        {
            original.TrainStep(batches[s % 2]);
            restored.TrainStep(batches[s % 2]);
        }
        foreach (var name in original.ParameterNames) Assert.Equal(original.GetParameter(name), restored.GetParameter(name));

        // inference executor straight from the checkpoint
        using var infer = ckpt.CreateExecutor();
        var probs = new float[4];
        var utterance = SyntheticBatches.Utterance(new Random(1), 2, 17, Config.Bins, 4);
        infer.Predict(utterance, 17, probs);
        Assert.Equal(1.0, probs.Sum(), 5);
    }

    [Fact]
    public void Header_follows_the_safetensors_layout()
    {
        string path = SaveTrained(optimizer: false);
        var bytes = File.ReadAllBytes(path);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0UL, n % 8);
        var header = JsonNode.Parse(Encoding.UTF8.GetString(bytes, 8, (int)n))!.AsObject();
        var meta = header["__metadata__"]!.AsObject();
        Assert.Equal("ser-checkpoint", (string?)meta["format"]);
        Assert.Equal("1", (string?)meta["format_version"]);
        Assert.Equal(Config.Bins, JsonNode.Parse((string)meta["feature_mean"]!)!.AsArray().Count);
        Assert.Equal(64, ((string)meta["sha256"]!).Length);
        var conv1 = header["conv1.weight"]!.AsObject();
        Assert.Equal("F32", (string?)conv1["dtype"]);
        Assert.Equal([2, 1, 3, 3], conv1["shape"]!.AsArray().Select(v => (int)v!));
        Assert.Equal(0, (long)conv1["data_offsets"]![0]!);
        Assert.Null(header["adam.m.conv1.weight"]);
        long total = header.Where(p => p.Key != "__metadata__").Sum(p => (long)p.Value!["data_offsets"]![1]! - (long)p.Value!["data_offsets"]![0]!);
        Assert.Equal(bytes.Length - 8 - (long)n, total);
    }

    SerException Refused(string path)
    {
        var e = Assert.Throws<SerException>(() => Checkpoint.Load(path));
        Assert.Contains(path, e.Message);
        Assert.DoesNotContain('\n', e.Message);
        return e;
    }

    [Fact]
    public void Corrupt_tensor_bytes_fail_the_checksum()
    {
        string path = SaveTrained();
        var bytes = File.ReadAllBytes(path);
        bytes[^5] ^= 0x40;
        File.WriteAllBytes(path, bytes);
        Assert.Contains("checksum", Refused(path).Message);
    }

    [Fact]
    public void Truncated_files_are_refused()
    {
        string path = SaveTrained();
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^7]);
        Assert.Contains("truncated", Refused(path).Message);
        File.WriteAllBytes(path, bytes[..100]);
        Refused(path);
        File.WriteAllBytes(path, bytes[..5]);
        Assert.Contains("truncated", Refused(path).Message);
    }

    [Fact]
    public void Wrong_magic_bad_json_and_wrong_format_are_refused()
    {
        string path = Path.Combine(_dir, "x.safetensors");
        File.WriteAllText(path, "RIFF....WAVEfmt this is not a checkpoint at all");
        Assert.Contains("header size", Refused(path).Message);

        var json = Encoding.UTF8.GetBytes("{\"__metadata__\": {\"format\": ");
        var file = new byte[8 + json.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)json.Length);
        json.CopyTo(file, 8);
        File.WriteAllBytes(path, file);
        Assert.Contains("JSON", Refused(path).Message);

        string good = SaveTrained();
        Rewrite(good, h => h["__metadata__"]!["format"] = "pytorch");
        Assert.Contains("not a Ser checkpoint", Refused(good).Message);
        good = SaveTrained();
        Rewrite(good, h => h["__metadata__"]!["format_version"] = "9");
        Assert.Contains("format_version", Refused(good).Message);
    }

    [Fact]
    public void Offsets_outside_the_data_are_refused()
    {
        string path = SaveTrained();
        Rewrite(path, h => h["fc2.bias"]!["data_offsets"] = new JsonArray(1_000_000_000L, 1_000_000_016L));
        Assert.Contains("fc2.bias", Refused(path).Message);
    }

    [Fact]
    public void Config_and_shape_mismatches_are_refused()
    {
        string path = SaveTrained();
        Rewrite(path, h => h["__metadata__"]!["config"] = (Config with { Hidden = 7 }).ToJson());
        Assert.Contains("shape", Refused(path).Message);

        path = SaveTrained();
        Rewrite(path, h => h["__metadata__"]!["config"] = "{\"channels\": [2, 3, 4], \"kernels\": \"oops\"}");
        Refused(path);

        path = SaveTrained();
        var ckpt = Checkpoint.Load(path);
        using var other = Executor.Create(Config with { Dense = 9 }, new ExecutorOptions { MaxBatch = 1, MaxFrames = 8 });
        var e = Assert.Throws<SerException>(() => ckpt.ApplyTo(other));
        Assert.Contains("does not match", e.Message);
    }

    /// <summary>Edits the header JSON in place (tensor bytes, hence the checksum, untouched).</summary>
    static void Rewrite(string path, Action<JsonObject> edit)
    {
        var bytes = File.ReadAllBytes(path);
        int n = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        var header = JsonNode.Parse(Encoding.UTF8.GetString(bytes, 8, n))!.AsObject();
        edit(header);
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padded = (json.Length + 7) / 8 * 8;
        var file = new byte[8 + padded + bytes.Length - 8 - n];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)padded);
        file.AsSpan(8, padded).Fill((byte)' ');
        json.CopyTo(file, 8);
        bytes.AsSpan(8 + n).CopyTo(file.AsSpan(8 + padded));
        File.WriteAllBytes(path, file);
    }
}
