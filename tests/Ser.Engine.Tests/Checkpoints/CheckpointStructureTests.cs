using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using Ser.Engine.Checkpoints;
using Ser.Engine.Features;
using Ser.Engine.Training;

namespace Ser.Engine.Tests.Checkpoints;

// The checks of Checkpoint.Load and SafeTensors.Read that a corrupted byte never reaches (the checksum refuses it
// first): each file here is either malformed before the checksum is read, or re-signed so that only the check itself
// can refuse it. Each asserts the check's own message, so that a check that passes the file on to a later one fails.
public sealed partial class CheckpointTests
{
    /// <summary>Header edits that SafeTensors.Read refuses before any checksum, with the message each must give.</summary>
    public static TheoryData<string, string> MalformedHeaders() => new()
    {
        { "metadata is a number", "__metadata__ is not a JSON object" },
        { "metadata value is a number", "metadata 'fold' is not a string" },
        { "tensor is a number", "tensor 'fc2.bias' is not a JSON object" },
        { "dtype missing", "tensor 'fc2.bias' has no dtype" },
        { "dtype is a number", "tensor 'fc2.bias' has no dtype" },
        { "dtype F16", "tensor 'fc2.bias' has dtype F16, only F32 is supported" },
        { "shape missing", "tensor 'fc2.bias' has no shape" },
        { "shape is a string", "tensor 'fc2.bias' has no shape" },
        { "shape holds a string", "tensor 'fc2.bias' has a bad shape" },
        { "shape holds a fraction", "tensor 'fc2.bias' has a bad shape" },
        { "shape holds a negative", "tensor 'fc2.bias' has a bad shape" },
        { "shape holds a zero", "shape [0] needs 0" },
        { "shape needs more bytes", "hold 16 bytes, shape [1, 5] needs 20" },
        { "offsets missing", "tensor 'fc2.bias' has no data_offsets [begin, end]" },
        { "offsets are a string", "tensor 'fc2.bias' has no data_offsets [begin, end]" },
        { "three offsets", "tensor 'fc2.bias' has no data_offsets [begin, end]" },
        { "offset is a string", "tensor 'fc2.bias' has bad data_offsets" },
        { "end offset is a fraction", "tensor 'fc2.bias' has bad data_offsets" },
        { "negative begin", "tensor 'fc2.bias' has bad data_offsets" },
        { "end before begin", "tensor 'fc2.bias' has bad data_offsets" },
        { "overlap", "tensor 'fc2.bias' starts at data byte" },
    };

    [Theory]
    [MemberData(nameof(MalformedHeaders))]
    public void Header_fields_of_the_wrong_kind_are_refused_by_their_own_check(string edit, string message)
    {
        string path = SaveTrained(optimizer: false);
        Rewrite(path, h =>
        {
            var bias = h["fc2.bias"]!.AsObject();                               // shape [4], 16 bytes, the last tensor
            long begin = (long)bias["data_offsets"]![0]!, end = (long)bias["data_offsets"]![1]!;
            switch (edit)
            {
                case "metadata is a number": h["__metadata__"] = 5; break;
                case "metadata value is a number": h["__metadata__"]!["fold"] = 1; break;
                case "tensor is a number": h["fc2.bias"] = 3; break;
                case "dtype missing": bias.Remove("dtype"); break;
                case "dtype is a number": bias["dtype"] = 32; break;
                case "dtype F16": bias["dtype"] = "F16"; break;
                case "shape missing": bias.Remove("shape"); break;
                case "shape is a string": bias["shape"] = "[4]"; break;
                case "shape holds a string": bias["shape"] = new JsonArray("4"); break;
                case "shape holds a fraction": bias["shape"] = new JsonArray(4.5); break;
                case "shape holds a negative": bias["shape"] = new JsonArray(-4); break;
                case "shape holds a zero": bias["shape"] = new JsonArray(0); break;
                case "shape needs more bytes": bias["shape"] = new JsonArray(1, 5); break;
                case "offsets missing": bias.Remove("data_offsets"); break;
                case "offsets are a string": bias["data_offsets"] = $"{begin},{end}"; break;
                case "three offsets": bias["data_offsets"] = new JsonArray(begin, end, end); break;
                case "offset is a string": bias["data_offsets"] = new JsonArray($"{begin}", end); break;
                case "end offset is a fraction": bias["data_offsets"] = new JsonArray(begin, end + 0.5); break;
                case "negative begin": bias["data_offsets"] = new JsonArray(-16L, 0L); break;
                case "end before begin": bias["data_offsets"] = new JsonArray(end, begin); break;
                case "overlap": bias["data_offsets"] = new JsonArray(begin - 4, end - 4); break;
                default: throw new ArgumentException(edit);
            }
        });
        var e = Refused(path);
        Assert.True(e.Message.Contains(message), $"{edit}: {e.Message}");
    }

