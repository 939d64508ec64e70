using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Ser.Engine.Features;
using Ser.Engine.Models;
using Ser.Engine.Training;

namespace Ser.Engine.Checkpoints;

/// <summary>
/// A trained model on disk, in the model contract's safetensors layout: parameters (conv1.weight, ..., fc2.bias),
/// optionally Adam state (adam.m.NAME, adam.v.NAME) for resuming, and "__metadata__" with format, format_version,
/// config, labels, feature_mean, feature_std, sha256, optimizer_step and epoch when saved, and any training metadata.
/// Written atomically; a corrupt, truncated or mismatched file is refused with a one-line <see cref="SerException"/>
/// naming the file and the problem. The sha256 is required. Format 2 (written now) hashes the metadata, the tensor
/// table and the tensor bytes (<see cref="SafeTensors.Sha256(IReadOnlyDictionary{string, string}, IReadOnlyList{SafeTensor})"/>);
/// format 1 hashed only the tensor bytes: it still loads, with a line in <see cref="Notices"/>.
/// </summary>
public sealed class Checkpoint
{
    public const string FormatName = "ser-checkpoint";
    public const int FormatVersion = 2;

    static readonly HashSet<string> Reserved =
        ["format", "format_version", "config", "labels", "feature_mean", "feature_std", "sha256", "epoch", "optimizer_step"];

    readonly Dictionary<string, float[]> _tensors;

    Checkpoint(string path, ModelConfig config, IReadOnlyList<string> labels, FeatureStats stats,
        IReadOnlyDictionary<string, string> metadata, int? epoch, long optimizerStep, Dictionary<string, float[]> tensors,
        IReadOnlyList<string> notices)
    {
        Path = path;
        Notices = notices;
        Config = config;
        Labels = labels;
        Stats = stats;
        Metadata = metadata;
        Epoch = epoch;
        OptimizerStep = optimizerStep;
        _tensors = tensors;
    }

    public string Path { get; }
    public ModelConfig Config { get; }
    /// <summary>Class names in logit order.</summary>
    public IReadOnlyList<string> Labels { get; }
    /// <summary>Per-bin mean/std of the training split, for normalising features before inference.</summary>
    public FeatureStats Stats { get; }
    /// <summary>Training metadata (everything in __metadata__ that is not a reserved key).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }
    public int? Epoch { get; }
    /// <summary>
    /// One-line notes about a file that loaded but deserves a word to the user (an old format version). Doors pass them on
    /// (sertool prints each as "sertool: note: ..." on stderr); empty for a current file.
    /// </summary>
    public IReadOnlyList<string> Notices { get; }
    public long OptimizerStep { get; }
    /// <summary>
    /// Softmax temperature T of every inference door: probabilities are softmax(logits / T). Metadata key
    /// "temperature" (set by calibration); 1 when absent.
    /// </summary>
    public float Temperature => Metadata.TryGetValue(TemperatureKey, out var t) ? float.Parse(t, CultureInfo.InvariantCulture) : 1f;
    public const string TemperatureKey = "temperature";
    public bool HasOptimizerState => _tensors.Keys.Any(k => k.StartsWith("adam.", StringComparison.Ordinal));

    /// <summary>Parameter values by contract name (conv1.weight ...), row-major.</summary>
    public IReadOnlyDictionary<string, float[]> Parameters =>
        _tensors.Where(p => !p.Key.StartsWith("adam.", StringComparison.Ordinal)).ToDictionary(p => p.Key, p => p.Value);

