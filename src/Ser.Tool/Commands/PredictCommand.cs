using System.Globalization;
using System.Text.Json;
using CommandLine;
using Ser.Engine;
using Ser.Engine.Inference;
using Ser.Tool.Progress;
using Spectre.Console;

namespace Ser.Tool.Commands;

/// <summary>
/// `sertool predict --model M a.wav b.wav ... [--json]`: the emotion of each WAV (any rate, channel count and PCM/float
/// format) with every class's probability, through <see cref="EmotionRecognizer"/>. Files are recognised in parallel and
/// reported in the order given. A file that cannot be read gets a one-line `sertool: error: FILE: problem` on stderr
/// (and an "error" entry in JSON) while the others are still reported; the exit code is then 1.
/// </summary>
[Verb("predict", HelpText = "Recognise the emotion of WAV files with a trained model (label and per-class probabilities).")]
internal sealed class PredictCommand : ICommand
{
    [Option("model", HelpText = ModelChoice.HelpText)]
    public string? ModelOption { get; set; }

    string Model => _model ??= ModelChoice.Resolve(ModelOption);
    string? _model;

    [Value(0, MetaName = "FILE.wav", HelpText = "Audio files: WAV, AIFF, MP3 or Ogg Vorbis (any sample rate and channel count).")]
    public IEnumerable<string> Files { get; set; } = [];

    [Option("json", HelpText = "Print machine-readable JSON instead of a table.")]
    public bool Json { get; set; }

    [Option("threads", Default = 0, HelpText = "Files recognised in parallel (0 = all cores).")]
    public int Threads { get; set; }

    [Option("manifest", HelpText = "Whole corpus: a manifest CSV (its path column) of WAVs to predict; needs --out.")]
    public string? Manifest { get; set; }

    [Option("dir", HelpText = "Whole corpus: every *.wav, *.aif(f), *.mp3 and *.ogg under this folder; needs --out.")]
    public string? Dir { get; set; }

    [Option("out", HelpText = "With --manifest/--dir: JSON Lines output, one result per file; a re-run resumes (skips files already in it).")]
    public string? Out { get; set; }

    public int Run()
    {
        var files = Files.ToList();
        if (Threads < 0) throw new SerException($"--threads must be 0 (all cores) or positive (got {Threads})");
        if (Manifest is not null || Dir is not null)
        {
            if (Manifest is not null && Dir is not null) throw new SerException("predict: give --manifest or --dir, not both");
            if (files.Count > 0) throw new SerException("predict: give WAV files or --manifest/--dir, not both");
            if (Out is null) throw new SerException("predict: --manifest/--dir need --out preds.jsonl");
            var inputs = BulkPredict.Inputs(Manifest, Dir);
            using var bulk = EmotionRecognizer.Load(Model, new EmotionRecognizerOptions { MaxConcurrency = Threads, ThreadsPerPrediction = 1 });
            return BulkPredict.Run(bulk, inputs, Out, Threads);
        }
        if (Out is not null) throw new SerException("predict: --out is for --manifest/--dir (use --json for files given by name)");
        if (files.Count == 0) throw new SerException("predict: give at least one WAV file (or --manifest/--dir with --out)");
        using var recognizer = EmotionRecognizer.Load(Model, new EmotionRecognizerOptions { MaxConcurrency = Threads, ThreadsPerPrediction = 1 });
        Program.Note(recognizer.Notices);

        var results = new (EmotionPrediction? Prediction, string? Error)[files.Count];
        Parallel.For(0, files.Count, new ParallelOptions { MaxDegreeOfParallelism = Threads > 0 ? Threads : Environment.ProcessorCount }, i =>
        {
            try
            {
                results[i] = (recognizer.PredictFile(files[i]), null);
            }
            catch (Exception e) when (e is SerException or IOException or UnauthorizedAccessException)
            {
                string message = e.Message.ReplaceLineEndings(" ").Trim();
                results[i] = (null, message.Contains(files[i], StringComparison.Ordinal) ? message : $"{files[i]}: {message}");
            }
        });

        foreach (var (_, error) in results)
            if (error is not null) Console.Error.WriteLine($"sertool: error: {error}");
        if (Json) WriteJson(files, results, recognizer.Labels);
        else WriteTable(files, results, recognizer.Labels);
        return results.Any(r => r.Error is not null) ? 1 : 0;
    }

    static void WriteTable(List<string> files, (EmotionPrediction? Prediction, string? Error)[] results, IReadOnlyList<string> labels)
    {
        if (results.All(r => r.Prediction is null)) return;
        var table = new Table();
        table.AddColumn("file");
        table.AddColumn("seconds");
        table.AddColumn("emotion");
        foreach (var l in labels) table.AddColumn(new TableColumn(l).RightAligned());
        for (int i = 0; i < files.Count; i++)
        {
            if (results[i].Prediction is not { } p) continue;
            table.AddRow(ResultTables.Cells([files[i], p.Seconds.ToString("F2", CultureInfo.InvariantCulture), p.Label,
                .. labels.Select(l => p.Probabilities[l].ToString("F3", CultureInfo.InvariantCulture))]));
        }
        ToolConsole.Create().Write(table);
    }

    static void WriteJson(List<string> files, (EmotionPrediction? Prediction, string? Error)[] results, IReadOnlyList<string> labels)
    {
        var items = files.Select((f, i) => results[i].Prediction is { } p
            ? (object)new { file = f, label = p.Label, seconds = p.Seconds, probabilities = labels.ToDictionary(l => l, l => p.Probabilities[l]) }
            : new { file = f, error = results[i].Error });
        Console.Out.WriteLine(JsonSerializer.Serialize(new { labels, results = items }, new JsonSerializerOptions { WriteIndented = true }));
    }
}
