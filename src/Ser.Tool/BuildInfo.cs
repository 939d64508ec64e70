using System.Diagnostics;
using System.Reflection;

namespace Ser.Tool;

/// <summary>What a result file records about the code that produced it.</summary>
internal static class BuildInfo
{
    /// <summary>
    /// SER_COMMIT if set, else the commit the SDK stamped into this assembly's informational version ("1.0.0+sha", the
    /// commit sertool was built from, wherever it runs), else `git rev-parse HEAD`, else "unknown".
    /// </summary>
    public static string Commit()
    {
        string? fromEnv = Environment.GetEnvironmentVariable("SER_COMMIT");
        if (!string.IsNullOrWhiteSpace(fromEnv)) return fromEnv.Trim();
        string? version = typeof(BuildInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        int plus = version?.IndexOf('+') ?? -1;
        if (plus >= 0 && version!.Length - plus > 7) return version[(plus + 1)..];
        try
        {
            using var git = Process.Start(new ProcessStartInfo("git", "rev-parse HEAD")
            {
                RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            });
            if (git is null) return "unknown";
            string head = git.StandardOutput.ReadToEnd().Trim();
            git.WaitForExit(5000);
            return git.ExitCode == 0 && head.Length >= 7 ? head : "unknown";
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "unknown";   // no git on this machine
        }
    }
}
