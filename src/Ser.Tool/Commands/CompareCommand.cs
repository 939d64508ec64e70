using CommandLine;
using Ser.Engine;
using Ser.Engine.Experiments;
using Ser.Engine.IO;

namespace Ser.Tool.Commands;

/// <summary>
/// `sertool compare A B`: two sets of runs (one run folder per seed, comma-separated), e.g. variable- against
/// fixed-length input: mean ± sd over seeds and the paired difference with a bootstrap interval over speakers
/// (<see cref="RunComparison"/>). Unfinished runs are compared on the folds they finished (said on stderr).
/// </summary>
[Verb("compare", HelpText = "Compare two sets of training runs (one folder per seed, comma-separated): mean ± sd and the paired difference with a bootstrap CI over speakers.")]
internal sealed class CompareCommand : ICommand
{
    [Value(0, MetaName = "A", Required = true, HelpText = "Run folders of side A, comma-separated (one per seed).")]
    public string A { get; set; } = "";

    [Value(1, MetaName = "B", Required = true, HelpText = "Run folders of side B, comma-separated (one per seed).")]
    public string B { get; set; } = "";

    [Option("names", HelpText = "What to call the two sides, comma-separated (default A,B).")]
    public string Names { get; set; } = "A,B";

    [Option("resamples", Default = 10000, HelpText = "Bootstrap resamples.")]
    public int Resamples { get; set; }

    [Option("json", HelpText = "Print JSON instead of the markdown table.")]
    public bool Json { get; set; }

    [Option("out", HelpText = "Also write the markdown to this file.")]
    public string? Out { get; set; }

    [Option("plot", HelpText = "Also draw each tested speaker's UA difference with the pooled difference and its CI (PNG).")]
    public string? PlotPath { get; set; }

    public int Run()
    {
        var names = Names.Split(',', StringSplitOptions.TrimEntries);
        if (names.Length != 2 || names.Any(string.IsNullOrEmpty)) throw new SerException($"--names: expected two names like variable,fixed (got '{Names}')");
        var a = Load(A);
        var b = Load(B);
        var comparison = RunComparison.Create(a, b, Resamples);
        string markdown = comparison.ToMarkdown(names[0], names[1]);
        if (Out is not null) AtomicFile.WriteAllText(Out, markdown);
        if (PlotPath is not null) Plots.ExperimentPlots.SaveComparison(comparison, names[0], names[1], PlotPath);
        Console.Out.Write(Json ? comparison.ToJson() + Environment.NewLine : markdown);
        return 0;
    }

    static List<RunScores> Load(string folders)
    {
        var runs = new List<RunScores>();
        foreach (var folder in folders.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (!Directory.Exists(folder)) throw new SerException($"{folder}: no such run folder");
            var run = RunScores.Load(folder);
            if (run.Folds.Done < run.Folds.Planned)
                Console.Error.WriteLine($"sertool: note: {folder} has finished {run.Folds.Done} of {run.Folds.Planned} folds; compared on those");
            runs.Add(run);
        }
        return runs;
    }
}
