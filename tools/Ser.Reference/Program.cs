using CommandLine;
using Ser.Reference.Bench;
using Ser.Reference.Native;

namespace Ser.Reference;

/// <summary>
/// The reference tool:
///   check  loads TorchSharp (patching its library copy when the system libstdc++ is too old, see
///          <see cref="TorchSharpLoader"/>) and runs the tiny reference model once;
///   bench  engine vs TorchSharp reference on the same batches and weights (<see cref="BenchCommand"/>);
///   join   merges benchmark files and compares two implementations (<see cref="JoinCommand"/>);
///   probe  writes an engine checkpoint and a batch with the engine's logits, for the PyTorch script's check.
/// Bad input is a one-line "Ser.Reference: error: ..." and exit 1.
/// </summary>
internal static class Program
{
    public static int Main(string[] args)
    {
        using var parser = new Parser(s => { s.HelpWriter = Console.Error; s.CaseInsensitiveEnumValues = true; });
        return parser.ParseArguments<CheckCommand, BenchCommand, JoinCommand, ProbeCommand>(args).MapResult(
            (CheckCommand c) => Guarded(c.Run),
            (BenchCommand c) => Guarded(c.Run),
            (JoinCommand c) => Guarded(c.Run),
            (ProbeCommand c) => Guarded(c.Run),
            errors => errors.All(e => e.Tag is ErrorType.HelpRequestedError or ErrorType.HelpVerbRequestedError or ErrorType.VersionRequestedError) ? 0 : 2);
    }

    static int Guarded(Func<int> run)
    {
        try
        {
            return run();
        }
        catch (Exception e) when (e is Engine.SerException or IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"Ser.Reference: error: {e.Message.ReplaceLineEndings(" ")}");
            return 1;
        }
    }
}

[Verb("check", HelpText = "Load TorchSharp and run the tiny reference model once.")]
internal sealed class CheckCommand
{
    public int Run()
    {
        Console.WriteLine($"TorchSharp: {TorchSharpLoader.EnsureLoaded().Detail}");
        var config = ReferenceConfig.Tiny(bins: 16);
        using var model = new ReferenceCrnn(config, ReferenceCrnn.RandomWeights(config, seed: 1));
        var logits = model.Logits(new float[2 * 9 * 16], [9, 5]);
        Console.WriteLine($"tiny model logits [2,{config.Classes}]: {string.Join(" ", logits.Select(v => v.ToString("G5")))}");
        return 0;
    }
}
