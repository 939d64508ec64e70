using System.Text.Json;
using System.Text.Json.Nodes;
using CommandLine;
using Ser.Engine;

namespace Ser.Reference.Bench;

/// <summary>
/// `Ser.Reference join`: merges benchmark files (schema "ser-bench/1": this harness, tools/pytorch/ser_reference.py)
/// and compares implementation A with B on every common (distribution, batch, step) row, e.g. engine-cuda vs
/// pytorch-cuda from two runs on the GPU machine. Writes OUT.json and OUT.md.
/// </summary>
[Verb("join", HelpText = "Join benchmark JSON files and compare two implementations row by row.")]
internal sealed class JoinCommand
{
    [Value(0, Min = 1, MetaName = "files", HelpText = "Benchmark JSON files (schema ser-bench/1).")]
    public IEnumerable<string> Files { get; set; } = [];

    [Option('a', "impl-a", Required = true, HelpText = "Implementation A (numerator of the time ratio), e.g. engine-cuda.")]
    public string A { get; set; } = "";

    [Option('b', "impl-b", Required = true, HelpText = "Implementation B, e.g. pytorch-cuda.")]
    public string B { get; set; } = "";

    [Option("out", Required = true, HelpText = "Output path without extension (writes .json and .md).")]
    public string Out { get; set; } = "";

    public int Run()
    {
        var docs = Files.Select(BenchReport.Load).ToList();
        foreach (var name in new[] { A, B })
            if (docs.Count(d => d["implementations"]?.AsObject().ContainsKey(name) == true) > 1)
                throw new SerException($"implementation '{name}' appears in more than one file; join one run of each");
        var measurements = docs.SelectMany(d => d["measurements"]!.AsArray().Select(m => BenchReport.Measurement.FromJson(m!))).ToList();
        var comparisons = BenchReport.Compare(measurements, A, B);
        if (comparisons.Count == 0)
            throw new SerException($"no common rows for '{A}' and '{B}' (implementations present: " +
                                   $"{string.Join(", ", measurements.Select(m => m.Implementation).Distinct())})");
        var presets = docs.Select(d => (string?)d["preset"]).Distinct().ToList();
        if (presets.Count > 1) throw new SerException($"the files are for different presets ({string.Join(", ", presets)})");

        var implementations = new JsonObject();
        var machines = new JsonArray();
        foreach (var d in docs)
        {
            foreach (var (name, info) in d["implementations"]!.AsObject())
                if (name == A || name == B) implementations[name] = info?.DeepClone();
            machines.Add(d["machine"]?.DeepClone());
        }
        var first = docs[0];
        var doc = new JsonObject
        {
            ["schema"] = BenchReport.Schema,
            ["tool"] = "Ser.Reference join",
            ["sources"] = new JsonArray(Files.Select(f => (JsonNode)Path.GetFileName(f)).ToArray()),
            ["date_utc"] = first["date_utc"]?.DeepClone(),
            ["git_commit"] = string.Join(" / ", docs.Select(d => (string?)d["git_commit"]).Distinct()),
            ["machine"] = machines[0]?.DeepClone(),
            ["machines"] = machines,
            ["preset"] = presets[0],
            ["config_text"] = first["config_text"]?.DeepClone(),
            ["seed"] = first["seed"]?.DeepClone(),
            ["warmup"] = first["warmup"]?.DeepClone(),
            ["repeats"] = first["repeats"]?.DeepClone(),
            ["implementations"] = implementations,
            ["batches"] = first["batches"]?.DeepClone(),
            ["measurements"] = new JsonArray(measurements.Where(m => m.Implementation == A || m.Implementation == B).Select(m => (JsonNode)m.ToJson()).ToArray()),
            ["comparisons"] = new JsonArray(comparisons.Select(c => (JsonNode)c.ToJson()).ToArray()),
        };
        string markdown = BenchReport.Markdown($"{A} vs {B}, preset {presets[0]}", doc, comparisons, []);
        Engine.IO.AtomicFile.WriteAllText(Out + ".json", doc.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        Engine.IO.AtomicFile.WriteAllText(Out + ".md", markdown);
        Console.WriteLine(markdown);
        return 0;
    }
}
