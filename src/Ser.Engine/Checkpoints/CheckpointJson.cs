using System.Text.Json.Serialization;
using Ser.Engine.Models;

namespace Ser.Engine.Checkpoints;

/// <summary>
/// Source-generated JSON for the checkpoint's metadata values (config, labels, feature statistics). No reflection, so
/// the same code loads checkpoints under NativeAOT (libser.so) and under the JIT; the bytes written are the ones the
/// reflection serializer wrote (same property order and number formatting), so existing checksums and files still hold.
/// </summary>
[JsonSourceGenerationOptions(WriteIndented = false)]
[JsonSerializable(typeof(ModelConfigJson))]
[JsonSerializable(typeof(string[]))]
[JsonSerializable(typeof(float[]))]
[JsonSerializable(typeof(IReadOnlyList<string>))]
internal sealed partial class CheckpointJson : JsonSerializerContext;

/// <summary>
/// <see cref="ModelConfig"/>'s JSON shape. The source generator builds an init-only record through one object
/// initializer that sets every property, so a field missing from the JSON would become 0 instead of the record's default
/// (bins 400, classes 4), which the reflection serializer kept. This settable twin starts from the record's defaults.
/// </summary>
internal sealed class ModelConfigJson
{
    static readonly ModelConfig Defaults = new();

    [JsonPropertyName("bins")] public int Bins { get; set; } = Defaults.Bins;
    [JsonPropertyName("channels")] public int[] Channels { get; set; } = Defaults.Channels;
    [JsonPropertyName("kernels")] public int[][] Kernels { get; set; } = Defaults.Kernels;
    [JsonPropertyName("hidden")] public int Hidden { get; set; } = Defaults.Hidden;
    [JsonPropertyName("dense")] public int Dense { get; set; } = Defaults.Dense;
    [JsonPropertyName("classes")] public int Classes { get; set; } = Defaults.Classes;
    [JsonPropertyName("dropout")] public double Dropout { get; set; } = Defaults.Dropout;
    // The record's derived sizes, which the reflection serializer also wrote (and ignores when reading): kept, so the
    // config text in new checkpoints is unchanged.
    public int Blocks => ToConfig().Blocks;
    public int PooledBins => ToConfig().PooledBins;
    public int LstmInput => ToConfig().LstmInput;

    public static ModelConfigJson From(ModelConfig c) => new()
    {
        Bins = c.Bins, Channels = c.Channels, Kernels = c.Kernels, Hidden = c.Hidden, Dense = c.Dense, Classes = c.Classes, Dropout = c.Dropout,
    };

    public ModelConfig ToConfig() => new()
    {
        Bins = Bins, Channels = Channels, Kernels = Kernels, Hidden = Hidden, Dense = Dense, Classes = Classes, Dropout = Dropout,
    };
}
