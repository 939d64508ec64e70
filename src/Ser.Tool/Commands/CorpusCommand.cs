using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using CommandLine;
using Ser.Engine;
using Ser.Engine.Audio;
using Ser.Engine.Data;
using Ser.Engine.Data.Corpora;
using Ser.Engine.Data.Synthetic;
using Ser.Engine.Features;
using Ser.Tool.Progress;
using Spectre.Console;

namespace Ser.Tool.Commands;

/// <summary>
/// `sertool corpus stats [--corpus SPEC] [--json]`: counts per class, speaker and session, and total duration.
/// `sertool corpus synth --out DIR [--utterances N] [--seed S]`: writes the synthetic corpus as 16 kHz WAVs plus
/// manifest.csv, loadable back with `--corpus manifest:DIR/manifest.csv`.
/// `sertool corpus baseline [--corpus SPEC]`: leave-one-session-out UA/WA of a simple spectral classifier
/// (<see cref="SpectralBaseline"/>), to tell how hard a corpus is.
/// (CommandLineParser has no nested verbs, so the action is the verb's first value.)
/// </summary>
[Verb("corpus", HelpText = "Inspect a corpus (stats), write the synthetic corpus to disk (synth), or score a simple reference classifier on it (baseline).")]
internal sealed class CorpusCommand : ICommand
{
    [Value(0, MetaName = "action", Required = true, HelpText = "stats | synth | baseline")]
    public string Action { get; set; } = "";

    [Option("corpus", Default = CorpusSpec.Default,
        HelpText = "stats, baseline: corpus spec: synthetic[:utterances=N,seed=S], iemocap:PATH[?exc=happy&scripted=1], ravdess:PATH, cremad:PATH, emodb:PATH, manifest:FILE.csv")]
    public string Corpus { get; set; } = CorpusSpec.Default;

    [Option("json", HelpText = "stats: print machine-readable JSON instead of tables.")]
    public bool Json { get; set; }

    [Option("out", HelpText = "synth: output folder (created if missing).")]
    public string? Out { get; set; }

    [Option("utterances", Default = SyntheticCorpus.DefaultUtterances, HelpText = "synth: number of utterances.")]
    public int Utterances { get; set; } = SyntheticCorpus.DefaultUtterances;

    [Option("seed", Default = SyntheticCorpus.DefaultSeed, HelpText = "synth: random seed.")]
    public int Seed { get; set; } = SyntheticCorpus.DefaultSeed;

    public int Run() => Action.ToLowerInvariant() switch
    {
        "stats" => Stats(),
        "synth" => Synth(),
        "baseline" => Baseline(),
        _ => throw new SerException($"corpus: unknown action '{Action}' (expected stats, synth or baseline)"),
    };

    int Stats()
    {
        var stats = CorpusStats.Of(CorpusSpec.Load(Corpus));
        if (Json)
            Console.Out.WriteLine(ToJson(stats));
        else
            PrintTables(stats, ToolConsole.Create());
        return 0;
    }

