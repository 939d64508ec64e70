using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;

namespace Ser.Reference.Bench;

/// <summary>What a result rests on: the machine and the source revision.</summary>
internal static class MachineInfo
{
    public static JsonObject Describe(string? gpu = null) => new()
    {
        ["cpu"] = CpuModel(),
        ["cores"] = Environment.ProcessorCount,
        ["os"] = RuntimeInformation.OSDescription,
        ["runtime"] = RuntimeInformation.FrameworkDescription,
        ["gpu"] = gpu,
    };

    /// <summary>The 1-minute load average (/proc/loadavg), or null where there is none: a busy machine slows both sides.</summary>
    public static double? LoadAverage()
    {
        try
        {
            var first = File.ReadAllText("/proc/loadavg").Split(' ')[0];
            return double.Parse(first, System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or FormatException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    static string CpuModel()
    {
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            return line?.Split(':', 2)[1].Trim() ?? RuntimeInformation.ProcessArchitecture.ToString();
        }
        catch (IOException)
        {
            return RuntimeInformation.ProcessArchitecture.ToString();
        }
    }

    /// <summary>HEAD's hash (with "+dirty" when the tree has uncommitted changes), or "unknown" outside a git checkout.</summary>
    public static string GitCommit()
    {
        string? head = Git("rev-parse HEAD");
        if (head is null) return "unknown";
        string? status = Git("status --porcelain --untracked-files=no");
        return string.IsNullOrWhiteSpace(status) ? head : head + "+dirty";
    }

    static string? Git(string args)
    {
        try
        {
            var start = new ProcessStartInfo("git", args) { RedirectStandardOutput = true, RedirectStandardError = true };
            using var p = Process.Start(start);
            if (p is null) return null;
            string output = p.StandardOutput.ReadToEnd().Trim();
            p.WaitForExit();
            return p.ExitCode == 0 ? output : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null; // no git on this machine
        }
    }
}
