using System.Text.Json;
using System.Text.Json.Serialization;
using Ser.Engine.IO;
using Ser.Engine.Metrics;

namespace Ser.Engine.Experiments;

/// <summary>
/// A run folder's state.json: the settings and every finished fold's result, rewritten atomically when a fold finishes.
/// <c>--resume</c> reads it to skip finished folds and to refuse continuing with different settings.
/// </summary>
internal sealed class RunState
{
    public const string FileName = "state.json";
    const string Format = "ser-run-state";

    [JsonPropertyName("format")] public string FormatName { get; set; } = Format;
    [JsonPropertyName("version")] public int Version { get; set; } = 1;
    [JsonPropertyName("settings")] public TrainingSettings Settings { get; set; } = new();
    [JsonPropertyName("labels")] public List<string> Labels { get; set; } = [];
    /// <summary>Wall-clock seconds of all sessions of this run so far (finished folds).</summary>
    [JsonPropertyName("seconds")] public double Seconds { get; set; }
    [JsonPropertyName("completed")] public List<CompletedFold> Completed { get; set; } = [];
    /// <summary>The CPU kernel path the run started on (<see cref="KernelPath"/>); null in runs from before it was recorded.</summary>
    [JsonPropertyName("cpu_kernels")] public string? CpuKernels { get; set; }

    /// <summary>
    /// The CPU kernel path of this process ("Vector512", "Vector256" or "scalar": <see cref="Backends.Cpu.CpuKernels"/>,
    /// chosen by --simd or SER_SIMD, else the widest the CPU accelerates). Same path, same bits: a run resumed on another
    /// path continues, but its results are no longer bit-identical to an uninterrupted run.
    /// </summary>
    public static string KernelPath => Backends.Cpu.CpuKernels.Name(Backends.Cpu.CpuKernels.Current);

    public sealed class CompletedFold
    {
        [JsonPropertyName("fold")] public int Fold { get; set; }
        [JsonPropertyName("test_session")] public string TestSession { get; set; } = "";
        [JsonPropertyName("validation_speaker")] public string ValidationSpeaker { get; set; } = "";
        [JsonPropertyName("test_speaker")] public string TestSpeaker { get; set; } = "";
        [JsonPropertyName("best_epoch")] public int BestEpoch { get; set; }
        [JsonPropertyName("best_validation_ua")] public double BestValidationUA { get; set; }
        [JsonPropertyName("checkpoint")] public string Checkpoint { get; set; } = "";
        [JsonPropertyName("confusion_counts")] public long[][] ConfusionCounts { get; set; } = [];
        [JsonPropertyName("history")] public List<EpochRecord> History { get; set; } = [];
        [JsonPropertyName("reverse")] public CompletedReverse? Reverse { get; set; }
        [JsonPropertyName("calibration")] public CompletedCalibration? Calibration { get; set; }

        public static CompletedFold From(FoldResult r) => new()
        {
            Fold = r.Fold,
            TestSession = r.TestSession,
            ValidationSpeaker = r.ValidationSpeaker,
            TestSpeaker = r.TestSpeaker,
            BestEpoch = r.BestEpoch,
            BestValidationUA = r.BestValidationUA,
            Checkpoint = r.CheckpointPath,
            ConfusionCounts = r.Test.ToJaggedCounts(),
            History = r.History.ToList(),
            Reverse = r.Reverse is { } v
                ? new CompletedReverse { Selector = v.Selector, Tested = v.Tested, BestEpoch = v.BestEpoch, SelectorUA = v.SelectorUA, ConfusionCounts = v.Test.ToJaggedCounts() }
                : null,
            Calibration = r.Calibration is { } c ? new CompletedCalibration { Temperature = c.Temperature, Before = c.Before, After = c.After } : null,
        };

        public FoldResult ToResult(IReadOnlyList<string> labels)
        {
            return new FoldResult
            {
                Fold = Fold,
                TestSession = TestSession,
                ValidationSpeaker = ValidationSpeaker,
                TestSpeaker = TestSpeaker,
                BestEpoch = BestEpoch,
                BestValidationUA = BestValidationUA,
                Test = Matrix(labels, ConfusionCounts),
                History = History,
                CheckpointPath = Checkpoint,
                Reverse = Reverse is { } v ? new ReverseResult(v.Selector, v.Tested, v.BestEpoch, v.SelectorUA, Matrix(labels, v.ConfusionCounts)) : null,
                Calibration = Calibration is { } c ? new CalibrationResult(c.Temperature, c.Before, c.After) : null,
            };
        }

        static ConfusionMatrix Matrix(IReadOnlyList<string> labels, long[][] counts)
        {
            var m = new ConfusionMatrix(labels);
            for (int a = 0; a < counts.Length; a++)
                for (int p = 0; p < counts[a].Length; p++)
                    m.Add(a, p, counts[a][p]);
            return m;
        }
    }

    /// <summary>The reverse direction of a finished fold (<see cref="ReverseResult"/>).</summary>
    public sealed class CompletedReverse
    {
        [JsonPropertyName("selector")] public string Selector { get; set; } = "";
        [JsonPropertyName("tested")] public string Tested { get; set; } = "";
        [JsonPropertyName("best_epoch")] public int BestEpoch { get; set; }
        [JsonPropertyName("selector_ua")] public double SelectorUA { get; set; }
        [JsonPropertyName("confusion_counts")] public long[][] ConfusionCounts { get; set; } = [];
    }

    /// <summary>A finished fold's calibration (<see cref="CalibrationResult"/>).</summary>
    public sealed class CompletedCalibration
    {
        [JsonPropertyName("temperature")] public double Temperature { get; set; } = 1;
        [JsonPropertyName("before")] public Reliability Before { get; set; } = new();
        [JsonPropertyName("after")] public Reliability After { get; set; } = new();
    }

    static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    public static string PathIn(string runDir) => System.IO.Path.Combine(runDir, FileName);

    public void Save(string runDir) => AtomicFile.WriteAllText(PathIn(runDir), JsonSerializer.Serialize(this, Json));

    public static RunState Load(string runDir)
    {
        string path = PathIn(runDir);
        if (!File.Exists(path)) throw new SerException($"{runDir}: no {FileName} (not a sertool train run folder, or the run never started)");
        RunState? state;
        try
        {
            state = JsonSerializer.Deserialize<RunState>(File.ReadAllText(path), Json);
        }
        catch (JsonException e)
        {
            throw new SerException($"{path}: not a valid run state ({e.Message.ReplaceLineEndings(" ")})");
        }
        if (state is null || state.FormatName != Format) throw new SerException($"{path}: not a sertool run state file");
        if (state.Version != 1) throw new SerException($"{path}: unsupported run state version {state.Version}");
        return state;
    }
}
