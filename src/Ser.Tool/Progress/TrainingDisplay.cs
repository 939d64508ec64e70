using System.Globalization;
using Ser.Engine.Experiments;
using Spectre.Console;

namespace Ser.Tool.Progress;

/// <summary>
/// Shows a training run. On a terminal: a live Spectre.Console progress display (the run's epochs with ETA, and the
/// current epoch's batches with loss, utterances/s and the last validation UA), with one permanent line per epoch
/// above it. When output is redirected (a log file, a pipe, a test): the same one line per epoch and nothing else, so
/// logs stay readable. Observer calls come from the training thread only.
/// </summary>
internal sealed class TrainingDisplay : TrainingObserver
{
    readonly IAnsiConsole _console;
    readonly bool _live;
    readonly int _totalEpochs;
    ProgressTask? _run, _epoch;
    FoldPlan? _plan;
    double _lastValidationUA = double.NaN;
    double _foldStartValue;

    /// <param name="totalEpochs">Epoch budget of the whole run (folds x epochs), the run bar's length.</param>
    public TrainingDisplay(IAnsiConsole console, int totalEpochs)
    {
        _console = console;
        _totalEpochs = Math.Max(1, totalEpochs);
        _live = console.Profile.Out.IsTerminal && console.Profile.Capabilities.Interactive && console.Profile.Capabilities.Ansi;
    }

    public bool IsLive => _live;

    /// <summary>Runs <paramref name="work"/> inside the live display (or plainly when redirected).</summary>
    public T Run<T>(Func<T> work)
    {
        if (!_live) return work();
        T result = default!;
        _console.Progress()
            .AutoClear(true)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                     new RemainingTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                _run = ctx.AddTask("run", maxValue: _totalEpochs);
                _epoch = ctx.AddTask("epoch", maxValue: 1);
                result = work();
            });
        return result;
    }

    public override void Message(string text) => _console.WriteLine(text);

    public override void FoldStarted(FoldPlan plan)
    {
        _plan = plan;
        _lastValidationUA = double.NaN;
        _console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"fold {plan.Fold} ({plan.Position + 1} of {plan.Count}): train {plan.TrainUtterances} utterances ({plan.TrainSamples} samples), " +
            $"validate {plan.ValidationSpeaker} ({plan.ValidationUtterances}), test {plan.TestSpeaker} ({plan.TestUtterances}); " +
            $"{plan.BatchesPerEpoch} batches/epoch, epochs {plan.StartEpoch}..{plan.MaxEpochs}"));
        if (_run is null) return;
        _foldStartValue = (double)plan.Position * plan.MaxEpochs;
        _run.Value = _foldStartValue + plan.StartEpoch - 1;
        _run.Description = Markup.Escape($"fold {plan.Fold} ({plan.Position + 1}/{plan.Count})");
    }

    public override void EpochStarted(int fold, int epoch, int batches, int batchesAlreadyDone)
    {
        if (_epoch is null || _plan is null) return;
        _epoch.MaxValue = batches;
        _epoch.Value = batchesAlreadyDone;
        _epoch.Description = Markup.Escape($"epoch {epoch}/{_plan.MaxEpochs}");
    }

    public override void BatchCompleted(BatchProgress p)
    {
        if (_epoch is null || _run is null) return;
        _epoch.Value = p.Batch;
        _run.Value = _foldStartValue + (p.Epoch - 1) + (double)p.Batch / p.Batches;
        string ua = double.IsNaN(_lastValidationUA) ? "-" : Pct(_lastValidationUA);
        _epoch.Description = Markup.Escape(string.Create(CultureInfo.InvariantCulture,
            $"epoch {p.Epoch}/{_plan?.MaxEpochs}  loss {p.MeanLoss:F3}  {p.SamplesPerSecond:F0} samples/s  val UA {ua}"));
    }

    public override void EpochCompleted(int fold, EpochRecord r, bool improved, bool stopping)
    {
        _lastValidationUA = r.ValidationUA;
        int max = _plan?.MaxEpochs ?? r.Epoch;
        string line = string.Create(CultureInfo.InvariantCulture,
            $"fold {fold} epoch {r.Epoch,2}/{max}: train loss {r.TrainLoss:F3} acc {Pct(r.TrainAccuracy)} | " +
            $"val UA {Pct(r.ValidationUA)} WA {Pct(r.ValidationWA)} loss {r.ValidationLoss:F3} | {r.Seconds:F1} s");
        _console.WriteLine(line + (improved ? "  * best" : "") + (stopping ? "  (early stop: patience reached)" : ""));
        if (stopping && _run is not null && _plan is not null) _run.Value = _foldStartValue + _plan.MaxEpochs;
    }

    public override void FoldCompleted(FoldResult r) =>
        _console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"fold {r.Fold} test ({r.TestSpeaker}): WA {Pct(r.Test.WeightedAccuracy)} UA {Pct(r.Test.UnweightedAccuracy)} " +
            $"(model of epoch {r.BestEpoch}, validation UA {Pct(r.BestValidationUA)})"));

    static string Pct(double x) => double.IsNaN(x) ? "-" : (100 * x).ToString("F1", CultureInfo.InvariantCulture) + "%";
}