    /// <summary>
    /// Saves the executor's parameters (and, with includeOptimizer, Adam moments, step and epoch) atomically.
    /// </summary>
    public static void Save(string path, Executor executor, IReadOnlyList<string> labels, FeatureStats stats,
        IReadOnlyDictionary<string, string>? metadata = null, bool includeOptimizer = false, int? epoch = null)
    {
        var config = executor.Config;
        if (labels.Count != config.Classes) throw new ArgumentException($"{labels.Count} labels for {config.Classes} classes", nameof(labels));
        if (stats.Mean.Length != config.Bins || stats.Std.Length != config.Bins)
            throw new ArgumentException($"feature stats must have {config.Bins} bins", nameof(stats));
        if (includeOptimizer && !executor.IsTraining) throw new ArgumentException("an inference executor has no optimizer state");

        var tensors = new List<SafeTensor>();
        foreach (var name in executor.ParameterNames)
            tensors.Add(new SafeTensor(name, executor.ParameterShape(name), executor.GetParameter(name)));
        if (includeOptimizer)
            for (int moment = 0; moment < 2; moment++)
                foreach (var name in executor.ParameterNames)
                    tensors.Add(new SafeTensor($"adam.{(moment == 0 ? "m" : "v")}.{name}", executor.ParameterShape(name),
                        executor.GetMoment(name, moment)));

        var meta = new Dictionary<string, string>();
        if (metadata is not null)
            foreach (var (key, value) in metadata)
            {
                if (Reserved.Contains(key)) throw new ArgumentException($"metadata key '{key}' is reserved", nameof(metadata));
                meta[key] = value;
            }
        meta["format"] = FormatName;
        meta["format_version"] = FormatVersion.ToString(CultureInfo.InvariantCulture);
        meta["config"] = config.ToJson();
        meta["labels"] = JsonSerializer.Serialize(labels, CheckpointJson.Default.IReadOnlyListString);
        meta["feature_mean"] = JsonSerializer.Serialize(stats.Mean, CheckpointJson.Default.SingleArray);
        meta["feature_std"] = JsonSerializer.Serialize(stats.Std, CheckpointJson.Default.SingleArray);
        if (includeOptimizer) meta["optimizer_step"] = executor.OptimizerStep.ToString(CultureInfo.InvariantCulture);
        if (epoch is { } e) meta["epoch"] = e.ToString(CultureInfo.InvariantCulture);
        meta["sha256"] = SafeTensors.Sha256(meta, tensors);
        SafeTensors.Write(path, tensors, meta);
    }

    /// <summary>
    /// Writes a copy of the checkpoint at <paramref name="source"/> to <paramref name="destination"/> (atomically) with
    /// <paramref name="extra"/> metadata added or replaced; tensors are copied unchanged and the checksum is recomputed.
    /// The source is fully checked first, so a corrupt file is never re-signed.
    /// </summary>
    public static void CopyWithMetadata(string source, string destination, IReadOnlyDictionary<string, string> extra)
    {
        Load(source);
        foreach (var key in extra.Keys)
            if (Reserved.Contains(key)) throw new ArgumentException($"metadata key '{key}' is reserved", nameof(extra));
        var (tensors, meta) = SafeTensors.Read(source);
        foreach (var (key, value) in extra) meta[key] = value;
        meta["format_version"] = FormatVersion.ToString(CultureInfo.InvariantCulture);   // the new checksum is format 2's
        meta["sha256"] = SafeTensors.Sha256(meta, tensors);
        SafeTensors.Write(destination, tensors, meta);
    }

