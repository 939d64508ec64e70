using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using CommandLine;
using Ser.Engine.Checkpoints;
using Ser.Engine.Experiments;

namespace Ser.Tool.Commands;

/// <summary>
/// `sertool info [M.ser]`: what a checkpoint is — labels, model, calibration, and its model card (corpus, protocol,
/// scores, training, intended use and limits) when it has one (model.ser of a run does). --json prints the same as one
/// JSON object: the card parsed, every other metadata key as stored.
/// </summary>
[Verb("info", HelpText = "Show what a trained model is: labels, size, calibration, and its model card (corpus, scores, training, limits).")]
internal sealed class InfoCommand : ICommand
{
    [Value(0, MetaName = "MODEL.ser", HelpText = "Checkpoint (default: the newest runs/<run>/model.ser).")]
    public string? ModelPath { get; set; }

    [Option("json", HelpText = "Print one JSON object instead of text.")]
    public bool Json { get; set; }

    public int Run()
    {
        string path = ModelChoice.Resolve(ModelPath);
        var checkpoint = Checkpoint.Load(path);
        Program.Note(checkpoint.Notices);
        long parameters = checkpoint.Parameters.Values.Sum(v => (long)v.Length);
        string? cardJson = checkpoint.Metadata.GetValueOrDefault(ModelCard.MetadataKey);
        var card = ModelCard.FromJson(cardJson);

        if (Json)
        {
            var metadata = new JsonObject();
            foreach (var (key, value) in checkpoint.Metadata.OrderBy(m => m.Key, StringComparer.Ordinal))
                if (key != ModelCard.MetadataKey) metadata[key] = value;
            var doc = new JsonObject
            {
                ["path"] = path,
                ["labels"] = new JsonArray(checkpoint.Labels.Select(l => (JsonNode?)JsonValue.Create(l)).ToArray()),
                ["config"] = JsonNode.Parse(checkpoint.Config.ToJson()),
                ["parameters"] = parameters,
                ["temperature"] = checkpoint.Temperature,
                ["epoch"] = checkpoint.Epoch,
                ["metadata"] = metadata,
                ["model_card"] = cardJson is null ? null : JsonNode.Parse(cardJson),
            };
            Console.WriteLine(doc.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        }

        var meta = checkpoint.Metadata;
        Console.WriteLine($"{path}");
        Console.WriteLine($"  labels        {string.Join(", ", checkpoint.Labels.Select((l, i) => $"{i}:{l}"))}");
        Console.WriteLine($"  model         {meta.GetValueOrDefault("preset", "?")} preset, {parameters:N0} parameters ({checkpoint.Config})");
        Console.WriteLine($"  input         {meta.GetValueOrDefault("length_mode", "variable")}-length, {Ser.Engine.Features.FrontEnd.SampleRate / 1000} kHz mono");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  calibration   T = {checkpoint.Temperature:0.###}{(meta.ContainsKey(Checkpoint.TemperatureKey) ? "" : " (not calibrated)")}"));
        Console.WriteLine($"  corpus        {meta.GetValueOrDefault("corpus", "unknown")}");
        if (meta.ContainsKey("fold"))
            Console.WriteLine($"  chosen on     fold {meta["fold"]}, epoch {meta.GetValueOrDefault("best_epoch", "?")}, selected by {meta.GetValueOrDefault("selected_by", "?")}, " +
                              $"for testing on {meta.GetValueOrDefault("scored_on", "?")}");
        if (card is null)
        {
            Console.WriteLine("  (no model card: a run's model.ser carries one; fold checkpoints do not)");
            return 0;
        }
        string Pct(double x) => (100 * x).ToString("F2", CultureInfo.InvariantCulture) + "%";
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  data          {card.CorpusName}: {card.Utterances} utterances, {card.Hours:F2} h, {card.Counts.Count} speakers"));
        Console.WriteLine($"  results       pooled test WA {Pct(card.PooledWA)}, UA {Pct(card.PooledUA)} over {card.Folds.Count} fold(s); this is fold {card.ModelFold}'s model");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  trained       {card.TrainingSeconds / 60:F1} min on {card.Hardware}"));
        Console.WriteLine($"  build         {card.Build}, {card.CreatedUtc}");
        Console.WriteLine("  limits");
        foreach (var line in card.Limits()) Console.WriteLine($"    - {line.Replace("**", "", StringComparison.Ordinal)}");
        return 0;
    }
}
