namespace Ser.Engine.Experiments;

/// <summary>What a fold is about to do (for progress displays).</summary>
/// <param name="Fold">1-based fold number.</param>
/// <param name="Position">0-based position among the run's selected folds.</param>
/// <param name="Count">Selected folds in the run.</param>
/// <param name="StartEpoch">First epoch this call trains (greater than 1 when resumed).</param>
/// <param name="BatchesPerEpoch">Training batches per epoch.</param>
public sealed record FoldPlan(int Fold, int Position, int Count, string TestSession, string ValidationSpeaker, string TestSpeaker,
    int TrainUtterances, int ValidationUtterances, int TestUtterances, int TrainSamples, int StartEpoch, int MaxEpochs, int BatchesPerEpoch);

/// <summary>One training step's progress.</summary>
/// <param name="Batch">1-based batch number within the epoch.</param>
/// <param name="MeanLoss">Mean training loss of the epoch's batches so far.</param>
/// <param name="SamplesPerSecond">Training samples (utterances or pieces) per second in this epoch so far.</param>
public readonly record struct BatchProgress(int Fold, int Epoch, int Batch, int Batches, int Samples, double Loss, double MeanLoss,
    double SamplesPerSecond, double AudioSecondsPerSecond);

/// <summary>
/// Progress callbacks of <see cref="ExperimentRunner"/>, called on the training thread (a display should only record and
/// render; it must not block long). All methods do nothing by default.
/// </summary>
public abstract class TrainingObserver
{
    /// <summary>A status line (feature extraction, resume notes, fold skipped because finished...).</summary>
    public virtual void Message(string text) { }
    public virtual void FoldStarted(FoldPlan plan) { }
    public virtual void EpochStarted(int fold, int epoch, int batches, int batchesAlreadyDone) { }
    public virtual void BatchCompleted(BatchProgress progress) { }
    /// <param name="improved">This epoch's weights are the fold's best so far (saved as best.ser).</param>
    /// <param name="stopping">Early stopping ends the fold after this epoch.</param>
    public virtual void EpochCompleted(int fold, EpochRecord record, bool improved, bool stopping) { }
    public virtual void FoldCompleted(FoldResult result) { }
}
