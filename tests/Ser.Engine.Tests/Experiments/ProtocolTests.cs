using System.Numerics.Tensors;
using Ser.Engine.Checkpoints;
using Ser.Engine.Data;
using Ser.Engine.Experiments;
using Ser.Engine.Inference;
using Ser.Engine.Metrics;
using Ser.Engine.Training;

namespace Ser.Engine.Tests.Experiments;

/// <summary>
/// The experiment protocol's rules, each checked against an independent recomputation rather than against the code's own
/// numbers: which speaker selects, which epochs may be chosen, when training stops, which statistics normalise each
/// split, what the loss is, which fold becomes model.ser and how a fixed-length utterance's pieces vote. Written
/// against the settings (warm-up, patience, loss normaliser, length weight), so changing a default changes no test.
/// </summary>
public sealed class ProtocolTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("ser-protocol-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    // ---- the selection rule ------------------------------------------------------------------------------------------

    [Fact]
    public void Selection_takes_the_best_ua_from_the_warmup_on_and_breaks_ties_by_loss()
    {
        Assert.False(SelectionRule.Improves(epoch: 2, ua: 0.9, loss: 0.1, bestEpoch: 0, bestUA: double.NegativeInfinity, bestLoss: double.PositiveInfinity, warmup: 3));
        Assert.True(SelectionRule.Improves(3, 0.1, 9, 0, double.NegativeInfinity, double.PositiveInfinity, warmup: 3));   // first candidate
        Assert.True(SelectionRule.Improves(1, 0.1, 9, 0, double.NegativeInfinity, double.PositiveInfinity, warmup: 0));   // no warm-up
        Assert.True(SelectionRule.Improves(5, 0.6, 1.0, 4, 0.5, 0.5, warmup: 3));
        Assert.False(SelectionRule.Improves(5, 0.4, 0.1, 4, 0.5, 0.5, warmup: 3));
        Assert.True(SelectionRule.Improves(5, 0.5, 0.4, 4, 0.5, 0.5, warmup: 3));    // tie: lower loss wins
        Assert.False(SelectionRule.Improves(5, 0.5, 0.5, 4, 0.5, 0.5, warmup: 3));   // full tie: the earlier epoch stays
    }

    [Fact]
    public void Selection_scores_a_speaker_by_ua()
    {
        var m = new ConfusionMatrix(["a", "b"]);
        m.Add(0, 0, 90);   // class a: 90 of 90 right
        m.Add(1, 0, 10);   // class b: 0 of 10 right -> WA 0.9, UA 0.5
        Assert.Equal(0.5, SelectionRule.Score(m), 12);
    }

    [Fact]
    public void Training_stops_exactly_when_every_direction_is_patience_epochs_past_its_best()
    {
        Assert.False(SelectionRule.Stop(epoch: 7, epochs: 30, patience: 3, 5, 4));   // direction 1 is only 2 past
        Assert.True(SelectionRule.Stop(epoch: 8, epochs: 30, patience: 3, 5, 4));
        Assert.False(SelectionRule.Stop(epoch: 8, epochs: 30, patience: 0, 1, 1));   // 0 = never stop early
        Assert.False(SelectionRule.Stop(epoch: 9, epochs: 30, patience: 3, 0, 1));   // no candidate yet (warm-up)
        Assert.False(SelectionRule.Stop(epoch: 30, epochs: 30, patience: 3, 1, 1));  // the last epoch is not an early stop
    }

    [Fact]
    public void Model_ser_is_the_fold_with_the_best_validation_ua_not_the_best_test_ua()
    {
        var folds = new[] { Result(1, validationUA: 0.5, testUA: 0.9), Result(2, validationUA: 0.7, testUA: 0.3), Result(3, validationUA: 0.7, testUA: 0.8) };
        Assert.Equal(2, ExperimentRunner.ChooseModel(folds).Fold);   // ties go to the earlier fold
    }

    static FoldResult Result(int fold, double validationUA, double testUA)
    {
        var test = new ConfusionMatrix(["a", "b"]);
        test.Add(0, 0, (long)(100 * testUA));
        test.Add(0, 1, 100 - (long)(100 * testUA));
        return new FoldResult
        {
            Fold = fold, TestSession = "S", ValidationSpeaker = "V", TestSpeaker = "T", BestEpoch = 1, BestValidationUA = validationUA,
            Test = test, History = [], CheckpointPath = $"fold{fold}/best.ser",
        };
    }

    /// <summary>Every random stream of a run comes from Seeds.Mix: a changed mix would silently make committed runs
    /// unresumable and results irreproducible. The values are from an independent 64-bit reimplementation (Python).</summary>
    [Fact]
    public void Seed_derivation_is_pinned()
    {
        Assert.Equal(13275774287087186396UL, Seeds.Mix(1, 1, 1));
        Assert.Equal(175353555317680693UL, Seeds.Mix(5, 3, 1001));
        Assert.Equal(6806641260867889252UL, Seeds.Mix(42, 2, 2));
        Assert.Equal(17278252541375943522UL, Seeds.Mix(-1, 5, 1030));
    }

    /// <summary>The loss a fold trains with: the batch's own weight sum (--loss-normalizer batch), or B x the training
    /// split's mean weight, with or without the 1/length factor (--length-weight).</summary>
    [Fact]
    public void The_loss_normaliser_is_the_mean_weight_of_the_training_split()
    {
        string corpusSpec = TinyCorpus.Write(Path.Combine(_dir, "corpus"), sessions: 3, perClass: [3, 1, 1, 2]);
        var corpus = CorpusSpec.Load(corpusSpec);
        var fold = Folds.LeaveOneSessionOut(corpus)[0];
        var cache = FeatureCache.Compute(corpus);
        var settings = new TrainingSettings { Corpus = corpusSpec, Preset = "tiny", CustomModel = TinyCorpus.Model, BatchSize = 4 };
        var train = SplitFeeder.Create(LengthMode.Variable, cache, fold.Train, cache.Statistics(fold.Train), settings.BatchSize);
        var counts = train.ClassCounts(corpus.Classes.Count);
        Assert.True(counts.Distinct().Count() > 1);

        Assert.Equal(new LossOptions { LengthWeight = false }, FoldTrainer.LossFor(settings with { LossNormalizer = LossNormalizer.Batch, LengthWeight = false }, train, counts));
        Assert.Equal(new LossOptions { LengthWeight = true }, FoldTrainer.LossFor(settings with { LossNormalizer = LossNormalizer.Batch }, train, counts));
        var plain = FoldTrainer.LossFor(settings with { LengthWeight = false }, train, counts);
        Assert.False(plain.LengthWeight);
        Assert.Equal(4 * fold.Train.Average(i => 1.0 / counts[cache.Label(i)]), plain.Normalizer, 1e-12);
        var weighted = FoldTrainer.LossFor(settings, train, counts);
        Assert.True(weighted.LengthWeight);
        Assert.Equal(4 * fold.Train.Average(i => 1.0 / (cache.Frames(i) * (double)counts[cache.Label(i)])), weighted.Normalizer, 1e-12 * weighted.Normalizer);
    }

    // ---- one fold, end to end, recomputed ----------------------------------------------------------------------------

    /// <summary>
    /// A fold on an uneven tiny corpus (3 neutral utterances per speaker to 1 of each other class, so UA and WA
    /// disagree), with warm-up and patience small enough to act within the budget. Every recorded number is then
    /// recomputed from the saved checkpoints and the corpus.
    /// </summary>
    [Fact]
    public void A_fold_selects_stops_normalises_and_weighs_as_the_protocol_says()
    {
        string corpusSpec = TinyCorpus.Write(Path.Combine(_dir, "corpus"), sessions: 3, perClass: [3, 1, 1, 2]);
        var settings = new TrainingSettings
        {
            Corpus = corpusSpec, Preset = "tiny", CustomModel = TinyCorpus.Model with { Dropout = 0 }, Folds = [1],
            Epochs = 12, WarmupEpochs = 7, Patience = 2, BatchSize = 4, Seed = 1, LearningRate = 3e-3,
        };
        var progress = new Recorder { FoldDir = Path.Combine(_dir, "run", "fold1") };
        var report = ExperimentRunner.Run(settings, new RunOptions { OutputDirectory = Path.Combine(_dir, "run"), Threads = 1 }, progress,
            TestContext.Current.CancellationToken);
        var result = Assert.Single(report.Folds);
        var history = result.History;
        int warmup = settings.Warmup;

        // Selection: the designated validation speaker's UA over epochs >= warm-up (ties: lower loss); the reverse
        // direction's by the test speaker's UA. Then stopping, recomputed from the history with the rule as documented.
        int best = ArgBest(history, warmup, h => h.ValidationUA, h => h.ValidationLoss);
        int reverseBest = ArgBest(history, warmup, h => h.TestUA, h => h.TestLoss);
        Assert.Equal(best, result.BestEpoch);
        Assert.Equal(reverseBest, result.Reverse!.BestEpoch);
        // Without this the test could not tell the rules apart (no warm-up would pick the same epochs). That the score is
        // UA, not WA, is Selection_scores_a_speaker_by_ua's job: on 7 validation utterances the two rarely disagree.
        string seen = string.Join("; ", history.Select(h => $"{h.Epoch}: UA {h.ValidationUA:F3}/{h.TestUA:F3} WA {h.ValidationWA:F3}/{h.TestWA:F3}"));
        Assert.True(ArgBest(history, 1, h => h.ValidationUA, h => h.ValidationLoss) != best || ArgBest(history, 1, h => h.TestUA, h => h.TestLoss) != reverseBest,
            $"the warm-up changes no choice: {seen}");
        Assert.Equal(ExpectedStop(history, warmup, settings.Patience, settings.Epochs), history.Count);
        // Seed 1 stops early (epoch 10 of 12 on the Vector512, Vector256 and scalar paths): then the chosen epochs are not
        // the last one, so scoring the last epoch's weights instead of the chosen ones would show.
        Assert.True(history.Count < settings.Epochs, $"the run must stop early for this test to check stopping: {seen}");
        Assert.All(history, h => Assert.InRange(h.TrainAccuracy, 0, 1));
        Assert.Contains(history, h => h.TrainAccuracy > 0);
        Assert.All(history, h => Assert.True(h.Seconds > 0, $"epoch {h.Epoch} took {h.Seconds} s"));

        // The splits: validation = the fold's validation speaker, test = its test speaker, both normalised with the
        // training split's statistics; the recorded losses of the last epoch come back from last.ser exactly.
        var corpus = CorpusSpec.Load(corpusSpec);
        var fold = Folds.LeaveOneSessionOut(corpus)[0];
        var cache = FeatureCache.Compute(corpus);
        var stats = cache.Statistics(fold.Train);
        var labels = corpus.Classes;
        var validation = SplitFeeder.Create(settings.Mode, cache, fold.Validation, stats, settings.BatchSize);
        var test = SplitFeeder.Create(settings.Mode, cache, fold.Test, stats, settings.BatchSize);
        Assert.All(fold.Validation, i => Assert.Equal(result.ValidationSpeaker, corpus.Utterances[i].Speaker));
        Assert.All(fold.Test, i => Assert.Equal(result.TestSpeaker, corpus.Utterances[i].Speaker));
        string foldDir = Path.Combine(_dir, "run", "fold1");
        using (var last = Load(Path.Combine(foldDir, "last.ser"), settings))
        {
            Assert.Equal(history[^1].ValidationLoss, validation.Evaluate(last, labels, TestContext.Current.CancellationToken).Loss, 1e-9);
            Assert.Equal(history[^1].TestLoss, test.Evaluate(last, labels, TestContext.Current.CancellationToken).Loss, 1e-9);
        }
        using (var chosen = Load(Path.Combine(foldDir, "best.ser"), settings))
            Assert.Equal(test.Evaluate(chosen, labels, TestContext.Current.CancellationToken).Confusion.ToJaggedCounts(), result.Test.ToJaggedCounts());
        // Calibration: T is fitted on the validation speaker's posteriors of the chosen model only and stored in best.ser;
        // the test speaker's reliability before (T = 1) and after is recomputed here.
        using (var chosen = Load(Path.Combine(foldDir, "best.ser"), settings))
        {
            var selecting = validation.Evaluate(chosen, labels, TestContext.Current.CancellationToken);
            var tested = test.Evaluate(chosen, labels, TestContext.Current.CancellationToken);
            float temperature = Calibration.FitTemperature(selecting.Posteriors, validation.Labels());
            Assert.True(settings.Calibrate);
            Assert.Equal(temperature, Checkpoint.Load(Path.Combine(foldDir, "best.ser")).Temperature, 1e-6f * temperature);
            Assert.NotEqual(Calibration.FitTemperature(tested.Posteriors, test.Labels()), temperature, 1e-3f * temperature);   // could tell the speakers apart
            var calibration = result.Calibration!;
            Assert.Equal(temperature, calibration.Temperature, 1e-6 * temperature);
            var calibrated = tested.Posteriors.ToArray();
            for (int u = 0; u < fold.Test.Length; u++) Calibration.ApplyTemperature(calibrated.AsSpan(u * labels.Count, labels.Count), temperature);
            Assert.Equal(Reliability.Of(tested.Posteriors, test.Labels()).NllSum, calibration.Before.NllSum, 1e-6);
            Assert.Equal(Reliability.Of(calibrated, test.Labels()).NllSum, calibration.After.NllSum, 1e-6);
        }
        using (var reverse = Load(Path.Combine(foldDir, "best-reverse.ser"), settings))
            Assert.Equal(validation.Evaluate(reverse, labels, TestContext.Current.CancellationToken).Confusion.ToJaggedCounts(), result.Reverse.Test.ToJaggedCounts());

        // What each checkpoint says about itself: which speaker chose its epoch and which one it may be scored on, and
        // no optimizer state in the chosen models (only last.ser continues training), at every epoch of the run.
        var chosenMeta = Checkpoint.Load(Path.Combine(foldDir, "best.ser"));
        var reverseMeta = Checkpoint.Load(Path.Combine(foldDir, "best-reverse.ser"));
        Assert.Equal(Describes(settings, corpusSpec, fold, result.BestEpoch, result.BestValidationUA, result.ValidationSpeaker, result.TestSpeaker),
            Describes(chosenMeta));
        Assert.Equal(Describes(settings, corpusSpec, fold, result.Reverse.BestEpoch, result.Reverse.SelectorUA, result.TestSpeaker, result.ValidationSpeaker),
            Describes(reverseMeta));
        Assert.Equal((result.ValidationSpeaker, result.TestSpeaker), (result.Reverse.Tested, result.Reverse.Selector));
        Assert.False(chosenMeta.HasOptimizerState);
        Assert.False(reverseMeta.HasOptimizerState);
        Assert.True(Checkpoint.Load(Path.Combine(foldDir, "last.ser")).HasOptimizerState);
        Assert.Equal(history.Count, progress.ChosenHadOptimizer.Count);
        Assert.DoesNotContain(true, progress.ChosenHadOptimizer);
        // Calibration rewrites best.ser from the executor: it must hold the best epoch's weights then, not the last epoch's.
        var finalWeights = chosenMeta.Parameters;
        Assert.Equal(progress.BestWeights!.Keys.Order(), finalWeights.Keys.Order());
        Assert.All(progress.BestWeights, p => Assert.True(p.Value.AsSpan().SequenceEqual(finalWeights[p.Key]), $"{p.Key} is not the best epoch's"));

        // The loss of the first training batch, from the formula: w_b = 1 / (V_b n_{y_b}) with the training split's class
        // counts, divided by B x the mean w over the training split (settings.LossNormalizer = split).
        Assert.Equal(LossNormalizer.Split, settings.LossNormalizer);
        var train = SplitFeeder.Create(settings.Mode, cache, fold.Train, stats, settings.BatchSize);
        var counts = new float[labels.Count];
        foreach (int i in fold.Train) counts[cache.Label(i)]++;
        double meanW = fold.Train.Average(i => 1.0 / (cache.Frames(i) * (double)counts[cache.Label(i)]));
        var batch = train.CreateBatch();
        train.Fill(batch, train.Epoch((int)(Seeds.Mix(settings.Seed, 1, 1001) & 0x7FFF_FFFF))[0]);
        using var fresh = Executor.Create(settings.Model(labels.Count), new ExecutorOptions { MaxBatch = settings.BatchSize, MaxFrames = train.MaxFrames, Threads = 1 });
        fresh.InitializeParameters(Seeds.Mix(settings.Seed, 1, 1));
        var logits = new float[batch.Count * labels.Count];
        fresh.Evaluate(batch, default, logits);
        double expected = 0;
        for (int b = 0; b < batch.Count; b++)
        {
            var row = logits.AsSpan(b * labels.Count, labels.Count).ToArray();
            double max = row.Max(), logSum = Math.Log(row.Sum(z => Math.Exp(z - max))) + max;
            expected += (logSum - row[batch.Labels[b]]) / (batch.Lengths[b] * (double)counts[batch.Labels[b]]);
        }
        expected /= settings.BatchSize * meanW;
        Assert.True(counts.Distinct().Count() > 1, "uneven class counts, or the class weighting cannot show");
        Assert.Equal(expected, progress.FirstLoss, 1e-5 * expected);
        CheckProgress(progress, result, fold, train, settings);
    }

    /// <summary>Every progress callback of a run, in order.</summary>
    sealed class Recorder : TrainingObserver
    {
        public string? FoldDir { get; init; }
        /// <summary>Per epoch: whether best.ser or best-reverse.ser held optimizer state right after the epoch.</summary>
        public readonly List<bool> ChosenHadOptimizer = [];
        /// <summary>best.ser's weights as written by the epoch that last became the best.</summary>
        public IReadOnlyDictionary<string, float[]>? BestWeights;
        /// <summary>Per batch: seconds since its epoch was announced, by a clock outside the trainer (at least the
        /// trainer's own epoch clock, which starts after the announcement).</summary>
        public readonly List<double> WallSeconds = [];
        readonly System.Diagnostics.Stopwatch _epochClock = new();
        public readonly List<FoldPlan> Plans = [];
        public readonly List<(int Fold, int Epoch, int Batches, int Done)> EpochsStarted = [];
        public readonly List<BatchProgress> Batches = [];
        public readonly List<(int Fold, EpochRecord Record, bool Improved, bool Stopping)> EpochsCompleted = [];
        public readonly List<FoldResult> Folds = [];
        public double FirstLoss => Batches.First(b => b.Epoch == 1 && b.Batch == 1).Loss;
        public override void FoldStarted(FoldPlan plan) => Plans.Add(plan);
        public override void EpochStarted(int fold, int epoch, int batches, int done)
        {
            EpochsStarted.Add((fold, epoch, batches, done));
            _epochClock.Restart();
        }
        public override void BatchCompleted(BatchProgress p)
        {
            WallSeconds.Add(_epochClock.Elapsed.TotalSeconds);
            Batches.Add(p);
        }
        public override void EpochCompleted(int fold, EpochRecord record, bool improved, bool stopping)
        {
            EpochsCompleted.Add((fold, record, improved, stopping));
            if (FoldDir is null) return;
            ChosenHadOptimizer.Add(new[] { "best.ser", "best-reverse.ser" }.Select(f => Path.Combine(FoldDir, f))
                .Any(f => File.Exists(f) && Checkpoint.Load(f).HasOptimizerState));
            if (improved) BestWeights = Checkpoint.Load(Path.Combine(FoldDir, "best.ser")).Parameters;
        }
        public override void FoldCompleted(FoldResult result) => Folds.Add(result);
    }

    /// <summary>What a progress display is told: the fold's plan, each epoch and batch in order with the running mean loss
    /// and the samples it has seen, which epochs became the best so far, and the stop.</summary>
    static void CheckProgress(Recorder seen, FoldResult result, Fold fold, SplitFeeder train, TrainingSettings settings)
    {
        var plan = Assert.Single(seen.Plans);
        int batchesPerEpoch = train.Epoch((int)(Seeds.Mix(settings.Seed, fold.Number, 1001) & 0x7FFF_FFFF)).Count;
        Assert.Equal(new FoldPlan(fold.Number, 0, 1, fold.HeldOutSession, result.ValidationSpeaker, result.TestSpeaker, fold.Train.Length,
            fold.Validation.Length, fold.Test.Length, train.SampleCount, 1, settings.Epochs, batchesPerEpoch), plan);
        var history = result.History;
        Assert.Equal(history.Select(h => (fold.Number, h.Epoch, batchesPerEpoch, 0)), seen.EpochsStarted);
        Assert.Equal(history.Count * batchesPerEpoch, seen.Batches.Count);
        foreach (var epoch in seen.Batches.GroupBy(b => b.Epoch))
        {
            var batches = epoch.ToList();
            Assert.Equal(Enumerable.Range(1, batchesPerEpoch), batches.Select(b => b.Batch));
            Assert.All(batches, b => Assert.Equal((fold.Number, batchesPerEpoch), (b.Fold, b.Batches)));
            Assert.Equal(train.SampleCount, batches.Sum(b => b.Samples));
            for (int i = 0; i < batches.Count; i++)
                Assert.Equal(batches.Take(i + 1).Average(b => b.Loss), batches[i].MeanLoss, 1e-12 * batches[i].MeanLoss);
            Assert.Equal(batches.Average(b => b.Loss), history[epoch.Key - 1].TrainLoss, 1e-12 * history[epoch.Key - 1].TrainLoss);
            Assert.All(batches, b => Assert.True(b.SamplesPerSecond > 0 && b.AudioSecondsPerSecond > 0 && double.IsFinite(b.SamplesPerSecond)));
            var last = batches[^1];
            Assert.True(last.AudioSecondsPerSecond < last.SamplesPerSecond * 30, "audio seconds per second: frames / 100, not frames");
            // Rates over the epoch so far: at least samples (audio) done / the outside clock, and physically possible; every
            // utterance holds at least 0.3 s of audio, so audio seconds per second >= 0.2 x samples per second.
            int first = seen.Batches.IndexOf(batches[0]), done = 0;
            for (int i = 0; i < batches.Count; i++)
            {
                done += batches[i].Samples;
                double wall = seen.WallSeconds[first + i];
                Assert.True(batches[i].SamplesPerSecond >= done / wall * (1 - 1e-9), $"{batches[i].SamplesPerSecond} samples/s, but {done} in {wall} s");
                Assert.True(batches[i].SamplesPerSecond < 1e8, $"{batches[i].SamplesPerSecond} samples/s");
                Assert.True(batches[i].AudioSecondsPerSecond >= 0.2 * batches[i].SamplesPerSecond, $"{batches[i].AudioSecondsPerSecond} audio s/s");
            }
        }
        for (int e = 1; e <= history.Count; e++)
        {
            var (f, record, improved, stopping) = seen.EpochsCompleted[e - 1];
            Assert.Equal((fold.Number, history[e - 1]), (f, record));
            int best = ArgBest(history.Take(e).ToList(), settings.Warmup, h => h.ValidationUA, h => h.ValidationLoss);
            Assert.Equal(best == e, improved);   // this epoch became the best so far (best.ser was written)
            Assert.Equal(e == history.Count && history.Count < settings.Epochs, stopping);
        }
        var completed = Assert.Single(seen.Folds);
        Assert.Equal((result.Fold, result.BestEpoch, result.Reverse!.BestEpoch), (completed.Fold, completed.BestEpoch, completed.Reverse!.BestEpoch));
        Assert.Equal(result.Test.ToJaggedCounts(), completed.Test.ToJaggedCounts());
    }

    static readonly string[] DescriptionKeys = ["length_mode", "preset", "corpus", "fold", "test_session", "validation_speakers",
        "test_speakers", "best_epoch", "validation_ua", "selected_by", "scored_on"];

    static string Describes(Checkpoint checkpoint) =>
        string.Join("\n", DescriptionKeys.Select(k => $"{k}={checkpoint.Metadata.GetValueOrDefault(k)}"));

    static string Describes(TrainingSettings settings, string corpus, Fold fold, int epoch, double selectorUA, string selector, string scored) =>
        string.Join("\n", DescriptionKeys.Zip(new[]
        {
            "variable", settings.Preset, corpus, fold.Number.ToString(System.Globalization.CultureInfo.InvariantCulture), fold.HeldOutSession,
            string.Join(",", fold.ValidationSpeakers), string.Join(",", fold.TestSpeakers), epoch.ToString(System.Globalization.CultureInfo.InvariantCulture),
            selectorUA.ToString("R", System.Globalization.CultureInfo.InvariantCulture), selector, scored,
        }, (k, v) => $"{k}={v}"));

    static Executor Load(string path, TrainingSettings settings)
    {
        var checkpoint = Checkpoint.Load(path);
        var executor = checkpoint.CreateExecutor(new ExecutorOptions { MaxBatch = settings.BatchSize, MaxFrames = 400, Threads = 1, Training = false });
        checkpoint.ApplyTo(executor, includeOptimizer: false);
        return executor;
    }

    static int ArgBest(IReadOnlyList<EpochRecord> history, int warmup, Func<EpochRecord, double> ua, Func<EpochRecord, double> loss)
    {
        EpochRecord? best = null;
        foreach (var h in history.Where(h => h.Epoch >= Math.Max(1, warmup)))
            if (best is null || ua(h) > ua(best) || (ua(h) == ua(best) && loss(h) < loss(best))) best = h;
        return best?.Epoch ?? 0;
    }

    /// <summary>The epoch training ends at: the first e below the budget where both directions' bests (among candidates
    /// up to e) are at least patience epochs back, else the budget.</summary>
    static int ExpectedStop(IReadOnlyList<EpochRecord> history, int warmup, int patience, int epochs)
    {
        for (int e = 1; e < epochs; e++)
        {
            var seen = history.Take(e).ToList();
            int a = ArgBest(seen, warmup, h => h.ValidationUA, h => h.ValidationLoss), b = ArgBest(seen, warmup, h => h.TestUA, h => h.TestLoss);
            if (patience > 0 && a > 0 && b > 0 && e - a >= patience && e - b >= patience) return e;
        }
        return epochs;
    }

    // ---- fixed-length voting ---------------------------------------------------------------------------------------

    [Fact]
    public void A_fixed_length_utterance_averages_its_pieces_posteriors_not_their_logits()
    {
        var corpus = CorpusSpec.Load(TinyCorpus.Write(Path.Combine(_dir, "corpus"), sessions: 2));
        var cache = FeatureCache.Compute(corpus);
        int[] longOnes = Enumerable.Range(0, cache.Count).Where(i => cache.Frames(i) > FixedLengthPieces.Frames).ToArray();
        Assert.NotEmpty(longOnes);
        var stats = cache.Statistics(Enumerable.Range(0, cache.Count));
        var feeder = SplitFeeder.Create(LengthMode.Fixed, cache, longOnes, stats, batchSize: 1);
        using var executor = Executor.Create(TinyCorpus.Model with { Classes = 4 },
            new ExecutorOptions { MaxBatch = 1, MaxFrames = FixedLengthPieces.Frames, Threads = 1, Training = false });
        executor.InitializeParameters(7, Ser.Engine.Models.InitMode.AllPathsLive);   // the default zero classifier gives every piece the same posterior
        var scores = feeder.Evaluate(executor, corpus.Classes, TestContext.Current.CancellationToken);

        // Expected: each piece alone through the model, softmax, then the mean of the pieces' posteriors.
        var batch = feeder.CreateBatch();
        var sums = new double[longOnes.Length * 4];
        var pieces = new int[longOnes.Length];
        var logits = new float[4];
        var posterior = new float[4];
        double spread = 0;
        foreach (var members in feeder.Epoch(null))
        {
            feeder.Fill(batch, members);
            executor.Evaluate(batch, default, logits);
            Executor.Softmax(logits, posterior);
            int u = feeder.Owner(batch.Indices[0]);
            if (pieces[u] > 0) spread = Math.Max(spread, Math.Abs(posterior[0] - sums[u * 4] / pieces[u]));
            for (int k = 0; k < 4; k++) sums[u * 4 + k] += posterior[k];
            pieces[u]++;
        }
        Assert.True(spread > 1e-3, $"pieces must disagree for the test to tell posterior from logit averaging (spread {spread})");
        for (int i = 0; i < sums.Length; i++)
            Assert.Equal(sums[i] / pieces[i / 4], scores.Posteriors[i], 1e-6);

        // The utterance's prediction is the argmax of that mean, its loss the mean of -log(mean posterior of the label).
        var expected = new ConfusionMatrix(corpus.Classes);
        double loss = 0;
        for (int u = 0; u < longOnes.Length; u++)
        {
            var row = scores.Posteriors.AsSpan(u * 4, 4).ToArray();
            int label = cache.Label(longOnes[u]);
            expected.Add(label, Array.IndexOf(row, row.Max()));
            loss -= Math.Log(row[label]);
        }
        Assert.Equal(expected.ToJaggedCounts(), scores.Confusion.ToJaggedCounts());
        Assert.Equal(loss / longOnes.Length, scores.Loss, 1e-9);
        Assert.Equal(longOnes.Select(cache.Label), feeder.Labels());
        Assert.ThrowsAny<OperationCanceledException>(() => feeder.Evaluate(executor, corpus.Classes, new CancellationToken(canceled: true)));
    }
}
