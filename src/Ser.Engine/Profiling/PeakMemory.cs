using System.Globalization;

namespace Ser.Engine.Profiling;

/// <summary>
/// Samples the process's private memory (RssAnon in /proc/self/status: anonymous pages, which a memory-mapped feature
/// store's file pages are not) a few times a second and keeps the peak; the kernel keeps only the peak of the whole RSS
/// (VmHWM). Linux only: elsewhere both read 0.
/// </summary>
public sealed class PeakMemory : IDisposable
{
    readonly Timer _timer;
    long _peakAnon;

    public PeakMemory(TimeSpan? interval = null)
    {
        Sample();
        var every = interval ?? TimeSpan.FromMilliseconds(250);
        _timer = new Timer(_ => Sample(), null, every, every);
    }

    /// <summary>The highest RssAnon seen, in bytes.</summary>
    public long PeakAnonymousBytes { get { Sample(); return Interlocked.Read(ref _peakAnon); } }

    /// <summary>The kernel's peak resident set (VmHWM), file-backed pages included, in bytes.</summary>
    public static long PeakResidentBytes => Read("VmHWM:");

    /// <summary>The current RssAnon in bytes.</summary>
    public static long AnonymousBytes => Read("RssAnon:");

    void Sample()
    {
        long now = AnonymousBytes;
        long seen;
        while (now > (seen = Interlocked.Read(ref _peakAnon)) && Interlocked.CompareExchange(ref _peakAnon, now, seen) != seen) { }
    }

    // A "Name:   1234 kB" line of /proc/self/status, in bytes (0 if absent).
    static long Read(string name)
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith(name, StringComparison.Ordinal))
                {
                    var parts = line[name.Length..].Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
                    return long.Parse(parts[0], CultureInfo.InvariantCulture) * 1024;
                }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return 0;
    }

    /// <summary>"peak RssAnon 1.23 GB (private memory), peak RSS 2.34 GB (VmHWM, mapped store pages included)".</summary>
    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"peak RssAnon {PeakAnonymousBytes / (double)(1L << 30):F2} GB (private memory), peak RSS {PeakResidentBytes / (double)(1L << 30):F2} GB (VmHWM, mapped feature pages included)");

    public void Dispose() => _timer.Dispose();
}
