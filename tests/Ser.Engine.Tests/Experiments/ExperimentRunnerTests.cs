using Ser.Engine.Checkpoints;
using Ser.Engine.Data;
using Ser.Engine.Experiments;

namespace Ser.Engine.Tests.Experiments;

/// <summary>The protocol end to end on a tiny corpus (40 short utterances, 5 sessions of two speakers) and a tiny model.</summary>
public sealed class ExperimentRunnerTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("ser-runner-").FullName;
    readonly string Corpus, SmallCorpus;

    public ExperimentRunnerTests()
    {
        Corpus = TinyCorpus.Write(Path.Combine(_dir, "corpus"));
        SmallCorpus = TinyCorpus.Write(Path.Combine(_dir, "corpus3"), sessions: 3);   // 3 folds: less to train where runs repeat
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    TrainingSettings Settings(int[] folds, int epochs = 2, LengthMode mode = LengthMode.Variable, bool small = false) => new()
    {
        Corpus = small ? SmallCorpus : Corpus,
        Preset = "tiny",
        CustomModel = TinyCorpus.Model,
        Mode = mode,
        Folds = folds,
        Epochs = epochs,
        BatchSize = 4,
        Patience = 0,
        Seed = 5,
    };

    RunOptions Options(string name, bool resume = false) =>
        new() { OutputDirectory = Path.Combine(_dir, name), Resume = resume, Threads = 1, Build = "commit test-build" };

    /// <summary>Cancels the run when a given batch of a given fold and epoch has been trained (like Ctrl-C).</summary>
    sealed class CancelAt(CancellationTokenSource cts, int fold, int epoch, int batch) : TrainingObserver
    {
        public List<string> Messages { get; } = [];
        public List<FoldPlan> Plans { get; } = [];
        public List<(int Fold, int Epoch)> EpochsStarted { get; } = [];
        public override void Message(string text) => Messages.Add(text);
        public override void EpochStarted(int f, int epoch, int batches, int done) => EpochsStarted.Add((f, epoch));
        public override void FoldStarted(FoldPlan plan) => Plans.Add(plan);
        public override void BatchCompleted(BatchProgress p)
        {
            if (p.Fold == fold && p.Epoch == epoch && p.Batch == batch) cts.Cancel();
        }
        public override void EpochCompleted(int f, EpochRecord record, bool improved, bool stopping)
        {
            if (f == fold && record.Epoch == epoch && batch == 0) cts.Cancel();   // batch 0: right after the epoch
        }
    }

    [Fact]
    public void Folds_keep_speakers_apart_and_normalise_with_training_statistics_only()
    {
        var observer = new CancelAt(CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken), 0, 0, -1);
        var report = Run(Settings([2], epochs: 1), Options("protocol"), observer);

        var corpus = CorpusSpec.Load(Corpus);
        var fold = Folds.LeaveOneSessionOut(corpus)[1];
        var result = Assert.Single(report.Folds);
        // validation and test speakers: the held-out session's two speakers, one each, none in training
        Assert.Equal(fold.HeldOutSession, result.TestSession);
        Assert.NotEqual(result.ValidationSpeaker, result.TestSpeaker);
        var trainSpeakers = fold.Train.Select(i => corpus[i].Speaker).ToHashSet();
        Assert.DoesNotContain(result.ValidationSpeaker, trainSpeakers);
        Assert.DoesNotContain(result.TestSpeaker, trainSpeakers);
        Assert.All(fold.Train, i => Assert.NotEqual(fold.HeldOutSession, corpus[i].Session));
        var plan = Assert.Single(observer.Plans);
        Assert.Equal((32, 4, 4), (plan.TrainUtterances, plan.ValidationUtterances, plan.TestUtterances));
        Assert.Equal(4, result.Test.Total);                                  // every test utterance scored once

        // the checkpoint's statistics are exactly the training split's (not the whole corpus's)
        var cache = FeatureCache.Compute(corpus);
        var trainStats = cache.Statistics(fold.Train);
        var allStats = cache.Statistics(Enumerable.Range(0, corpus.Count));
        foreach (string file in new[] { "fold2/best.ser", "fold2/last.ser", "model.ser" })
        {
            var ckpt = Checkpoint.Load(Path.Combine(_dir, "protocol", file));
            Assert.Equal(trainStats.Mean, ckpt.Stats.Mean);
            Assert.Equal(trainStats.Std, ckpt.Stats.Std);
            Assert.NotEqual(allStats.Mean, ckpt.Stats.Mean);
            Assert.Equal("2", ckpt.Metadata["fold"]);
            Assert.Equal(result.TestSpeaker, ckpt.Metadata["test_speakers"]);
        }
        Assert.Contains("build commit test-build", File.ReadAllText(Path.Combine(_dir, "protocol", "report.md")));

        // the model card: in model.ser's metadata and beside it, with the corpus's counts per speaker and class
        var card = ModelCard.FromJson(Checkpoint.Load(Path.Combine(_dir, "protocol", "model.ser")).Metadata[ModelCard.MetadataKey])!;
        Assert.Equal(corpus.Classes, card.Labels);
        Assert.Equal(corpus.Speakers, card.Counts.Keys);
        foreach (var speaker in corpus.Speakers)
            Assert.Equal(corpus.Classes.Select(c => corpus.Utterances.Count(u => u.Speaker == speaker && u.Label == c)), card.Counts[speaker]);
        Assert.Equal(2, card.ModelFold);
        Assert.Equal(result.Test.UnweightedAccuracy, card.PooledUA);
        Assert.Equal(result.Calibration!.Temperature, card.Temperature);
        Assert.Equal(Checkpoint.Load(Path.Combine(_dir, "protocol", "model.ser")).Parameters.Values.Sum(v => (long)v.Length), card.Parameters);
        Assert.Equal("commit test-build", card.Build);
        Assert.False(card.Synthetic);
        string markdown = File.ReadAllText(Path.Combine(_dir, "protocol", ModelCard.FileName));
        Assert.Contains("Not for decisions about people", markdown);
        Assert.DoesNotContain("does not recognise emotion in real speech", markdown);
        Assert.Contains("does not recognise emotion in real speech", string.Join(" ", (card with { Synthetic = true }).Limits()));
        string json = File.ReadAllText(Path.Combine(_dir, "protocol", "report.json"));
        Assert.Contains("\"pooled\"", json);
        Assert.Contains("\"build\": \"commit test-build\"", json);   // results name the code that produced them
    }

    [Fact]
    public void Resume_after_a_cancel_mid_epoch_skips_finished_folds_and_reproduces_the_uninterrupted_run()
    {
        var settings = Settings([1, 3], epochs: 1, small: true);
        var straight = Run(settings, Options("straight"));

        // Ctrl-C after batch 2 of fold 3's epoch: fold 1 is finished, fold 3 stops between two batches
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        var first = new CancelAt(cts, 3, 1, 2);
        Assert.ThrowsAny<OperationCanceledException>(() => Run(settings, Options("resumed"), first, cts.Token));
        var last = Checkpoint.Load(Path.Combine(_dir, "resumed", "fold3", "last.ser"));
        Assert.Equal(0, last.Epoch);                                         // no finished epoch, 2 batches
        Assert.Contains("\"batches_done\":2", last.Metadata["fold_progress"]);
        Assert.True(FoldProgress.FromJson(last.Metadata["fold_progress"], "last.ser").EpochSeconds > 0);   // the part-epoch's time is kept
        Assert.False(File.Exists(Path.Combine(_dir, "resumed", "report.json")));
        Assert.Throws<SerException>(() => Run(settings, Options("resumed")));   // no silent overwrite of a run

        var second = new CancelAt(CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken), 0, 0, -1);
        var resumed = Run(settings, Options("resumed", resume: true), second);
        Assert.Contains(second.Messages, m => m.Contains("fold 1: already finished"));
        Assert.Contains("fold 3: resuming after epoch 0 and 2 batches of epoch 1", second.Messages);
        Assert.Equal(3, Assert.Single(second.Plans).Fold);                  // fold 1 was not trained again

        AssertSameRun(straight, resumed, "straight", "resumed", [1, 3]);
    }

    [Fact]
    public void Resume_after_a_stop_between_epochs_reproduces_the_uninterrupted_run()
    {
        var settings = Settings([2], epochs: 2, small: true);
        var straight = Run(settings, Options("straight"));
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        var killed = new CancelAt(cts, 2, 1, 0);
        Assert.ThrowsAny<OperationCanceledException>(() => Run(settings, Options("killed"), killed, cts.Token));
        Assert.Equal(1, Checkpoint.Load(Path.Combine(_dir, "killed", "fold2", "last.ser")).Epoch);
        Assert.Equal([(2, 1)], killed.EpochsStarted);                        // stopped before epoch 2 began
        // a resume with other settings is refused
        Assert.Throws<SerException>(() => Run(settings with { Epochs = 3 }, Options("killed", resume: true)));
        var observer = new CancelAt(CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken), 0, 0, -1);
        var resumed = Run(settings, Options("killed", resume: true), observer);
        Assert.Contains("fold 2: resuming after epoch 1", observer.Messages);   // exactly: no part-epoch to mention
        AssertSameRun(straight, resumed, "straight", "killed", [2]);
    }

    [Fact]
    public void A_run_resumed_on_other_cpu_kernels_says_it_is_no_longer_bit_identical()
    {
        var settings = Settings([1], epochs: 1, small: true);
        Run(settings, Options("kernels"));
        string state = Path.Combine(_dir, "kernels", "state.json");
        Assert.Contains($"\"cpu_kernels\": \"{RunState.KernelPath}\"", File.ReadAllText(state));
        var same = new CancelAt(CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken), 0, 0, -1);
        Run(settings, Options("kernels", resume: true), same);
        Assert.DoesNotContain(same.Messages, m => m.Contains("bit-identical"));
        string otherPath = RunState.KernelPath == "Vector512" ? "Vector256" : "Vector512";
        File.WriteAllText(state, File.ReadAllText(state).Replace($"\"cpu_kernels\": \"{RunState.KernelPath}\"", $"\"cpu_kernels\": \"{otherPath}\""));
        var other = new CancelAt(CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken), 0, 0, -1);
        Run(settings, Options("kernels", resume: true), other);
        Assert.Contains(other.Messages, m => m.Contains($"started on {otherPath} CPU kernels") && m.Contains("no longer bit-identical"));
    }

    /// <summary>A run folder is never overwritten or mixed with another run: each refusal is one line that says what to do.</summary>
    [Fact]
    public void Refusals_are_one_line_errors_and_a_resumed_finished_run_keeps_its_folds()
    {
        var settings = Settings([2], epochs: 1, small: true);
        string dir = Path.Combine(_dir, "refusals"), state = Path.Combine(dir, "state.json");
        var first = Run(settings, Options("refusals"));
        double seconds = RunState.Load(dir).Seconds;
        Assert.True(first.Seconds > 0 && seconds > 0, $"report {first.Seconds} s, state {seconds} s");
        string Refused(TrainingSettings s, RunOptions o) => Assert.Throws<SerException>(() => Run(s, o)).Message;

        Assert.Equal("--epochs must be at least 1 (got 0)", Refused(settings with { Epochs = 0 }, Options("zero")));
        Assert.False(Directory.Exists(Path.Combine(_dir, "zero")));
        Assert.Equal($"{dir}: already holds a run (state.json); continue it with --resume or choose another --out",
            Refused(settings, Options("refusals")));
        Assert.Equal($"{state}: the run was started with other settings (corpus {SmallCorpus}, preset tiny, mode variable, folds 2, " +
                     "epochs 1, batch 4, lr 0.0003, seed 5, patience 0); resume it with the same options or start a new --out",
            Refused(settings with { Seed = 6 }, Options("refusals", resume: true)));
        Assert.Equal($"{Path.Combine(_dir, "none")}: no state.json (not a sertool train run folder, or the run never started)",
            Refused(settings, Options("none", resume: true)));
        Assert.EndsWith(" has 3 folds (sessions), there is no fold 4", Refused(settings with { Folds = [4] }, Options("four")));
        Assert.False(Directory.Exists(Path.Combine(_dir, "four")));   // refused before anything is written

        // resumed when finished: the fold is kept, not retrained, and the report says which folds of how many ran
        var observer = new CancelAt(CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken), 0, 0, -1);
        var report = Run(settings, Options("refusals", resume: true) with { Threads = 0 }, observer);
        Assert.Equal(["fold 2: already finished in this run, kept"], observer.Messages);
        Assert.Empty(observer.Plans);
        Assert.Equal("2 of 3 (a subset of the leave-one-session-out protocol)", report.Settings["folds"]);
        Assert.Equal($"cpu ({Environment.ProcessorCount} threads)", report.Device);   // 0 = all cores
        Assert.Equal("cpu (1 threads)", first.Device);
        Assert.Equal("", new RunOptions { OutputDirectory = _dir }.Build);   // a caller that names no build gets none, not a placeholder
        Assert.True(report.Seconds >= seconds, "a resumed run's time adds to the earlier sessions'");

        // a state whose classes are not the corpus's
        File.WriteAllText(state, File.ReadAllText(state).Replace("\"angry\"", "\"furious\""));
        var classes = CorpusSpec.Load(SmallCorpus).Classes;
        Assert.Equal($"{state}: the run's classes ({string.Join(", ", classes.Select(c => c == "angry" ? "furious" : c))}) differ from the corpus's " +
                     $"({string.Join(", ", classes)})", Refused(settings, Options("refusals", resume: true)));
    }

    /// <summary>A fold continues only from its own checkpoints: last.ser, best.ser or best-reverse.ser of another run (here:
    /// another seed, same fold) is refused when the fold resumes, and a fresh run never picks up a stray last.ser.</summary>
    [Fact]
    public void A_resumed_fold_refuses_checkpoints_of_another_run()
    {
        var settings = Settings([2], epochs: 1, small: true);
        Run(settings, Options("own"));
        Run(settings with { Seed = 9 }, Options("other"));
        string own = Path.Combine(_dir, "own"), fold = Path.Combine(own, "fold2");
        // The fold as if interrupted after its last epoch: state.json without it, so a resume runs the fold again.
        void Reopen()
        {
            var state = RunState.Load(own);
            state.Completed = [];
            state.Save(own);
        }
        foreach (string file in new[] { "last.ser", "best.ser", "best-reverse.ser" })
        {
            Reopen();
            File.Copy(Path.Combine(fold, file), Path.Combine(_dir, "kept.ser"), overwrite: true);
            File.Copy(Path.Combine(_dir, "other", "fold2", file), Path.Combine(fold, file), overwrite: true);
            Assert.Equal($"{Path.Combine(fold, file)}: belongs to a different run or fold than the one being resumed (settings differ)",
                Assert.Throws<SerException>(() => Run(settings, Options("own", resume: true))).Message);
            File.Copy(Path.Combine(_dir, "kept.ser"), Path.Combine(fold, file), overwrite: true);
        }
        Reopen();
        var observer = new CancelAt(CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken), 0, 0, -1);
        Run(settings, Options("own", resume: true), observer);               // its own checkpoints: accepted
        Assert.Contains("fold 2: resuming after epoch 1", observer.Messages);

        // a fresh run into a folder holding a finished fold's last.ser (but no state.json) trains from the start
        string stray = Path.Combine(_dir, "stray", "fold2");
        Directory.CreateDirectory(stray);
        File.Copy(Path.Combine(fold, "last.ser"), Path.Combine(stray, "last.ser"));
        var fresh = new CancelAt(CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken), 0, 0, -1);
        Run(settings, Options("stray"), fresh);
        Assert.Equal([(2, 1)], fresh.EpochsStarted);
        Assert.DoesNotContain(fresh.Messages, m => m.Contains("resuming"));
    }

    /// <summary>The learning rate and the clipping norm of the settings reach the optimizer: changing either changes the
    /// trained weights (the same run otherwise).</summary>
    [Fact]
    public void Learning_rate_and_clipping_reach_the_optimizer()
    {
        var settings = Settings([1], epochs: 1, small: true);
        float[] Weights(TrainingSettings s, string name)
        {
            Run(s, Options(name));
            return Checkpoint.Load(Path.Combine(_dir, name, "fold1", "last.ser")).Parameters.Values.SelectMany(v => v).ToArray();
        }
        var baseline = Weights(settings, "lr-base");
        Assert.Equal(baseline, Weights(settings, "lr-again"));               // deterministic, so a difference below is the setting's
        Assert.NotEqual(baseline, Weights(settings with { LearningRate = 3 * settings.LearningRate }, "lr-3x"));
        Assert.NotEqual(baseline, Weights(settings with { ClipNorm = 1e-6 }, "clip-tiny"));
    }

    /// <summary>A diverging run stops with a one-line error that says what to try, not with NaN weights.</summary>
    [Fact]
    public void A_diverging_run_stops_with_a_one_line_error()
    {
        var settings = Settings([1], epochs: 3, small: true) with { LearningRate = 1e300 };
        var message = Assert.Throws<SerException>(() => Run(settings, Options("diverging"))).Message;
        Assert.Matches(@"^fold 1, epoch \d: the training loss became (NaN|∞|-?Infinity) \(try a lower --lr\)$", message);
    }

    [Fact]
    public void The_report_says_whether_every_fold_ran()
    {
        var settings = Settings([1, 2, 3], small: true);
        Assert.Equal("all 3 (leave one session out)", ExperimentRunner.WithFoldNote(settings, 3)["folds"]);
        Assert.Equal("1,2,3 of 5 (a subset of the leave-one-session-out protocol)", ExperimentRunner.WithFoldNote(settings, 5)["folds"]);
        Assert.Equal(settings.ToDictionary()["epochs"], ExperimentRunner.WithFoldNote(settings, 3)["epochs"]);
    }

    [Fact]
    public void Fixed_mode_scores_whole_utterances_and_marks_its_checkpoints()
    {
        var report = Run(Settings([5], epochs: 1, mode: LengthMode.Fixed), Options("fixed"));
        var result = Assert.Single(report.Folds);
        Assert.Equal(4, result.Test.Total);                                  // utterances, not pieces
        Assert.Equal("fixed", report.Mode);
        var model = Checkpoint.Load(Path.Combine(_dir, "fixed", "model.ser"));
        Assert.Equal("fixed", model.Metadata["length_mode"]);
        Assert.Equal("300", model.Metadata["piece_frames"]);
        Assert.Equal("fixed", Checkpoint.Load(Path.Combine(_dir, "fixed", "fold5", "last.ser")).Metadata["length_mode"]);
    }

    [Fact]
    public void Training_from_a_float32_feature_store_is_bit_identical_to_in_memory_and_the_second_run_computes_nothing()
    {
        var settings = Settings([2], epochs: 1, small: true);
        var memory = Run(settings, Options("memory"));
        var store = new Ser.Engine.Data.Store.FeatureStoreOptions { Directory = Path.Combine(_dir, "features") };
        var first = new CancelAt(CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken), 0, 0, -1);
        var stored = Run(settings, Options("stored") with { FeatureStore = store }, first);
        Assert.Contains(first.Messages, m => m.Contains("feature store: building"));
        AssertSameRun(memory, stored, "memory", "stored", [2]);

        var second = new CancelAt(CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken), 0, 0, -1);
        var again = Run(settings, Options("again") with { FeatureStore = store }, second);
        Assert.Contains(second.Messages, m => m.Contains("reusing") && m.Contains("no spectrograms computed"));
        Assert.DoesNotContain(second.Messages, m => m.Contains("computing") || m.Contains("building"));
        AssertSameRun(memory, again, "memory", "again", [2]);
    }

    static ExperimentReport Run(TrainingSettings settings, RunOptions options, TrainingObserver? observer = null, CancellationToken? cancel = null) =>
        ExperimentRunner.Run(settings, options, observer, cancel ?? TestContext.Current.CancellationToken);

    void AssertSameRun(ExperimentReport a, ExperimentReport b, string dirA, string dirB, int[] folds)
    {
        Assert.Equal(a.Folds.Count, b.Folds.Count);
        for (int i = 0; i < a.Folds.Count; i++)
        {
            var (x, y) = (a.Folds[i], b.Folds[i]);
            Assert.Equal(x.BestEpoch, y.BestEpoch);
            Assert.Equal(x.Test.ToJaggedCounts(), y.Test.ToJaggedCounts());
            Assert.Equal(x.History.Select(h => (h.TrainLoss, h.TrainAccuracy, h.ValidationLoss, h.ValidationUA)),
                         y.History.Select(h => (h.TrainLoss, h.TrainAccuracy, h.ValidationLoss, h.ValidationUA)));
        }
        foreach (int f in folds)
            foreach (string file in new[] { "best.ser", "last.ser" })
            {
                var p = Checkpoint.Load(Path.Combine(_dir, dirA, $"fold{f}", file)).Parameters;
                var q = Checkpoint.Load(Path.Combine(_dir, dirB, $"fold{f}", file)).Parameters;
                foreach (var (name, values) in p) Assert.Equal(values, q[name]);   // bit-identical weights
            }
        // model.ser: the same weights and temperature; its model card differs only in times (training seconds, creation)
        var (ma, mb) = (Checkpoint.Load(Path.Combine(_dir, dirA, "model.ser")), Checkpoint.Load(Path.Combine(_dir, dirB, "model.ser")));
        foreach (var (name, values) in ma.Parameters) Assert.Equal(values, mb.Parameters[name]);
        Assert.Equal(ma.Temperature, mb.Temperature);
        var (ca, cb) = (ModelCard.FromJson(ma.Metadata[ModelCard.MetadataKey])!, ModelCard.FromJson(mb.Metadata[ModelCard.MetadataKey])!);
        Assert.Equal((ca with { TrainingSeconds = 0, CreatedUtc = "" }).ToJson(), (cb with { TrainingSeconds = 0, CreatedUtc = "" }).ToJson());
    }
}
