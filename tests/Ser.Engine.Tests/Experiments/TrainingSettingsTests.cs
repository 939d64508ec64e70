using System.Text.Json;
using Ser.Engine.Experiments;
using Ser.Engine.Models;

namespace Ser.Engine.Tests.Experiments;

/// <summary>
/// The settings that decide a run: their checks (each bad value's one-line message, each boundary accepted), the
/// resolved warm-up, the report's settings table, the option parsers, and the equality and JSON that --resume relies on.
/// </summary>
public class TrainingSettingsTests
{
    static readonly TrainingSettings Default = new();

    public static TheoryData<string, string> BadSettings => new()
    {
        { "folds=", "--folds: no folds selected" },
        { "folds=0,2", "--folds: fold numbers start at 1 (got 0,2)" },
        { "folds=2,2", "--folds: a fold is listed twice (2,2)" },
        { "epochs=0", "--epochs must be at least 1 (got 0)" },
        { "batch=0", "--batch-size must be at least 1 (got 0)" },
        { "lr=0", "--lr must be a positive number (got 0)" },
        { "lr=-0.1", $"--lr must be a positive number (got {-0.1})" },
        { "lr=NaN", "--lr must be a positive number (got NaN)" },
        { "lr=Infinity", $"--lr must be a positive number (got {double.PositiveInfinity})" }, // as the current culture writes it
        { "patience=-1", "--patience must be 0 (off) or positive (got -1)" },
        { "clip=-0.5", $"clip norm must be 0 (off) or positive (got {-0.5})" },
        { "clip=NaN", "clip norm must be 0 (off) or positive (got NaN)" },
        { "warmup=-2", "--warmup must be 0 or more epochs, or -1 for half the budget (got -2)" },
        { "preset=huge", "unknown model preset 'huge' (expected one of: small, paper)" },
        { "model=bins0", "model config: bins must be >= 1, got 0" },
    };

    [Theory]
    [MemberData(nameof(BadSettings))]
    public void A_bad_setting_is_a_one_line_error_naming_the_option(string setting, string message)
    {
        var e = Assert.Throws<SerException>(() => With(setting).Validate());
        Assert.Equal(message, e.Message);
    }

    [Theory]
    [InlineData("epochs=1")]
    [InlineData("batch=1")]
    [InlineData("lr=1E-300")]
    [InlineData("patience=0")]
    [InlineData("clip=0")]
    [InlineData("warmup=-1")]
    [InlineData("warmup=0")]
    [InlineData("folds=5,1")]
    [InlineData("preset=PAPER")]
    [InlineData("model=small")]
    public void Boundary_values_are_accepted(string setting) => With(setting).Validate();

    [Theory]
    [InlineData(30, -1, 15)] // half the budget
    [InlineData(7, -1, 3)]
    [InlineData(1, -1, 0)]
    [InlineData(30, 0, 0)]
    [InlineData(30, 12, 12)]
    [InlineData(30, 40, 30)] // never more than the budget
    public void Warmup_resolves_to_half_the_budget_or_the_given_epochs_capped_by_the_budget(int epochs, int warmup, int expected) =>
        Assert.Equal(expected, new TrainingSettings { Epochs = epochs, WarmupEpochs = warmup }.Warmup);

    [Fact]
    public void The_model_is_the_preset_or_the_custom_config_with_one_output_per_class()
    {
        Assert.Equal(ModelConfig.Paper with { Classes = 6 }, new TrainingSettings { Preset = "paper" }.Model(6));
        var custom = ModelConfig.Small with { Hidden = 12 };
        Assert.Equal(custom with { Classes = 3 }, new TrainingSettings { Preset = "mine.json", CustomModel = custom }.Model(3));
    }

