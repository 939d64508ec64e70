using Ser.Engine;
using Ser.Engine.Experiments;

namespace Ser.Tool.Commands;

/// <summary>
/// --model of the inference commands: the given checkpoint, or when it is left out the newest run's model.ser under
/// runs/ (what `sertool train` just wrote), said on stderr so that the user knows which model answered and stdout stays
/// clean for JSON and CSV.
/// </summary>
internal static class ModelChoice
{
    public const string HelpText = "Checkpoint (.ser) written by sertool train (default: the newest runs/<run>/model.ser).";

    public static string Resolve(string? model, string runsFolder = TrainCommand.RunsFolder)
    {
        if (!string.IsNullOrWhiteSpace(model)) return model;
        string? newest = Directory.Exists(runsFolder)
            ? Directory.GetDirectories(runsFolder)
                .Select(d => Path.Combine(d, ExperimentRunner.ModelFile))
                .Where(File.Exists)
                .OrderByDescending(File.GetLastWriteTimeUtc)
                .FirstOrDefault()
            : null;
        if (newest is null)
            throw new SerException($"no --model given and no trained model in {runsFolder}/ (train one with `sertool train`, or pass --model FILE.ser)");
        Console.Error.WriteLine($"sertool: using the newest run's model {newest} (--model chooses another)");
        return newest;
    }
}
