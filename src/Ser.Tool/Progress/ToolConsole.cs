using Spectre.Console;

namespace Ser.Tool.Progress;

/// <summary>
/// Spectre consoles for sertool. On a terminal they use its width; redirected (a log file, CI, a test capturing
/// Console.Out) Spectre would assume 80 columns and break every longer log line and table, so they get a wide fixed one.
/// </summary>
internal static class ToolConsole
{
    public const int RedirectedWidth = 240;

    /// <summary>A console writing to <paramref name="output"/> (default: the current Console.Out, so tests can capture it).</summary>
    public static IAnsiConsole Create(TextWriter? output = null)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output ?? Console.Out) });
        if (!console.Profile.Out.IsTerminal) console.Profile.Width = RedirectedWidth;
        return console;
    }

    /// <summary>The same for the static AnsiConsole that the benchmark verbs write through.</summary>
    public static void WidenStaticWhenRedirected()
    {
        if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = RedirectedWidth;
    }
}