    [Fact]
    public void The_report_table_says_every_setting_as_it_is()
    {
        var table = Default.ToDictionary();
        Assert.Equal(TrainingSettings.DefaultCorpus, table["corpus"]);
        Assert.Equal("small", table["preset"]);
        Assert.Equal("variable", table["mode"]);
        Assert.Equal("1", table["folds"]);
        Assert.Equal("30", table["epochs"]);
        Assert.Equal("16", table["batch size"]);
        Assert.Equal("0.0003", table["learning rate"]);
        Assert.Equal("1", table["seed"]);
        Assert.Equal("8", table["patience"]);
        Assert.Equal("5", table["clip norm"]);
        Assert.Equal("Adam (β1 0.9, β2 0.999, ε 1e-8)", table["optimizer"]);
        Assert.Equal("weighted cross-entropy, w = 1/(length x class count), divided by batch size x mean w over the training split", table["loss"]);
        Assert.Equal("temperature fitted on the validation speaker (the one that selects the epoch)", table["calibration"]);
        Assert.Equal("best validation UA among epochs 15..30 (ties: lower validation loss); no early stop before then; each held-out " +
                     "speaker selects for the other", table["model choice"]);

        var other = new TrainingSettings
        {
            Preset = "mine.json", CustomModel = ModelConfig.Small, Mode = LengthMode.Fixed, Split = FixedSplit.Equal, Folds = [3, 1],
            LengthWeight = false, LossNormalizer = LossNormalizer.Batch, Calibrate = false, WarmupEpochs = 0, Epochs = 4,
        }.ToDictionary();
        Assert.Equal($"mine.json: {ModelConfig.Small}", other["preset"]);
        Assert.Equal("fixed (equal)", other["mode"]);
        Assert.Equal("fixed (pieces)", (Default with { Mode = LengthMode.Fixed }).ToDictionary()["mode"]);
        Assert.Equal("3,1", other["folds"]);
        Assert.Equal("weighted cross-entropy, w = 1/class count, divided by the batch's sum of w", other["loss"]);
        Assert.Equal("off (T = 1)", other["calibration"]);
        Assert.StartsWith("best validation UA among epochs 1..4 ", other["model choice"]); // warm-up 0: from the first epoch
    }

    [Theory]
    [InlineData(" Pieces ", FixedSplit.Pieces)]
    [InlineData("EQUAL", FixedSplit.Equal)]
    public void Split_names_parse_in_any_case(string text, FixedSplit expected)
    {
        Assert.Equal(expected, TrainingSettings.ParseSplit(text));
        Assert.Equal(expected == FixedSplit.Equal ? "equal" : "pieces", TrainingSettings.SplitName(expected));
    }

    [Theory]
    [InlineData(" Variable", LengthMode.Variable)]
    [InlineData("FIXED ", LengthMode.Fixed)]
    public void Mode_names_parse_in_any_case(string text, LengthMode expected)
    {
        Assert.Equal(expected, TrainingSettings.ParseMode(text));
        Assert.Equal(expected, TrainingSettings.ParseModeOrNull(text));
        Assert.Equal(expected == LengthMode.Fixed ? "fixed" : "variable", TrainingSettings.ModeName(expected));
    }

    [Fact]
    public void Unknown_names_are_one_line_errors()
    {
        Assert.Equal("--split: expected pieces or equal (got 'thirds')",
            Assert.Throws<SerException>(() => TrainingSettings.ParseSplit("thirds")).Message);
        Assert.Equal("--mode: expected variable or fixed (got 'both')",
            Assert.Throws<SerException>(() => TrainingSettings.ParseMode("both")).Message);
        Assert.Null(TrainingSettings.ParseModeOrNull("both"));
    }

    /// <summary>--resume continues only a run with the same settings: every field takes part in the equality.</summary>
    public static TheoryData<string> EveryField => new()
    {
        "corpus=synthetic:utterances=60", "preset=paper", "model=small", "mode=fixed", "folds=2", "epochs=9", "batch=8", "lr=0.001",
        "seed=2", "patience=3", "clip=1", "warmup=4", "length=off", "normalizer=batch", "split=equal", "calibrate=off",
    };

    [Theory]
    [MemberData(nameof(EveryField))]
    public void Settings_differing_in_one_field_are_not_equal(string setting)
    {
        var changed = With(setting);
        Assert.NotEqual(Default, changed);
        Assert.NotEqual(changed, Default);
        Assert.Equal(With(setting), changed); // a copy is equal, and hashes alike
        Assert.Equal(With(setting).GetHashCode(), changed.GetHashCode());
        Assert.False(Default.Equals(null));
    }

