using Ser.Engine.Experiments;

namespace Ser.Engine.Tests.Experiments;

/// <summary>state.json and a fold's progress (last.ser's metadata): what --resume reads back, and its refusals.</summary>
public sealed class RunStateTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("ser-state-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    [Fact]
    public void Finished_folds_come_back_from_state_json_as_they_were()
    {
        var report = ExperimentReportTests.Report();
        var state = new RunState
        {
            Settings = new TrainingSettings { Seed = 4 }, Labels = report.Labels.ToList(), Seconds = 12.5, CpuKernels = "Vector256",
            Completed = report.Folds.Select(RunState.CompletedFold.From).ToList(),
        };
        state.Save(_dir);
        var back = RunState.Load(_dir);
        Assert.Equal((state.Settings, 12.5, "Vector256"), (back.Settings, back.Seconds, back.CpuKernels));
        Assert.Equal(report.Labels, back.Labels);
        var folds = back.Completed.Select(c => c.ToResult(back.Labels)).ToList();
        // every number the report shows, both directions and calibration included, and the histories
        var rebuilt = new ExperimentReport
        {
            Mode = report.Mode, Preset = report.Preset, Corpus = report.Corpus, Device = report.Device, Build = report.Build, Labels = back.Labels,
            Settings = report.Settings, Folds = folds, Seconds = report.Seconds,
        };
        Assert.Equal(report.ToMarkdown(), rebuilt.ToMarkdown());
        Assert.Equal(report.ToJson(), rebuilt.ToJson());
        Assert.Null(folds[1].Reverse);
        Assert.Null(folds[1].Calibration);
    }

    /// <summary>A finished fold written without its names (a hand-edited or truncated state) reads them as empty, and
    /// state.json stays indented for people who read it.</summary>
    [Fact]
    public void Absent_names_read_as_empty_and_state_json_is_indented()
    {
        File.WriteAllText(RunState.PathIn(_dir), """
            {"format": "ser-run-state", "version": 1, "labels": ["a", "b"],
             "completed": [{"fold": 2, "confusion_counts": [[1, 0], [0, 1]], "reverse": {"confusion_counts": [[1, 0], [0, 0]]}}]}
            """);
        var fold = Assert.Single(RunState.Load(_dir).Completed).ToResult(["a", "b"]);
        Assert.Equal((2, "", "", "", ""), (fold.Fold, fold.TestSession, fold.ValidationSpeaker, fold.TestSpeaker, fold.CheckpointPath));
        Assert.Equal(("", ""), (fold.Reverse!.Selector, fold.Reverse.Tested));
        new RunState().Save(_dir);
        Assert.StartsWith("{\n  \"format\": \"ser-run-state\",", File.ReadAllText(RunState.PathIn(_dir)).ReplaceLineEndings("\n"));
    }

    [Theory]
    [InlineData("{ not json", "not a valid run state (")]
    [InlineData("null", "not a sertool run state file")]
    [InlineData("{\"format\": \"other\", \"version\": 1}", "not a sertool run state file")]
    [InlineData("{\"format\": \"ser-run-state\", \"version\": 2}", "unsupported run state version 2")]
    public void A_state_file_that_is_not_ours_is_a_one_line_error(string text, string message)
    {
        File.WriteAllText(RunState.PathIn(_dir), text);
        var e = Assert.Throws<SerException>(() => RunState.Load(_dir));
        Assert.StartsWith($"{RunState.PathIn(_dir)}: {message}", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Fold_progress_round_trips_every_field_and_refuses_what_is_not_progress()
    {
        var fresh = FoldProgress.FromJson(new FoldProgress().ToJson(), "x");
        Assert.Equal((double.NegativeInfinity, double.PositiveInfinity, double.NegativeInfinity, double.PositiveInfinity),
            (fresh.BestValidationUA, fresh.BestValidationLoss, fresh.ReverseBestUA, fresh.ReverseBestLoss));   // no best yet

        var p = new FoldProgress
        {
            CompletedEpochs = 3, BatchesDone = 5, EpochLossSum = 1.0 / 3, EpochCorrect = 7, EpochSamples = 11, EpochSeconds = 2.25, BestEpoch = 2,
            BestValidationUA = 0.1 + 0.2, BestValidationLoss = 1.5, ReverseBestEpoch = 3, ReverseBestUA = 0.7, ReverseBestLoss = 0.9, Stopped = true,
            History = [new EpochRecord(1, 1.25, 0.5, 1.5, 0.5, 0.25, 2.0)],
        };
        var back = FoldProgress.FromJson(p.ToJson(), "x");
        Assert.Equal((3, 5, 1.0 / 3, 7L, 11L, 2.25, 2), (back.CompletedEpochs, back.BatchesDone, back.EpochLossSum, back.EpochCorrect, back.EpochSamples,
            back.EpochSeconds, back.BestEpoch));
        Assert.Equal((0.1 + 0.2, 1.5, 3, 0.7, 0.9, true), (back.BestValidationUA, back.BestValidationLoss, back.ReverseBestEpoch, back.ReverseBestUA,
            back.ReverseBestLoss, back.Stopped));   // doubles exactly
        Assert.Equal(p.History, back.History);   // NaN test scores included (a record compares NaN fields as equal)

        Assert.StartsWith("fold1/last.ser: fold progress is not valid JSON (", Assert.Throws<SerException>(() => FoldProgress.FromJson("{", "fold1/last.ser")).Message);
        Assert.Equal("fold1/last.ser: fold progress is empty", Assert.Throws<SerException>(() => FoldProgress.FromJson("null", "fold1/last.ser")).Message);
    }
}