    [Fact]
    public void A_header_that_is_not_an_object_or_has_no_size_is_refused()
    {
        string path = Path.Combine(_dir, "x.safetensors");
        File.WriteAllBytes(path, Header("[1, 2]    "));
        Assert.Contains("header is not a JSON object", Refused(path).Message);

        var zero = new byte[16];                                                    // header size 0, 8 more bytes
        File.WriteAllBytes(path, zero);
        Assert.Contains("header size 0 does not fit a 16-byte file", Refused(path).Message);

        var huge = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(huge, 9);                          // one byte more than there is
        File.WriteAllBytes(path, huge);
        Assert.Contains("header size 9 does not fit", Refused(path).Message);
    }

    [Fact]
    public void A_header_that_fills_the_file_exactly_is_read_and_judged_by_its_metadata()
    {
        // No tensors and no data bytes: structurally a valid safetensors file, refused as not being a Ser checkpoint.
        string path = Path.Combine(_dir, "empty.safetensors");
        File.WriteAllBytes(path, Header("""{"__metadata__":{}}"""));
        Assert.Contains("not a Ser checkpoint (format 'missing', expected 'ser-checkpoint')", Refused(path).Message);
    }

    [Fact]
    public void Bytes_after_the_last_tensor_are_refused()
    {
        string path = SaveTrained(optimizer: false);
        File.AppendAllText(path, "tail");
        Assert.Contains(": 4 unexpected bytes after the last tensor", Refused(path).Message);
    }