    int Synth()
    {
        if (string.IsNullOrWhiteSpace(Out))
            throw new SerException("corpus synth: --out DIR is required");
        var clock = Stopwatch.StartNew();
        var utterances = SyntheticCorpus.Create(Utterances, Seed);
        Directory.CreateDirectory(Out);
        Parallel.ForEach(utterances, u => WavWriter.WriteMono16(Path.Combine(Out, u.Id + ".wav"), u.Audio.Load(), FrontEnd.SampleRate));
        string manifest = Path.Combine(Out, "manifest.csv");
        ManifestCorpus.Write(manifest, utterances.Select(u => (u.Id + ".wav", u)));
        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"wrote {utterances.Count} utterances ({utterances.Sum(u => u.DurationSeconds) / 60:F1} min) and {manifest} in {clock.Elapsed.TotalSeconds:F1} s"));
        return 0;
    }

    int Baseline()
    {
        var clock = Stopwatch.StartNew();
        var corpus = CorpusSpec.Load(Corpus);
        var cache = FeatureCache.Compute(corpus);
        double featureSeconds = clock.Elapsed.TotalSeconds;
        var folds = SpectralBaseline.Evaluate(corpus, cache);
        var table = new Table().Title($"{corpus.Name}: spectral mean/std + logistic regression, leave one session out");
        foreach (string c in new[] { "fold", "test speaker", "UA", "WA" })
            table.AddColumn(c);
        foreach (var f in folds)
            table.AddRow(Cells(f.Fold.ToString(CultureInfo.InvariantCulture), f.TestSpeakers, Pct(f.UnweightedAccuracy), Pct(f.WeightedAccuracy)));
        table.AddRow(Cells("mean", "", Pct(folds.Average(f => f.UnweightedAccuracy)), Pct(folds.Average(f => f.WeightedAccuracy))));
        var console = ToolConsole.Create();
        console.Write(table);
        console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"chance UA {100.0 / corpus.Classes.Count:F1}%; features {featureSeconds:F1} s, total {clock.Elapsed.TotalSeconds:F1} s"));
        return 0;
    }

    static string Pct(double fraction) => (100 * fraction).ToString("F1", CultureInfo.InvariantCulture) + "%";

    static void PrintTables(CorpusStats s, IAnsiConsole console)
    {
        console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{s.Name}: {s.Utterances} utterances, {s.TotalSeconds / 3600:F2} h ({s.TotalSeconds:F0} s), {s.PerSpeaker.Count} speakers, {s.PerSession.Count} sessions"));

        var classes = new Table().Title("per class");
        foreach (string c in new[] { "class", "utterances", "share", "minutes", "mean s" })
            classes.AddColumn(c);
        foreach (var g in s.PerClass)
            classes.AddRow(Cells(g.Key, g.Count.ToString(CultureInfo.InvariantCulture), Pct(g.Count, s.Utterances),
                Num(g.Seconds / 60, "F1"), g.Count == 0 ? "-" : Num(g.Seconds / g.Count, "F2")));
        console.Write(classes);

        console.Write(GroupTable("per speaker", "speaker", "gender, session", s.Classes, s.PerSpeaker, g => $"{g.Gender} {g.Session}"));
        console.Write(GroupTable("per session", "session", "speakers", s.Classes, s.PerSession, g => string.Join(", ", g.Speakers)));
    }

    static Table GroupTable(string title, string keyName, string detailName, IReadOnlyList<string> classes, IReadOnlyList<CorpusStats.Group> groups,
        Func<CorpusStats.Group, string> detail)
    {
        var table = new Table().Title(title);
        table.AddColumn(keyName);
        table.AddColumn(detailName);
        table.AddColumn("utterances");
        table.AddColumn("minutes");
        foreach (string c in classes) table.AddColumn(c);
        foreach (var g in groups)
            table.AddRow(Cells([g.Key, detail(g), g.Count.ToString(CultureInfo.InvariantCulture), Num(g.Seconds / 60, "F1"),
                .. g.ByClass.Select(n => n.ToString(CultureInfo.InvariantCulture))]));
        return table;
    }

    // Text cells, not markup: ids and paths may contain '[' which Spectre would parse.
    static Spectre.Console.Rendering.IRenderable[] Cells(params string[] values) => values.Select(v => (Spectre.Console.Rendering.IRenderable)new Text(v)).ToArray();

    static string Pct(int n, int total) => (100.0 * n / total).ToString("F1", CultureInfo.InvariantCulture) + "%";

    static string Num(double v, string format) => v.ToString(format, CultureInfo.InvariantCulture);

    internal static string ToJson(CorpusStats s)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("corpus", s.Name);
            w.WriteNumber("utterances", s.Utterances);
            w.WriteNumber("totalSeconds", Math.Round(s.TotalSeconds, 3));
            w.WriteStartArray("classes");
            foreach (string c in s.Classes) w.WriteStringValue(c);
            w.WriteEndArray();
            WriteGroups(w, "perClass", s.PerClass, s.Classes, detail: null);
            WriteGroups(w, "perSpeaker", s.PerSpeaker, s.Classes, detail: "genderSession");
            WriteGroups(w, "perSession", s.PerSession, s.Classes, detail: "speakers");
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    static void WriteGroups(Utf8JsonWriter w, string name, IReadOnlyList<CorpusStats.Group> groups, IReadOnlyList<string> classes, string? detail)
    {
        w.WriteStartArray(name);
        foreach (var g in groups)
        {
            w.WriteStartObject();
            w.WriteString("name", g.Key);
            if (detail == "genderSession")
            {
                w.WriteString("gender", g.Gender.ToString());
                w.WriteString("session", g.Session);
            }
            else if (detail == "speakers")
            {
                w.WriteStartArray("speakers");
                foreach (string sp in g.Speakers) w.WriteStringValue(sp);
                w.WriteEndArray();
            }
            w.WriteNumber("utterances", g.Count);
            w.WriteNumber("seconds", Math.Round(g.Seconds, 3));
            if (detail is not null)
            {
                w.WriteStartObject("byClass");
                for (int c = 0; c < classes.Count; c++) w.WriteNumber(classes[c], g.ByClass[c]);
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }
}