    /// <summary>Reads and fully checks a checkpoint (format, checksum, config, labels, stats, tensor names and shapes).</summary>
    public static Checkpoint Load(string path)
    {
        var (tensors, meta) = SafeTensors.Read(path);
        SerException Bad(string problem) => new($"{path}: {problem}");
        string Need(string key) => meta.TryGetValue(key, out var v) ? v : throw Bad($"metadata has no '{key}'");

        if (!meta.TryGetValue("format", out var format) || format != FormatName)
            throw Bad($"not a Ser checkpoint (format '{format ?? "missing"}', expected '{FormatName}')");
        string version = Need("format_version");
        if (version is not ("1" or "2"))
            throw Bad($"unsupported format_version {version} (this build reads 1 and {FormatVersion})");
        if (!meta.TryGetValue("sha256", out var sha256)) throw Bad("metadata has no 'sha256'");
        var notices = new List<string>();
        if (version == "1")
        {
            if (!string.Equals(sha256, SafeTensors.Sha256(tensors), StringComparison.OrdinalIgnoreCase))
                throw Bad("checksum mismatch: the tensor bytes are corrupt (sha256 differs from the header)");
            notices.Add($"{path}: checkpoint format 1, whose checksum does not cover the metadata (feature statistics, " +
                        "labels, config); loaded anyway. Files saved by this version are format 2.");
        }
        else if (!string.Equals(sha256, SafeTensors.Sha256(meta, tensors), StringComparison.OrdinalIgnoreCase))
        {
            throw Bad("checksum mismatch: the file is corrupt (sha256 of its metadata and tensors differs from the header)");
        }
        var config = ModelConfig.FromJson(Need("config"), path + " (config)");
        var labels = ParseJson(Need("labels"), "labels", CheckpointJson.Default.StringArray, Bad);
        if (labels.Length != config.Classes || labels.Any(string.IsNullOrWhiteSpace))
            throw Bad($"labels {Need("labels")} do not name the config's {config.Classes} classes");
        var mean = ParseJson(Need("feature_mean"), "feature_mean", CheckpointJson.Default.SingleArray, Bad);
        var std = ParseJson(Need("feature_std"), "feature_std", CheckpointJson.Default.SingleArray, Bad);
        if (mean.Length != config.Bins || std.Length != config.Bins)
            throw Bad($"feature_mean/feature_std have {mean.Length}/{std.Length} values, the config has {config.Bins} bins");
        if (std.Any(s => !(s > 0) || !float.IsFinite(s)) || mean.Any(m => !float.IsFinite(m)))
            throw Bad("feature_std must be positive and finite, feature_mean finite");
        int? epoch = meta.TryGetValue("epoch", out var ep) ? ParseInt(ep, "epoch", Bad) : null;
        long step = meta.TryGetValue("optimizer_step", out var st) ? ParseInt(st, "optimizer_step", Bad) : 0;

        var byName = new Dictionary<string, float[]>();
        var shapes = tensors.ToDictionary(t => t.Name, t => t.Shape);
        foreach (var t in tensors) byName[t.Name] = t.Data;
        var expected = CrnnParameters.Of(config);
        var allowed = new HashSet<string>();
        bool hasAdam = tensors.Any(t => t.Name.StartsWith("adam.", StringComparison.Ordinal));
        foreach (var (name, shape) in expected)
        {
            allowed.Add(name);
            CheckShape(name, shape);
            if (!hasAdam) continue;
            foreach (var prefix in new[] { "adam.m.", "adam.v." })
            {
                allowed.Add(prefix + name);
                CheckShape(prefix + name, shape);
            }
        }
        foreach (var t in tensors)
            if (!allowed.Contains(t.Name)) throw Bad($"unexpected tensor '{t.Name}' for config {config}");
        foreach (var t in tensors)
            if (t.Data.Any(v => !float.IsFinite(v))) throw Bad($"tensor '{t.Name}' holds NaN or infinity");

        if (meta.TryGetValue(TemperatureKey, out var temperature)
            && !(float.TryParse(temperature, NumberStyles.Float, CultureInfo.InvariantCulture, out float tv) && tv > 0 && float.IsFinite(tv)))
            throw Bad($"metadata '{TemperatureKey}' is not a positive number: '{temperature}'");
        var metadata = meta.Where(p => !Reserved.Contains(p.Key)).ToDictionary(p => p.Key, p => p.Value);
        return new Checkpoint(path, config, labels, new FeatureStats(mean, std), metadata, epoch, step, byName, notices);

        void CheckShape(string name, int[] shape)
        {
            if (!shapes.TryGetValue(name, out var actual)) throw Bad($"tensor '{name}' is missing");
            if (!actual.AsSpan().SequenceEqual(shape))
                throw Bad($"tensor '{name}' has shape [{string.Join(", ", actual)}], the config needs [{string.Join(", ", shape)}]");
        }
    }

    static T ParseJson<T>(string json, string key, JsonTypeInfo<T> type, Func<string, SerException> bad)
    {
        try
        {
            return JsonSerializer.Deserialize(json, type) ?? throw bad($"metadata '{key}' is empty");
        }
        catch (JsonException)
        {
            throw bad($"metadata '{key}' is not valid JSON");
        }
    }

    static int ParseInt(string s, string key, Func<string, SerException> bad) =>
        int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v >= 0 ? v : throw bad($"metadata '{key}' is not a count: '{s}'");

    /// <summary>
    /// Loads the weights (and with includeOptimizer, Adam moments and step, if saved) into an executor built for the
    /// same config; a different config is refused.
    /// </summary>
    public void ApplyTo(Executor executor, bool includeOptimizer = true)
    {
        if (!executor.Config.Equals(Config))
            throw new SerException($"{Path}: checkpoint model ({Config}) does not match the executor's ({executor.Config})");
        foreach (var name in executor.ParameterNames) executor.SetParameter(name, _tensors[name]);
        if (!includeOptimizer || !executor.IsTraining) return;
        if (HasOptimizerState)
        {
            foreach (var name in executor.ParameterNames)
            {
                executor.SetMoment(name, 0, _tensors["adam.m." + name]);
                executor.SetMoment(name, 1, _tensors["adam.v." + name]);
            }
            executor.OptimizerStep = OptimizerStep;
        }
        else
        {
            executor.Graph.InitializeMomentsOnly();
        }
    }

    /// <summary>An executor for this checkpoint's config with its weights loaded (inference by default).</summary>
    public Executor CreateExecutor(ExecutorOptions? options = null)
    {
        var ex = Executor.Create(Config, options ?? new ExecutorOptions { Training = false, MaxBatch = 1, MaxFrames = 1000 });
        try
        {
            ApplyTo(ex);
            return ex;
        }
        catch
        {
            ex.Dispose();
            throw;
        }
    }
}