    [Fact]
    public void Json_round_trips_every_field_under_its_contract_name()
    {
        var settings = new TrainingSettings
        {
            Corpus = "synthetic:utterances=60", Preset = "mine.json", CustomModel = ModelConfig.Small, Mode = LengthMode.Fixed,
            Folds = [2, 4], Epochs = 9, BatchSize = 8, LearningRate = 1e-3, Seed = 3, Patience = 2, ClipNorm = 1, WarmupEpochs = 4,
            LengthWeight = false, LossNormalizer = LossNormalizer.Batch, Split = FixedSplit.Equal, Calibrate = false,
        };
        string json = settings.ToJson();
        Assert.Equal(settings, JsonSerializer.Deserialize<TrainingSettings>(json, TrainingSettings.JsonOptions));
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        Assert.Equal("fixed", root.GetProperty("mode").GetString());
        Assert.Equal("equal", root.GetProperty("split").GetString());
        Assert.Equal("batch", root.GetProperty("loss_normalizer").GetString());
        Assert.Equal(4, root.GetProperty("warmup_epochs").GetInt32());
        Assert.False(root.GetProperty("length_weight").GetBoolean());
        Assert.False(root.GetProperty("calibration").GetBoolean());
        Assert.Equal(8, root.GetProperty("batch_size").GetInt32());
        Assert.Equal(1e-3, root.GetProperty("learning_rate").GetDouble());
        Assert.Equal(1, root.GetProperty("clip_norm").GetDouble());
    }

    /// <summary>The defaults every run without options gets (README documents them).</summary>
    [Fact]
    public void Defaults_are_the_documented_ones()
    {
        Assert.Equal("synthetic:utterances=2280", Default.Corpus);
        Assert.Equal(("small", LengthMode.Variable, 30, 16, 3e-4, 1), (Default.Preset, Default.Mode, Default.Epochs, Default.BatchSize, Default.LearningRate, Default.Seed));
        Assert.Equal((8, 5.0, -1, true), (Default.Patience, Default.ClipNorm, Default.WarmupEpochs, Default.LengthWeight));
        Assert.Equal((LossNormalizer.Split, FixedSplit.Pieces, true), (Default.LossNormalizer, Default.Split, Default.Calibrate));
        Assert.Equal(new[] { 1 }, Default.Folds);
        Assert.Null(Default.CustomModel);
    }

    /// <summary>The default settings with one field changed: "name=value".</summary>
    static TrainingSettings With(string setting)
    {
        var (name, value) = (setting[..setting.IndexOf('=')], setting[(setting.IndexOf('=') + 1)..]);
        int[] Ints() => value.Length == 0 ? [] : value.Split(',').Select(int.Parse).ToArray();
        double Number() => double.Parse(value, System.Globalization.CultureInfo.InvariantCulture);
        return name switch
        {
            "corpus" => Default with { Corpus = value },
            "preset" => Default with { Preset = value },
            "model" => Default with { CustomModel = value == "bins0" ? ModelConfig.Small with { Bins = 0 } : ModelConfig.Small },
            "mode" => Default with { Mode = TrainingSettings.ParseMode(value) },
            "folds" => Default with { Folds = Ints() },
            "epochs" => Default with { Epochs = int.Parse(value) },
            "batch" => Default with { BatchSize = int.Parse(value) },
            "lr" => Default with { LearningRate = Number() },
            "seed" => Default with { Seed = int.Parse(value) },
            "patience" => Default with { Patience = int.Parse(value) },
            "clip" => Default with { ClipNorm = Number() },
            "warmup" => Default with { WarmupEpochs = int.Parse(value) },
            "length" => Default with { LengthWeight = value == "on" },
            "normalizer" => Default with { LossNormalizer = value == "batch" ? LossNormalizer.Batch : LossNormalizer.Split },
            "split" => Default with { Split = TrainingSettings.ParseSplit(value) },
            "calibrate" => Default with { Calibrate = value == "on" },
            _ => throw new ArgumentException(setting),
        };
    }
}
