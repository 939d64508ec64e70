using System.Diagnostics;

namespace Ser.Tool;

/// <summary>What a result file records about the code that produced it.</summary>
internal static class BuildInfo
{
    /// <summary>SER_COMMIT if set (the GPU machine's copy has no .git), else `git rev-parse HEAD`, else "unknown".</summary>
    public static string Commit()
    {
        string? fromEnv = Environment.GetEnvironmentVariable("SER_COMMIT");
        if (!string.IsNullOrWhiteSpace(fromEnv)) return fromEnv.Trim();
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
