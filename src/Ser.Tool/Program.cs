using System.Reflection;
using CommandLine;
using Ser.Engine;
using Ser.Tool.Progress;

namespace Ser.Tool;

/// <summary>A `sertool` verb: an options class marked [Verb] that runs itself.</summary>
internal interface ICommand
{
    /// <summary>Returns the process exit code.</summary>
    int Run();
}

internal static class Program
{
    // Every [Verb] class in this assembly is a command, so adding a verb is adding a file.
    internal static readonly Type[] Verbs = typeof(Program).Assembly.GetTypes()
        .Where(t => t.GetCustomAttribute<VerbAttribute>() is not null && typeof(ICommand).IsAssignableFrom(t))
        .OrderBy(t => t.GetCustomAttribute<VerbAttribute>()!.Name)
        .ToArray();

    public static int Main(string[] args)
    {
        ToolConsole.WidenStaticWhenRedirected();
        if (MissingValue(args) is { } option)
        {
            Console.Error.WriteLine($"sertool: error: {option} needs a value");
            return 2;
        }
        using var parser = new Parser(s => { s.HelpWriter = Console.Error; s.CaseInsensitiveEnumValues = true; });
        return parser.ParseArguments(args, Verbs).MapResult(
            (ICommand command) => RunGuarded(command),
            errors => errors.All(e => e.Tag is ErrorType.HelpRequestedError or ErrorType.HelpVerbRequestedError or ErrorType.VersionRequestedError) ? 0 : 2);
    }

    /// <summary>
    /// A valued option given last with nothing after it (`sertool train --epochs`): CommandLineParser takes it as not
    /// given, so the command would run with the default. Returns the option, or null when every valued option has a value.
    /// </summary>
    internal static string? MissingValue(string[] args)
    {
        var verb = Verbs.FirstOrDefault(v => args.Length > 0 && v.GetCustomAttribute<VerbAttribute>()!.Name == args[0]);
        if (verb is null || args.Length < 2 || !args[^1].StartsWith("--", StringComparison.Ordinal)) return null;
        string name = args[^1][2..];
        var property = verb.GetProperties().FirstOrDefault(p => p.GetCustomAttribute<OptionAttribute>()?.LongName == name);
        return property is not null && property.PropertyType != typeof(bool) ? args[^1] : null;
    }

    /// <summary>Bad input is a one-line error and exit code 1, never a stack trace.</summary>
    internal static int RunGuarded(ICommand command)
    {
        try
        {
            return command.Run();
        }
        catch (Exception e) when (IsUserFacing(e))
        {
            Console.Error.WriteLine($"sertool: error: {OneLine(e.Message)}");
            return 1;
        }
    }

    /// <summary>Passes on what a loaded file has to say (e.g. Checkpoint.Notices): one stderr line each, never an error.</summary>
    internal static void Note(IEnumerable<string> notices)
    {
        foreach (string notice in notices) Console.Error.WriteLine($"sertool: note: {OneLine(notice)}");
    }

    static bool IsUserFacing(Exception e) =>
        e is SerException or IOException or UnauthorizedAccessException or Ser.Native.NativeException;

    static string OneLine(string s) => s.ReplaceLineEndings(" ").Trim();
}
