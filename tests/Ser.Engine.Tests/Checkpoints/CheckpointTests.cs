using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Ser.Engine.Checkpoints;
using Ser.Engine.Features;
using Ser.Engine.Models;
using Ser.Engine.Tests.IO;
using Ser.Engine.Tests.Training;
using Ser.Engine.Training;

namespace Ser.Engine.Tests.Checkpoints;

public sealed partial class CheckpointTests : IDisposable
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
        Assert.Empty(ckpt.Notices);
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
        Assert.Equal("2", (string?)meta["format_version"]);
        Assert.Equal(Config.Bins, JsonNode.Parse((string)meta["feature_mean"]!)!.AsArray().Count);
        Assert.Equal(IndependentSha256V2(bytes), (string?)meta["sha256"]);
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
        Assert.Contains("not a Ser checkpoint (format 'pytorch', expected 'ser-checkpoint')", Refused(good).Message);
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
        Rewrite(path, h => h["__metadata__"]!["config"] = (Config with { Hidden = 7 }).ToJson(), resign: true);
        Assert.Contains("shape", Refused(path).Message);

        path = SaveTrained();
        Rewrite(path, h => h["__metadata__"]!["config"] = "{\"channels\": [2, 3, 4], \"kernels\": \"oops\"}", resign: true);
        Assert.Contains(path + " (config)", Refused(path).Message);

        path = SaveTrained();
        var ckpt = Checkpoint.Load(path);
        using var other = Executor.Create(Config with { Dense = 9 }, new ExecutorOptions { MaxBatch = 1, MaxFrames = 8 });
        var e = Assert.Throws<SerException>(() => ckpt.ApplyTo(other));
        Assert.Contains("does not match", e.Message);
    }

    // ---- the format 2 checksum covers the metadata and the tensor table -------------------------------------------

    /// <summary>
    /// The documented format 2 checksum, computed here from the file's bytes without the engine's code: SHA-256 of every
    /// metadata entry but sha256 (sorted by the keys' UTF-8 bytes, each as u64le length + key, u64le length + value),
    /// every tensor in file order (u64le length + name, u64le rank, u64le dimensions), then the data region.
    /// </summary>
    static string IndependentSha256V2(byte[] file)
    {
        int n = (int)BinaryPrimitives.ReadUInt64LittleEndian(file);
        return IndependentSha256V2(JsonNode.Parse(Encoding.UTF8.GetString(file, 8, n))!.AsObject(), file.AsSpan(8 + n));
    }

    static string IndependentSha256V2(JsonObject header, ReadOnlySpan<byte> data)
    {
        var buffer = new MemoryStream();
        void Raw(byte[] b) { buffer.Write(BitConverter.GetBytes((ulong)b.Length)); buffer.Write(b); }
        var meta = header["__metadata__"]!.AsObject()
            .Where(p => p.Key != "sha256")
            .Select(p => (Key: Encoding.UTF8.GetBytes(p.Key), Value: Encoding.UTF8.GetBytes((string)p.Value!)))
            .OrderBy(p => Convert.ToHexString(p.Key), StringComparer.Ordinal); // hex of the bytes sorts as the bytes do
        foreach (var (key, value) in meta) { Raw(key); Raw(value); }
        foreach (var (name, entry) in header.Where(p => p.Key != "__metadata__").OrderBy(p => (long)p.Value!["data_offsets"]![0]!))
        {
            Raw(Encoding.UTF8.GetBytes(name));
            var shape = entry!["shape"]!.AsArray();
            buffer.Write(BitConverter.GetBytes((ulong)shape.Count));
            foreach (var d in shape) buffer.Write(BitConverter.GetBytes((ulong)(int)d!));
        }
        buffer.Write(data);
        return Convert.ToHexStringLower(SHA256.HashData(buffer.ToArray()));
    }

    public static TheoryData<string, string> MetadataCorruptions() => new()
    {
        { "feature_mean", "a mean one dB off" },
        { "feature_std", "a std doubled" },
        { "labels", "two labels swapped" },
        { "config", "the dropout changed (same shapes)" },
        { "epoch", "another epoch" },
        { "corpus", "training metadata changed" },
        { "tensor names", "two same-shaped tensors renamed into each other" },
    };

    [Theory]
    [MemberData(nameof(MetadataCorruptions))]
    public void Corrupt_metadata_fails_the_checksum(string what, string how)
    {
        string path = SaveTrained();
        Rewrite(path, h =>
        {
            var meta = h["__metadata__"]!.AsObject();
            switch (what)
            {
                case "feature_mean":
                    var mean = JsonNode.Parse((string)meta["feature_mean"]!)!.AsArray();
                    mean[3] = (float)mean[3]! - 1; // still finite, the right length: only the checksum can tell
                    meta["feature_mean"] = mean.ToJsonString();
                    break;
                case "feature_std":
                    var std = JsonNode.Parse((string)meta["feature_std"]!)!.AsArray();
                    std[0] = (float)std[0]! * 2;
                    meta["feature_std"] = std.ToJsonString();
                    break;
                case "labels":
                    meta["labels"] = "[\"angry\",\"neutral\",\"happy\",\"sad\"]";
                    break;
                case "config":
                    meta["config"] = (Config with { Dropout = 0.5 }).ToJson();
                    break;
                case "epoch":
                    meta["epoch"] = "7";
                    break;
                case "corpus":
                    meta["corpus"] = "iemocap";
                    break;
                case "tensor names":
                    var (a, b) = (h["lstm.fw.w_ih"]!.DeepClone(), h["lstm.bw.w_ih"]!.DeepClone());
                    h["lstm.fw.w_ih"] = b;
                    h["lstm.bw.w_ih"] = a;
                    break;
            }
        });
        var e = Refused(path);
        Assert.True(e.Message.Contains("checksum"), $"{how}: {e.Message}");
    }

    [Fact]
    public void A_resigned_edit_loads_so_the_checksum_is_what_refuses_corrupt_metadata()
    {
        // Guards the test above: the same edit of feature_mean with a recomputed sha256 loads and is seen.
        string path = SaveTrained();
        Rewrite(path, h =>
        {
            var meta = h["__metadata__"]!.AsObject();
            var mean = JsonNode.Parse((string)meta["feature_mean"]!)!.AsArray();
            mean[3] = (float)mean[3]! - 1;
            meta["feature_mean"] = mean.ToJsonString();
        }, resign: true);
        Assert.Equal(Stats().Mean[3] - 1, Checkpoint.Load(path).Stats.Mean[3]);
    }

    [Fact]
    public void A_format_two_file_with_a_tensors_only_hash_is_refused()
    {
        // Format 1's rule on a file that says format 2: the tensor bytes are intact, the metadata unprotected.
        string path = SaveTrained();
        var bytes = File.ReadAllBytes(path);
        int n = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        string tensorsOnly = Convert.ToHexStringLower(SHA256.HashData(bytes.AsSpan(8 + n)));
        Rewrite(path, h => h["__metadata__"]!["sha256"] = tensorsOnly);
        Assert.Contains("checksum", Refused(path).Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_checkpoint_without_its_sha256_is_refused(bool formatOne)
    {
        string path = formatOne ? FormatOneFixture() : SaveTrained();
        Rewrite(path, h => h["__metadata__"]!.AsObject().Remove("sha256"));
        Assert.Contains("metadata has no 'sha256'", Refused(path).Message);
    }

    // ---- format 1 files (checksum over the tensor bytes only) still load, with a notice ----------------------------

    /// <summary>A copy of Fixtures/v1-small.safetensors: written by Checkpoint.Save at format 1 (commit 776ec41), Config's
    /// shapes, weights InitializeParameters(8, AllPathsLive), Stats(), Labels, corpus=synthetic, fold=1, epoch 2.</summary>
    string FormatOneFixture()
    {
        string path = Path.Combine(_dir, "v1.safetensors");
        File.Copy(Path.Combine(AppContext.BaseDirectory, "Checkpoints", "Fixtures", "v1-small.safetensors"), path, overwrite: true);
        return path;
    }

    [Fact]
    public void A_format_one_checkpoint_loads_with_one_notice()
    {
        string path = FormatOneFixture();
        var ckpt = Checkpoint.Load(path);
        Assert.Equal(Config, ckpt.Config);
        Assert.Equal(Labels, ckpt.Labels);
        Assert.Equal(Stats().Mean, ckpt.Stats.Mean);
        Assert.Equal(Stats().Std, ckpt.Stats.Std);
        Assert.Equal("synthetic", ckpt.Metadata["corpus"]);
        Assert.Equal(2, ckpt.Epoch);
        string notice = Assert.Single(ckpt.Notices);
        Assert.Contains(path, notice);
        Assert.Contains("format 1", notice);
        Assert.DoesNotContain('\n', notice);

        using var ex = Executor.Create(Config, new ExecutorOptions { MaxBatch = 1, MaxFrames = 8, Training = false });
        ex.InitializeParameters(8, InitMode.AllPathsLive);
        using var loaded = ckpt.CreateExecutor();
        foreach (var name in ex.ParameterNames) Assert.Equal(ex.GetParameter(name), loaded.GetParameter(name));
    }

    [Fact]
    public void A_format_one_checkpoint_still_has_its_tensor_checksum_checked()
    {
        string path = FormatOneFixture();
        var bytes = File.ReadAllBytes(path);
        bytes[^3] ^= 0x01;
        File.WriteAllBytes(path, bytes);
        Assert.Contains("checksum", Refused(path).Message);
    }

    [Fact]
    public void A_failed_save_leaves_the_previous_checkpoint_loadable_and_byte_identical()
    {
        string path = SaveTrained();
        var old = File.ReadAllBytes(path);
        using var other = Trained(5);
        using (FailingWrites.After(old.Length / 3))
            Assert.Throws<IOException>(() => Checkpoint.Save(path, other, Labels, Stats(), includeOptimizer: true, epoch: 4));
        Assert.Equal(old, File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFileSystemEntries(_dir));
        Assert.Equal(2, Checkpoint.Load(path).Epoch);
    }

    /// <summary>Metadata edits that carry a valid (recomputed) checksum: each is refused by its own check, not by the hash.</summary>
    public static TheoryData<string, string, string> InvalidSignedMetadata() => new()
    {
        { "labels", """["neutral","angry","happy"]""", "do not name the config's 4 classes" },
        { "labels", """["neutral","angry"," ","sad"]""", "do not name the config's 4 classes" },
        { "feature_std", "[" + string.Join(",", Enumerable.Repeat("1", 15)) + ",0]", "feature_std must be positive" },
        { "feature_std", "[" + string.Join(",", Enumerable.Repeat("1", 15)) + ",-2]", "feature_std must be positive" },
        { "feature_mean", "[" + string.Join(",", Enumerable.Repeat("1", 15)) + "]", "15/16 values, the config has 16 bins" },
        { "feature_mean", "[1,2", "metadata 'feature_mean' is not valid JSON" },
        { "feature_std", "[1,", "metadata 'feature_std' is not valid JSON" },
        // System.Text.Json reads a number beyond float's range as infinity: only the finiteness check stops it
        { "feature_mean", "[1e39," + string.Join(",", Enumerable.Repeat("1", 15)) + "]", "feature_mean finite" },
        { "temperature", "0", "'temperature' is not a positive number" },
        { "temperature", "-1.5", "'temperature' is not a positive number" },
        { "temperature", "warm", "'temperature' is not a positive number" },
        { "epoch", "-1", "metadata 'epoch' is not a count" },
        { "optimizer_step", "x", "metadata 'optimizer_step' is not a count" },
    };

    [Theory]
    [MemberData(nameof(InvalidSignedMetadata))]
    public void Invalid_metadata_with_a_valid_checksum_is_refused_by_its_own_check(string key, string value, string message)
    {
        string path = SaveTrained();
        Rewrite(path, h => h["__metadata__"]![key] = value, resign: true);
        var e = Refused(path);
        Assert.True(e.Message.Contains(message), $"{key} = {value}: {e.Message}");
    }

    [Fact]
    public void A_renamed_tensor_with_a_valid_checksum_is_refused()
    {
        string path = SaveTrained(optimizer: false);
        Rewrite(path, h =>
        {
            var bias = h["fc2.bias"]!.DeepClone();
            h.Remove("fc2.bias");
            h["fc2.offset"] = bias;                                                    // same bytes, a name the model lacks
        }, resign: true);
        Assert.Contains("tensor 'fc2.bias' is missing", Refused(path).Message);
    }

    [Fact]
    public void A_copy_with_added_metadata_is_signed_and_a_corrupt_source_is_not_resigned()
    {
        string path = SaveTrained(), copy = Path.Combine(_dir, "copy.ser");
        Checkpoint.CopyWithMetadata(path, copy, new Dictionary<string, string> { ["model_card"] = "{}", ["temperature"] = "1.5" });
        var loaded = Checkpoint.Load(copy);
        Assert.Equal("{}", loaded.Metadata["model_card"]);
        Assert.Equal(1.5f, loaded.Temperature);
        Assert.Equal(Checkpoint.Load(path).Parameters["fc2.bias"], loaded.Parameters["fc2.bias"]);
        Assert.Throws<ArgumentException>(() => Checkpoint.CopyWithMetadata(path, copy, new Dictionary<string, string> { ["sha256"] = "x" }));

        Rewrite(path, h => h["__metadata__"]!["feature_mean"] = "[0]");                   // corrupt: the checksum no longer matches
        Assert.Throws<SerException>(() => Checkpoint.CopyWithMetadata(path, Path.Combine(_dir, "never.ser"), new Dictionary<string, string>()));
        Assert.False(File.Exists(Path.Combine(_dir, "never.ser")));
    }

    /// <summary>
    /// Edits the header JSON (tensor bytes untouched). The sha256 stays as it was unless <paramref name="resign"/>, which
    /// recomputes it as format 2 does, for tests of the checks behind the checksum.
    /// </summary>
    static void Rewrite(string path, Action<JsonObject> edit, bool resign = false)
    {
        var bytes = File.ReadAllBytes(path);
        int n = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        var header = JsonNode.Parse(Encoding.UTF8.GetString(bytes, 8, n))!.AsObject();
        edit(header);
        if (resign) header["__metadata__"]!["sha256"] = IndependentSha256V2(header, bytes.AsSpan(8 + n));
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
