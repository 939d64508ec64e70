using System.Text.Json;
using System.Text.Json.Serialization;

namespace Ser.Engine.Models;

/// <summary>
/// The CRNN's sizes (model contract): conv blocks (channels, kernel [KT, KF] each), BiLSTM hidden H per direction,
/// dense D, classes K, dropout p, input bins F. JSON field names are the contract's: channels, kernels, hidden, dense,
/// classes, dropout (+ bins).
/// </summary>
public sealed record ModelConfig
{
    [JsonPropertyName("bins")] public int Bins { get; init; } = 400;
    [JsonPropertyName("channels")] public int[] Channels { get; init; } = [];
    /// <summary>One [KT, KF] (time x frequency) pair per conv block.</summary>
    [JsonPropertyName("kernels")] public int[][] Kernels { get; init; } = [];
    [JsonPropertyName("hidden")] public int Hidden { get; init; }
    [JsonPropertyName("dense")] public int Dense { get; init; }
    [JsonPropertyName("classes")] public int Classes { get; init; } = 4;
    [JsonPropertyName("dropout")] public double Dropout { get; init; }

    /// <summary>DESIGN.md's sizes: conv 16@12x16, 24@8x12, 32@5x7, BiLSTM 128, dense 64, 4 classes.</summary>
    public static ModelConfig Paper { get; } = new()
    {
        Channels = [16, 24, 32],
        Kernels = [[12, 16], [8, 12], [5, 7]],
        Hidden = 128,
        Dense = 64,
        Dropout = 0.5,
    };

    /// <summary>
    /// The same topology, sized for quick CPU runs: conv 4@6x8, 8@4x6, 8@3x4, BiLSTM 32, dense 32. A training step on a
    /// 4.5 s utterance costs about 1/25 of <see cref="Paper"/> (measured: ~8 ms vs ~220 ms on 2 cores). conv1 touches
    /// every input pixel, so its filters and kernel are cut hardest; channel counts are multiples of 4, the CPU
    /// micro-kernel's block of output channels.
    /// </summary>
    public static ModelConfig Small { get; } = new()
    {
        Channels = [4, 8, 8],
        Kernels = [[6, 8], [4, 6], [3, 4]],
        Hidden = 32,
        Dense = 32,
        Dropout = 0.3,
    };

    public static IReadOnlyList<string> PresetNames { get; } = ["small", "paper"];

    /// <summary>"small" or "paper"; anything else is a one-line <see cref="SerException"/>.</summary>
    public static ModelConfig Preset(string name) => name.ToLowerInvariant() switch
    {
        "small" => Small,
        "paper" => Paper,
        _ => throw new SerException($"unknown model preset '{name}' (expected one of: {string.Join(", ", PresetNames)})"),
    };

    public int Blocks => Channels.Length;

    /// <summary>Bins after the poolings: F halved (ceil) once per block.</summary>
    public int PooledBins
    {
        get
        {
            int f = Bins;
            for (int i = 0; i < Blocks; i++) f = (f + 1) / 2;
            return f;
        }
    }

    /// <summary>I = C_last * F_pooled, the LSTM input size.</summary>
    public int LstmInput => Channels[^1] * PooledBins;

    /// <summary>Throws a one-line <see cref="SerException"/> naming the first bad field.</summary>
    public ModelConfig Validate()
    {
        if (Bins < 1) throw new SerException($"model config: bins must be >= 1, got {Bins}");
        if (Channels is null || Channels.Length == 0) throw new SerException("model config: channels must list at least one conv block");
        if (Kernels is null || Kernels.Length != Channels.Length)
            throw new SerException($"model config: kernels must have one [KT, KF] pair per conv block ({Channels.Length})");
        for (int i = 0; i < Channels.Length; i++)
        {
            if (Channels[i] < 1) throw new SerException($"model config: channels[{i}] must be >= 1, got {Channels[i]}");
            if (Kernels[i] is not { Length: 2 } k || k[0] < 1 || k[1] < 1)
                throw new SerException($"model config: kernels[{i}] must be [KT, KF] with both >= 1");
        }
        if (Hidden < 1) throw new SerException($"model config: hidden must be >= 1, got {Hidden}");
        if (Dense < 1) throw new SerException($"model config: dense must be >= 1, got {Dense}");
        if (Classes < 2) throw new SerException($"model config: classes must be >= 2, got {Classes}");
        if (Dropout is < 0 or >= 1 || double.IsNaN(Dropout)) throw new SerException($"model config: dropout must be in [0, 1), got {Dropout}");
        return this;
    }

    public string ToJson() => JsonSerializer.Serialize(Checkpoints.ModelConfigJson.From(this), Checkpoints.CheckpointJson.Default.ModelConfigJson);

    /// <summary>Parses and validates; <paramref name="source"/> names where the JSON came from in errors.</summary>
    public static ModelConfig FromJson(string json, string source)
    {
        ModelConfig? config;
        try
        {
            config = JsonSerializer.Deserialize(json, Checkpoints.CheckpointJson.Default.ModelConfigJson)?.ToConfig();
        }
        catch (JsonException e)
        {
            throw new SerException($"{source}: model config is not valid JSON ({e.Message.ReplaceLineEndings(" ")})");
        }
        if (config is null) throw new SerException($"{source}: model config is empty");
        try
        {
            return config.Validate();
        }
        catch (SerException e)
        {
            throw new SerException($"{source}: {e.Message}");
        }
    }

    public bool Equals(ModelConfig? other) =>
        other is not null && Bins == other.Bins && Hidden == other.Hidden && Dense == other.Dense && Classes == other.Classes &&
        Dropout.Equals(other.Dropout) && Channels.AsSpan().SequenceEqual(other.Channels) &&
        Kernels.Length == other.Kernels.Length && Kernels.Zip(other.Kernels).All(p => p.First.AsSpan().SequenceEqual(p.Second));

    public override int GetHashCode() => HashCode.Combine(Bins, Hidden, Dense, Classes, Dropout, Channels.Length);

    public override string ToString() =>
        $"conv {string.Join(", ", Channels.Select((c, i) => $"{c}@{Kernels[i][0]}x{Kernels[i][1]}"))}, BiLSTM {Hidden}, dense {Dense}, " +
        $"{Classes} classes, dropout {Dropout}, {Bins} bins";
}