    static byte[] Header(string json)
    {
        var bytes = Encoding.UTF8.GetBytes(json);
        var file = new byte[8 + bytes.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)bytes.Length);
        bytes.CopyTo(file, 8);
        return file;
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void A_tensor_holding_nan_or_infinity_with_a_valid_checksum_is_refused(float bad)
    {
        string path = SaveTrained(optimizer: false);
        var bytes = File.ReadAllBytes(path);
        BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(bytes.Length - 8), bad);   // fc2.bias[2]
        File.WriteAllBytes(path, bytes);
        Rewrite(path, _ => { }, resign: true);
        Assert.Contains("tensor 'fc2.bias' holds NaN or infinity", Refused(path).Message);
    }

    [Fact]
    public void Adam_moments_of_the_wrong_shape_or_missing_are_refused()
    {
        string path = SaveTrained();
        Rewrite(path, h => h["adam.m.conv1.weight"]!["shape"] = new JsonArray(1, 2, 3, 3), resign: true); // same 18 values
        Assert.Contains("tensor 'adam.m.conv1.weight' has shape [1, 2, 3, 3], the config needs [2, 1, 3, 3]", Refused(path).Message);

        path = SaveTrained();
        Rewrite(path, h =>
        {
            var v = h["adam.v.fc2.bias"]!.DeepClone();
            h.Remove("adam.v.fc2.bias");
            h["adam.v.fc2.offset"] = v;
        }, resign: true);
        Assert.Contains("tensor 'adam.v.fc2.bias' is missing", Refused(path).Message);
    }

    [Fact]
    public void Reserved_keys_are_refused_as_training_metadata_and_never_shown_as_such()
    {
        string path = SaveTrained();                                   // with optimizer state and epoch: every reserved key
        var ckpt = Checkpoint.Load(path);
        Assert.Equal(new[] { "corpus", "fold" }, ckpt.Metadata.Keys.Order().ToArray());
        using var ex = Trained(1);
        string[] reserved = ["format", "format_version", "config", "labels", "feature_mean", "feature_std", "sha256", "epoch", "optimizer_step"];
        foreach (var key in reserved)
        {
            var extra = new Dictionary<string, string> { [key] = "1" };
            var e = Assert.Throws<ArgumentException>(() => Checkpoint.Save(Path.Combine(_dir, "r.ser"), ex, Labels, Stats(), extra));
            Assert.Contains($"metadata key '{key}' is reserved", e.Message);
            e = Assert.Throws<ArgumentException>(() => Checkpoint.CopyWithMetadata(path, Path.Combine(_dir, "r.ser"), extra));
            Assert.Contains($"metadata key '{key}' is reserved", e.Message);
        }
        Assert.False(File.Exists(Path.Combine(_dir, "r.ser")));
    }

    [Fact]
    public void Absent_optional_metadata_takes_its_defaults_and_epoch_zero_is_a_count()
    {
        string path = Path.Combine(_dir, "plain.ser");
        using (var ex = Trained(2))
            Checkpoint.Save(path, ex, Labels, Stats(), epoch: 0);
        var ckpt = Checkpoint.Load(path);
        Assert.Equal(0, ckpt.Epoch);
        Assert.Equal(0, ckpt.OptimizerStep);                  // not saved without the optimizer
        Assert.Equal(1f, ckpt.Temperature);
        Assert.False(ckpt.HasOptimizerState);
        Assert.Empty(ckpt.Metadata);

        using (var ex = Trained(2))
            Checkpoint.Save(path, ex, Labels, Stats());
        Assert.Null(Checkpoint.Load(path).Epoch);

        Rewrite(path, h => h["__metadata__"]!["labels"] = "null", resign: true);
        Assert.Contains("metadata 'labels' is empty", Refused(path).Message);
    }

    [Fact]
    public void Parameters_leave_out_the_adam_moments_and_the_inference_executor_is_for_inference()
    {
        var ckpt = Checkpoint.Load(SaveTrained());
        Assert.True(ckpt.HasOptimizerState);
        using var infer = ckpt.CreateExecutor();
        Assert.False(infer.IsTraining);
        Assert.Equal(infer.ParameterNames.Order(), ckpt.Parameters.Keys.Order());
    }

    [Fact]
    public void Weights_without_optimizer_state_reset_the_moments_and_the_step()
    {
        var plain = Checkpoint.Load(SaveTrained(optimizer: false));
        using var ex = Trained(3);                                     // moments and step 3 of its own
        plain.ApplyTo(ex);
        Assert.Equal(0, ex.OptimizerStep);
        foreach (var name in ex.ParameterNames)
        {
            Assert.All(ex.GetMoment(name, 0), m => Assert.Equal(0f, m));
            Assert.All(ex.GetMoment(name, 1), v => Assert.Equal(0f, v));
        }

        var full = Checkpoint.Load(SaveTrained());                     // step 3, from Trained(3)
        using var other = Trained(1);
        full.ApplyTo(other, includeOptimizer: false);                  // weights only: the executor keeps its step
        Assert.Equal(1, other.OptimizerStep);
        full.ApplyTo(other);
        Assert.Equal(3, other.OptimizerStep);
    }

    [Fact]
    public void A_file_that_is_not_there_or_is_too_short_for_a_header_size_is_refused()
    {
        Assert.Contains("checkpoint not found", Refused(Path.Combine(_dir, "missing.ser")).Message);
        Assert.Contains("checkpoint not found", Refused(Path.Combine(_dir, "no-such-dir", "missing.ser")).Message);
        string path = Path.Combine(_dir, "eight.ser");
        File.WriteAllBytes(path, new byte[8]);                          // a header size (0) and nothing else
        Assert.Contains("header size 0 does not fit a 8-byte file", Refused(path).Message);
        File.WriteAllBytes(path, new byte[7]);
        Assert.Contains("truncated: 7 bytes", Refused(path).Message);
    }

    [Fact]
    public void Tensors_come_back_in_file_order_whatever_the_order_of_the_header()
    {
        // The checksum covers the tensors in file (offset) order: a header listing them otherwise still loads.
        string path = SaveTrained(optimizer: false);
        var before = Checkpoint.Load(path).Parameters;
        Rewrite(path, h =>
        {
            var first = h["conv1.weight"]!.DeepClone();
            h.Remove("conv1.weight");
            h["conv1.weight"] = first;                                   // now the last entry of the header
        });
        var after = Checkpoint.Load(path).Parameters;
        foreach (var (name, values) in before) Assert.Equal(values, after[name]);
    }

    [Fact]
    public void An_extra_tensor_with_a_valid_checksum_is_refused()
    {
        // An empty tensor (no bytes, begin = end) is valid safetensors; the model has no such parameter.
        string path = SaveTrained(optimizer: false);
        Rewrite(path, h =>
        {
            long end = (long)h["fc2.bias"]!["data_offsets"]![1]!;
            h["extra"] = new JsonObject { ["dtype"] = "F32", ["shape"] = new JsonArray(0), ["data_offsets"] = new JsonArray(end, end) };
        }, resign: true);
        Assert.Contains("unexpected tensor 'extra'", Refused(path).Message);
    }

    [Fact]
    public void Missing_metadata_and_save_arguments_that_do_not_fit_are_refused()
    {
        string path = SaveTrained();
        Rewrite(path, h => h["__metadata__"]!.AsObject().Remove("config"), resign: true);
        Assert.Contains("metadata has no 'config'", Refused(path).Message);

        using var ex = Trained(1);
        string other = Path.Combine(_dir, "other.ser");
        Assert.Contains("3 labels for 4 classes", Assert.Throws<ArgumentException>(() => Checkpoint.Save(other, ex, Labels[..3], Stats())).Message);
        var shortStats = new FeatureStats(Stats().Mean[..15], Stats().Std[..15]);
        Assert.Contains("feature stats must have 16 bins", Assert.Throws<ArgumentException>(() => Checkpoint.Save(other, ex, Labels, shortStats)).Message);
        using var infer = Checkpoint.Load(SaveTrained()).CreateExecutor();
        Assert.Contains("an inference executor has no optimizer state",
            Assert.Throws<ArgumentException>(() => Checkpoint.Save(other, infer, Labels, Stats(), includeOptimizer: true)).Message);
        Assert.False(File.Exists(other));
    }

    [Fact]
    public void A_copy_of_a_format_one_file_is_format_two_and_loads_without_a_notice()
    {
        string source = FormatOneFixture(), copy = Path.Combine(_dir, "copy.ser");
        Checkpoint.CopyWithMetadata(source, copy, new Dictionary<string, string> { ["note"] = "x" });
        var loaded = Checkpoint.Load(copy);
        Assert.Empty(loaded.Notices);
        Assert.Equal("x", loaded.Metadata["note"]);
        string notice = Assert.Single(Checkpoint.Load(source).Notices);
        Assert.Contains("loaded anyway. Files saved by this version are format 2.", notice);
    }

    [Fact]
    public void Given_executor_options_are_used()
    {
        var ckpt = Checkpoint.Load(SaveTrained());
        using var ex = ckpt.CreateExecutor(new ExecutorOptions { MaxBatch = 4, MaxFrames = 30, Threads = 1 });
        Assert.True(ex.IsTraining);
        Assert.Equal(3, ex.OptimizerStep);                              // the saved Adam state came along
    }
}
