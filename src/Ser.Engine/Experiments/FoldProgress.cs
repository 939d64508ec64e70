using System.Text.Json;
using System.Text.Json.Serialization;

namespace Ser.Engine.Experiments;

/// <summary>
/// Where a fold's training stands, saved in fold{k}/last.ser's metadata ("fold_progress") so that --resume continues
/// exactly: epochs completed, how far into the next epoch (a Ctrl-C stops between batches), the running sums of that
/// epoch, the best epoch so far and the history. Doubles round-trip exactly through JSON.
/// </summary>
internal sealed class FoldProgress
{
    [JsonPropertyName("completed_epochs")] public int CompletedEpochs { get; set; }
    /// <summary>Batches of epoch CompletedEpochs + 1 already trained (0 at an epoch boundary).</summary>
    [JsonPropertyName("batches_done")] public int BatchesDone { get; set; }
    [JsonPropertyName("epoch_loss_sum")] public double EpochLossSum { get; set; }
    [JsonPropertyName("epoch_correct")] public long EpochCorrect { get; set; }
    [JsonPropertyName("epoch_samples")] public long EpochSamples { get; set; }
    [JsonPropertyName("epoch_seconds")] public double EpochSeconds { get; set; }
    [JsonPropertyName("best_epoch")] public int BestEpoch { get; set; }
    [JsonPropertyName("best_validation_ua")] public double BestValidationUA { get; set; } = double.NegativeInfinity;
    [JsonPropertyName("best_validation_loss")] public double BestValidationLoss { get; set; } = double.PositiveInfinity;
    /// <summary>The reverse direction's best epoch (selected by the test speaker), its UA and loss there.</summary>
    [JsonPropertyName("reverse_best_epoch")] public int ReverseBestEpoch { get; set; }
    [JsonPropertyName("reverse_best_ua")] public double ReverseBestUA { get; set; } = double.NegativeInfinity;
    [JsonPropertyName("reverse_best_loss")] public double ReverseBestLoss { get; set; } = double.PositiveInfinity;
    /// <summary>Early stopping ended the fold (no more epochs even if the budget has some left).</summary>
    [JsonPropertyName("stopped")] public bool Stopped { get; set; }
    [JsonPropertyName("history")] public List<EpochRecord> History { get; set; } = [];

    static readonly JsonSerializerOptions Json = new() { NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static FoldProgress FromJson(string json, string source)
    {
        try
        {
            return JsonSerializer.Deserialize<FoldProgress>(json, Json) ?? throw new SerException($"{source}: fold progress is empty");
        }
        catch (JsonException e)
        {
            throw new SerException($"{source}: fold progress is not valid JSON ({e.Message.ReplaceLineEndings(" ")})");
        }
    }
}
