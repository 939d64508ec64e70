using Ser.Engine;
using Ser.Engine.Data.Store;

namespace Ser.Tool.Commands;

/// <summary>The --feature-cache / --feature-precision options shared by train, evaluate, predict and features.</summary>
internal static class FeatureCacheOption
{
    public const string Help = "Feature store folder (default: $SER_FEATURE_CACHE, else ~/.cache/ser/features); off computes spectrograms in memory every run.";
    public const string PrecisionHelp = "Values in a new feature store: float32 (default; training is bit-identical to in-memory features) or float16 (half the disk).";

    /// <summary>The store options, or null for "off".</summary>
    public static FeatureStoreOptions? Resolve(string? folder, string? precision, int threads = 0)
    {
        var p = (precision ?? "float32").Trim().ToLowerInvariant() switch
        {
            "float32" or "f32" => FeaturePrecision.Float32,
            "float16" or "f16" => FeaturePrecision.Float16,
            _ => throw new SerException($"--feature-precision: expected float32 or float16 (got '{precision}')"),
        };
        if (folder?.Trim().Equals("off", StringComparison.OrdinalIgnoreCase) == true) return null;
        return new FeatureStoreOptions
        {
            Directory = string.IsNullOrWhiteSpace(folder) ? null : folder,
            Precision = p,
            MaxParallelism = threads > 0 ? threads : -1,
        };
    }
}
