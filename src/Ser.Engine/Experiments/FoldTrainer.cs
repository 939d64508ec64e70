using System.Diagnostics;
using System.Globalization;
using Ser.Engine.Checkpoints;
using Ser.Engine.Data;
using Ser.Engine.Features;
using Ser.Engine.Training;

namespace Ser.Engine.Experiments;

/// <summary>
/// Trains and tests one leave-one-session-out fold (the paper's protocol):
/// <list type="number">
/// <item>feature statistics, loss class counts and the loss normaliser from the fold's training split only;</item>
/// <item>each epoch: one pass over the training split in a seeded, length-bucketed order (Adam), then both held-out
///   speakers are scored;</item>
/// <item>two directions from the one training run (<see cref="SelectionRule"/>): the validation speaker selects the
///   epoch tested on the test speaker (fold{k}/best.ser, the fold's model), and the test speaker selects the epoch
///   tested on the validation speaker (fold{k}/best-reverse.ser); a direction never looks at the speaker it tests;</item>
/// <item>no epoch before the warm-up is a candidate; early stopping once both directions went
///   <see cref="TrainingSettings.Patience"/> epochs without a better UA;</item>
/// <item>each direction's weights are scored once on its tested speaker.</item>
/// </list>
/// fold{k}/last.ser (weights, Adam state, <see cref="FoldProgress"/>) is written after every epoch and when a cancel
/// request stops training between two batches, so a killed run loses at most one epoch and a cancelled one nothing.
/// Everything random comes from (seed, fold): same settings on the CPU give bit-identical weights, resumed or not.
/// </summary>
internal sealed class FoldTrainer(TrainingSettings settings, Fold fold, int position, int foldCount, FeatureCache cache,
    IReadOnlyList<string> labels, string foldDir, ExecutorOptions executorOptions, TrainingObserver observer)
{
    public const string BestFile = "best.ser", ReverseFile = "best-reverse.ser", LastFile = "last.ser";

    public string BestPath => Path.Combine(foldDir, BestFile);
    public string ReversePath => Path.Combine(foldDir, ReverseFile);
    public string LastPath => Path.Combine(foldDir, LastFile);

    /// <summary>Runs the fold (continuing from last.ser when <paramref name="resume"/> and it exists).
    /// A cancel request throws <see cref="OperationCanceledException"/> after last.ser is written.</summary>
    public FoldResult Run(bool resume, CancellationToken cancel)
    {
        var stats = cache.Statistics(fold.Train);               // training split only
        var train = SplitFeeder.Create(settings.Mode, cache, fold.Train, stats, settings.BatchSize, settings.Split);
        var validation = SplitFeeder.Create(settings.Mode, cache, fold.Validation, stats, settings.BatchSize, settings.Split);
        var test = SplitFeeder.Create(settings.Mode, cache, fold.Test, stats, settings.BatchSize, settings.Split);
        float[] classCounts = train.ClassCounts(labels.Count);
        var loss = LossFor(settings, train, classCounts);
        var config = settings.Model(labels.Count);

        int maxFrames = Math.Max(train.MaxFrames, Math.Max(validation.MaxFrames, test.MaxFrames));
        using var executor = Executor.Create(config, executorOptions with
        {
            MaxBatch = settings.BatchSize,
            MaxFrames = maxFrames,
            Training = true,
            DropoutSeed = Seeds.Mix(settings.Seed, fold.Number, 2),
        });
        executor.Adam = new AdamOptions { LearningRate = settings.LearningRate, ClipNorm = settings.ClipNorm };
        executor.Loss = loss;

        var progress = new FoldProgress();
        if (resume && File.Exists(LastPath))
        {
            var last = Checkpoint.Load(LastPath);
            CheckBelongs(last);
            last.ApplyTo(executor, includeOptimizer: true);
            progress = FoldProgress.FromJson(last.Metadata.GetValueOrDefault("fold_progress") ?? "", LastPath);
            observer.Message($"fold {fold.Number}: resuming after epoch {progress.CompletedEpochs}" +
                             (progress.BatchesDone > 0 ? $" and {progress.BatchesDone} batches of epoch {progress.CompletedEpochs + 1}" : ""));
        }
        else
        {
            executor.InitializeParameters(Seeds.Mix(settings.Seed, fold.Number, 1));
        }
        Directory.CreateDirectory(foldDir);

        var trainBatch = train.CreateBatch();
        var plan = new FoldPlan(fold.Number, position, foldCount, fold.HeldOutSession, Join(fold.ValidationSpeakers), Join(fold.TestSpeakers),
            fold.Train.Length, fold.Validation.Length, fold.Test.Length, train.SampleCount, progress.CompletedEpochs + 1, settings.Epochs,
            train.Epoch(EpochSeed(1)).Count);
        observer.FoldStarted(plan);

        while (!progress.Stopped && progress.CompletedEpochs < settings.Epochs)
        {
            cancel.ThrowIfCancellationRequested();   // last.ser already holds the finished epochs
            int epoch = progress.CompletedEpochs + 1;
            var batches = train.Epoch(EpochSeed(epoch));
            observer.EpochStarted(fold.Number, epoch, batches.Count, progress.BatchesDone);
            var clock = Stopwatch.StartNew();
            double seconds0 = progress.EpochSeconds;
            double audioFrames = 0;
            for (int b = progress.BatchesDone; b < batches.Count; b++)
            {
                if (cancel.IsCancellationRequested)
                {
                    progress.EpochSeconds = seconds0 + clock.Elapsed.TotalSeconds;
                    SaveLast(executor, stats, progress);
                    cancel.ThrowIfCancellationRequested();
                }
                if (b + 1 < batches.Count) train.Prefetch(batches[b + 1]);   // a mapped store pages it in meanwhile
                train.Fill(trainBatch, batches[b]);
                var step = executor.TrainStep(trainBatch, classCounts);
                if (!double.IsFinite(step.Loss))
                    throw new SerException($"fold {fold.Number}, epoch {epoch}: the training loss became {step.Loss} (try a lower --lr)");
                progress.BatchesDone = b + 1;
                progress.EpochLossSum += step.Loss;
                progress.EpochCorrect += step.Correct;
                progress.EpochSamples += step.Count;
                for (int i = 0; i < trainBatch.Count; i++) audioFrames += trainBatch.Lengths[i];   // input frames (a piece counts 3 s)
                double elapsed = Math.Max(1e-9, clock.Elapsed.TotalSeconds);
                observer.BatchCompleted(new BatchProgress(fold.Number, epoch, b + 1, batches.Count, step.Count, step.Loss,
                    progress.EpochLossSum / progress.BatchesDone, (progress.EpochSamples) / (elapsed + seconds0),
                    audioFrames / 100.0 / elapsed));
            }

            var scores = validation.Evaluate(executor, labels);
            var other = test.Evaluate(executor, labels);
            double ua = SelectionRule.Score(scores.Confusion), wa = scores.Confusion.WeightedAccuracy;
            double otherUA = SelectionRule.Score(other.Confusion);
            var record = new EpochRecord(epoch, progress.EpochLossSum / Math.Max(1, progress.BatchesDone),
                (double)progress.EpochCorrect / Math.Max(1, progress.EpochSamples), scores.Loss, ua, wa,
                seconds0 + clock.Elapsed.TotalSeconds, other.Loss, otherUA, other.Confusion.WeightedAccuracy);
            progress.History.Add(record);
            int warmup = settings.Warmup;
            bool improved = SelectionRule.Improves(epoch, ua, scores.Loss, progress.BestEpoch, progress.BestValidationUA, progress.BestValidationLoss, warmup);
            if (improved)
            {
                progress.BestEpoch = epoch;
                progress.BestValidationUA = ua;
                progress.BestValidationLoss = scores.Loss;
                Checkpoint.Save(BestPath, executor, labels, stats, Metadata(epoch, ua), includeOptimizer: false, epoch: epoch);
            }
            if (SelectionRule.Improves(epoch, otherUA, other.Loss, progress.ReverseBestEpoch, progress.ReverseBestUA, progress.ReverseBestLoss, warmup))
            {
                progress.ReverseBestEpoch = epoch;
                progress.ReverseBestUA = otherUA;
                progress.ReverseBestLoss = other.Loss;
                Checkpoint.Save(ReversePath, executor, labels, stats, Metadata(epoch, otherUA, reverse: true), includeOptimizer: false, epoch: epoch);
            }
            progress.CompletedEpochs = epoch;
            progress.BatchesDone = 0;
            progress.EpochLossSum = 0;
            progress.EpochCorrect = progress.EpochSamples = 0;
            progress.EpochSeconds = 0;
            if (SelectionRule.Stop(epoch, settings.Epochs, settings.Patience, progress.BestEpoch, progress.ReverseBestEpoch))
                progress.Stopped = true;
            SaveLast(executor, stats, progress);
            observer.EpochCompleted(fold.Number, record, improved, progress.Stopped);
        }

        // The chosen model: the best epoch's weights, calibrated on the validation speaker, scored once on the test speaker.
        var best = Checkpoint.Load(BestPath);
        CheckBelongs(best);
        best.ApplyTo(executor, includeOptimizer: false);
        var testScores = test.Evaluate(executor, labels);
        var calibration = Calibrate(executor, validation, test, testScores, stats, progress);
        var reverse = Checkpoint.Load(ReversePath);
        CheckBelongs(reverse);
        reverse.ApplyTo(executor, includeOptimizer: false);
        var reverseScores = validation.Evaluate(executor, labels);
        var result = new FoldResult
        {
            Fold = fold.Number,
            TestSession = fold.HeldOutSession,
            ValidationSpeaker = Join(fold.ValidationSpeakers),
            TestSpeaker = Join(fold.TestSpeakers),
            BestEpoch = progress.BestEpoch,
            BestValidationUA = progress.BestValidationUA,
            Test = testScores.Confusion,
            History = progress.History,
            CheckpointPath = Path.Combine(Path.GetFileName(foldDir), BestFile),
            Reverse = new ReverseResult(Join(fold.TestSpeakers), Join(fold.ValidationSpeakers), progress.ReverseBestEpoch,
                progress.ReverseBestUA, reverseScores.Confusion),
            Calibration = calibration,
        };
        observer.FoldCompleted(result);
        return result;
    }

    /// <summary>
    /// Temperature scaling of the chosen model (its weights are in the executor): T is fitted on the validation speaker's
    /// posteriors only (the speaker that chose the epoch; the test speaker is never looked at) and written into best.ser;
    /// the test speaker's NLL and ECE are measured before (T = 1) and after. With calibration off, T = 1 and both are equal.
    /// Re-saving best.ser with the same weights makes this step safe to repeat when a killed run resumes.
    /// </summary>
    CalibrationResult Calibrate(Executor executor, SplitFeeder validation, SplitFeeder test, SplitScores testScores, FeatureStats stats,
        FoldProgress progress)
    {
        float temperature = 1f;
        if (settings.Calibrate)
        {
            var selecting = validation.Evaluate(executor, labels);
            temperature = Inference.Calibration.FitTemperature(selecting.Posteriors, validation.Labels());
        }
        var meta = Metadata(progress.BestEpoch, progress.BestValidationUA);
        meta[Checkpoint.TemperatureKey] = temperature.ToString("R", CultureInfo.InvariantCulture);
        Checkpoint.Save(BestPath, executor, labels, stats, meta, includeOptimizer: false, epoch: progress.BestEpoch);

        var testLabels = test.Labels();
        var before = Metrics.Reliability.Of(testScores.Posteriors, testLabels);
        var calibrated = testScores.Posteriors.ToArray();
        for (int u = 0; u < testLabels.Length; u++) Inference.Calibration.ApplyTemperature(calibrated.AsSpan(u * labels.Count, labels.Count), temperature);
        return new CalibrationResult(temperature, before, Metrics.Reliability.Of(calibrated, testLabels));
    }

    int EpochSeed(int epoch) => (int)(Seeds.Mix(settings.Seed, fold.Number, 1000 + epoch) & 0x7FFF_FFFF);

    static string Join(IReadOnlyList<string> speakers) => string.Join(",", speakers);

    void SaveLast(Executor executor, FeatureStats stats, FoldProgress progress)
    {
        var meta = Metadata(progress.BestEpoch, progress.BestValidationUA);
        meta["fold_progress"] = progress.ToJson();
        Checkpoint.Save(LastPath, executor, labels, stats, meta, includeOptimizer: true, epoch: progress.CompletedEpochs);
    }

    /// <summary>
    /// The loss of the run's settings. The split normaliser is B x the mean weight over the training split's samples, a
    /// constant: a batch's loss is then on average the mean weighted CE, and a batch of long utterances (small 1/length
    /// weights) moves the model less than a batch of short ones, as the paper's per-sample weighting intends. (Dividing
    /// by the batch's own sum of weights undoes that inside length-bucketed batches.)
    /// </summary>
    internal static LossOptions LossFor(TrainingSettings settings, SplitFeeder train, float[] classCounts)
    {
        if (settings.LossNormalizer == LossNormalizer.Batch) return new LossOptions { LengthWeight = settings.LengthWeight };
        double sum = 0;
        int n = 0;
        foreach (var (frames, label) in train.Samples())
        {
            sum += 1.0 / ((settings.LengthWeight ? frames : 1) * (double)classCounts[label]);
            n++;
        }
        return new LossOptions { LengthWeight = settings.LengthWeight, Normalizer = settings.BatchSize * sum / n };
    }

    Dictionary<string, string> Metadata(int epoch, double validationUA, bool reverse = false)
    {
        var meta = new Dictionary<string, string>
        {
            ["length_mode"] = TrainingSettings.ModeName(settings.Mode),
            ["preset"] = settings.Preset,
            ["corpus"] = settings.Corpus,
            ["fold"] = fold.Number.ToString(CultureInfo.InvariantCulture),
            ["test_session"] = fold.HeldOutSession,
            ["validation_speakers"] = Join(fold.ValidationSpeakers),
            ["test_speakers"] = Join(fold.TestSpeakers),
            ["best_epoch"] = epoch.ToString(CultureInfo.InvariantCulture),
            ["validation_ua"] = validationUA.ToString("R", CultureInfo.InvariantCulture),
            // Which speaker chose this epoch: the reverse direction's selector is the designated test speaker, and the
            // speaker this model may be scored on is then the designated validation speaker.
            ["selected_by"] = Join(reverse ? fold.TestSpeakers : fold.ValidationSpeakers),
            ["scored_on"] = Join(reverse ? fold.ValidationSpeakers : fold.TestSpeakers),
            ["settings"] = System.Text.Json.JsonSerializer.Serialize(settings, TrainingSettings.JsonOptions),
        };
        if (settings.Mode == LengthMode.Fixed)
        {
            meta["piece_frames"] = FixedLengthPieces.Frames.ToString(CultureInfo.InvariantCulture);
            meta[FixedLengthPieces.SplitKey] = TrainingSettings.SplitName(settings.Split);
        }
        return meta;
    }

    /// <summary>A checkpoint of another run or fold in this folder is refused rather than silently mixed in.</summary>
    /// <remarks>Settings are compared as values, not as JSON text, so that a checkpoint written before a setting existed
    /// (its default then applies) still belongs to a run with that default.</remarks>
    void CheckBelongs(Checkpoint checkpoint)
    {
        if (!settings.Equals(ReadSettings(checkpoint.Metadata.GetValueOrDefault("settings"))) ||
            checkpoint.Metadata.GetValueOrDefault("fold") != fold.Number.ToString(CultureInfo.InvariantCulture))
            throw new SerException($"{checkpoint.Path}: belongs to a different run or fold than the one being resumed (settings differ)");
    }

    static TrainingSettings? ReadSettings(string? json)
    {
        if (json is null) return null;
        try
        {
            return System.Text.Json.JsonSerializer.Deserialize<TrainingSettings>(json, TrainingSettings.JsonOptions);
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }
}

/// <summary>
/// How a fold picks its model, the same for both length modes and both directions: an epoch is a candidate only from
/// the warm-up on (never an epoch-1 model whose validation UA was a lucky spike), the best candidate has the highest
/// UA of the selecting speaker (ties: lower loss), and training stops early only when every direction has gone
/// <c>patience</c> epochs past its best candidate (so no stop before warm-up + patience).
/// </summary>
internal static class SelectionRule
{
    /// <summary>What a selecting speaker's epoch is judged by: UA (the paper's balanced measure), not WA.</summary>
    public static double Score(Metrics.ConfusionMatrix scores) => scores.UnweightedAccuracy;

    public static bool Improves(int epoch, double ua, double loss, int bestEpoch, double bestUA, double bestLoss, int warmup) =>
        epoch >= Math.Max(1, warmup) && (bestEpoch == 0 || ua > bestUA || (ua == bestUA && loss < bestLoss));

    public static bool Stop(int epoch, int epochs, int patience, params int[] bestEpochs) =>
        patience > 0 && epoch < epochs && bestEpochs.All(best => best > 0 && epoch - best >= patience);
}

/// <summary>Derived seeds: one 64-bit value per (seed, fold, purpose), so each random stream is independent.</summary>
internal static class Seeds
{
    public static ulong Mix(int seed, int fold, int purpose)
    {
        ulong z = (ulong)(uint)seed * 0x9E3779B97F4A7C15UL ^ (ulong)(uint)fold << 32 ^ (ulong)(uint)purpose * 0xD1B54A32D192ED03UL;
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
