using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Ser.Abi.Tests;

/// <summary>
/// libser.so for the tests: published once with the README's command into artifacts/libser, and published again only
/// when a source file it is built from (src/Ser.Abi, src/Ser.Engine, src/Ser.Native, the props files) is newer. A fresh
/// publish takes about a minute on the 2-core CI machine; a warm one is skipped. Ser.Package.Tests compiles this file too
/// and packs the same library; the lock file makes the two test processes publish once between them. Any publish error (a trim/AOT warning
/// included: warnings are errors) fails the tests that need the library.
/// </summary>
internal static class LibSer
{
    static readonly Lazy<string> Published = new(Publish, LazyThreadSafetyMode.ExecutionAndPublication);

    public static string RepoRoot { get; } = FindRoot();
    public static string Directory => Published.Value;
    public static string Library => Path.Combine(Directory, "libser.so");
    public static string Header => Path.Combine(RepoRoot, "src", "Ser.Abi", "ser.h");

    static string FindRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Ser.sln"))) return d.FullName;
        throw new InvalidOperationException("Ser.sln not found above " + AppContext.BaseDirectory);
    }

    static string Publish()
    {
        string dir = Path.Combine(RepoRoot, "artifacts", "libser");
        string lib = Path.Combine(dir, "libser.so");
        System.IO.Directory.CreateDirectory(dir);
        using var guard = Lock(Path.Combine(RepoRoot, "artifacts", "libser.lock"));
        if (File.Exists(lib) && File.GetLastWriteTimeUtc(lib) > NewestSource()) return dir;
        var psi = new ProcessStartInfo("dotnet", ["publish", Path.Combine(RepoRoot, "src", "Ser.Abi", "Ser.Abi.csproj"),
            "-c", "Release", "-r", "linux-x64", "-o", dir, "-nologo"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = RepoRoot,
        };
        // The test host runs inside `dotnet test`; its MSBuild variables must not leak into a separate publish.
        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList())
            psi.Environment.Remove(key);
        var (code, output) = Tools.Run(psi, TimeSpan.FromMinutes(10));
        if (code != 0 || !File.Exists(lib)) throw new InvalidOperationException($"dotnet publish src/Ser.Abi failed ({code}):\n{output}");
        File.SetLastWriteTimeUtc(lib, DateTime.UtcNow);
        return dir;
    }

    /// <summary>
    /// Waits for the lock file: Ser.Package.Tests uses this library too, from another test process, and .NET's
    /// FileShare.None lock on Unix fails at once instead of waiting.
    /// </summary>
    static FileStream Lock(string path)
    {
        var deadline = DateTime.UtcNow.AddMinutes(15);
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                Thread.Sleep(500);
            }
        }
    }

    static DateTime NewestSource()
    {
        var newest = DateTime.MinValue;
        foreach (var project in new[] { "Ser.Abi", "Ser.Engine", "Ser.Native" })
            foreach (var f in System.IO.Directory.EnumerateFiles(Path.Combine(RepoRoot, "src", project), "*", SearchOption.AllDirectories))
            {
                if (f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") || f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}")) continue;
                if (!(f.EndsWith(".cs") || f.EndsWith(".csproj") || f.EndsWith(".h"))) continue;
                var t = File.GetLastWriteTimeUtc(f);
                if (t > newest) newest = t;
            }
        foreach (var props in new[] { "Directory.Build.props", "Directory.Packages.props" })
        {
            var t = File.GetLastWriteTimeUtc(Path.Combine(RepoRoot, props));
            if (t > newest) newest = t;
        }
        return newest;
    }
}

internal static class Tools
{
    /// <summary>Runs a process to completion (or kills it at the timeout); returns its exit code and stdout+stderr.</summary>
    public static (int Code, string Output) Run(ProcessStartInfo psi, TimeSpan timeout)
    {
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {psi.FileName}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            return (-1, $"{psi.FileName} timed out after {timeout}\n{stdout.Result}{stderr.Result}");
        }
        p.WaitForExit();
        return (p.ExitCode, stdout.Result + stderr.Result);
    }

    public static (int Code, string Output) Run(string file, IEnumerable<string> args, TimeSpan timeout, string? workingDirectory = null) =>
        Run(new ProcessStartInfo(file, args) { WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory }, timeout);
}

/// <summary>ser.h's functions, called through libser.so itself (not the managed assembly): the real ABI.</summary>
internal sealed unsafe class NativeSer
{
    public readonly delegate* unmanaged<int> AbiVersion;
    public readonly delegate* unmanaged<byte*> LastError;
    public readonly delegate* unmanaged<byte*, nint*, int> ModelLoad;
    public readonly delegate* unmanaged<nint, void> ModelFree;
    public readonly delegate* unmanaged<nint, int> ClassCount;
    public readonly delegate* unmanaged<nint, int, byte*> ClassName;
    public readonly delegate* unmanaged<nint, float*, nuint, int, float*, nuint, int> Classify;
    public readonly delegate* unmanaged<nint, SerStreamParamsNative*, nint*, int> StreamCreate;
    public readonly delegate* unmanaged<SerStreamParamsNative> StreamDefaultParams;
    public readonly delegate* unmanaged<nint, float*, nuint, int> StreamPush;
    public readonly delegate* unmanaged<nint, Engine.Inference.EmotionSegment*, nuint, nuint*, int> StreamPoll;
    public readonly delegate* unmanaged<nint, int> StreamFlush;
    public readonly delegate* unmanaged<nint, void> StreamFree;

    static readonly Lazy<NativeSer> Instance = new(() => new NativeSer(NativeLibrary.Load(LibSer.Library)));
    public static NativeSer Load() => Instance.Value;

    NativeSer(nint lib)
    {
        nint F(string name) => NativeLibrary.GetExport(lib, name);
        AbiVersion = (delegate* unmanaged<int>)F("ser_abi_version");
        LastError = (delegate* unmanaged<byte*>)F("ser_last_error");
        ModelLoad = (delegate* unmanaged<byte*, nint*, int>)F("ser_model_load");
        ModelFree = (delegate* unmanaged<nint, void>)F("ser_model_free");
        ClassCount = (delegate* unmanaged<nint, int>)F("ser_model_class_count");
        ClassName = (delegate* unmanaged<nint, int, byte*>)F("ser_model_class_name");
        Classify = (delegate* unmanaged<nint, float*, nuint, int, float*, nuint, int>)F("ser_classify");
        StreamCreate = (delegate* unmanaged<nint, SerStreamParamsNative*, nint*, int>)F("ser_stream_create");
        StreamDefaultParams = (delegate* unmanaged<SerStreamParamsNative>)F("ser_stream_default_params");
        StreamPush = (delegate* unmanaged<nint, float*, nuint, int>)F("ser_stream_push");
        StreamPoll = (delegate* unmanaged<nint, Engine.Inference.EmotionSegment*, nuint, nuint*, int>)F("ser_stream_poll");
        StreamFlush = (delegate* unmanaged<nint, int>)F("ser_stream_flush");
        StreamFree = (delegate* unmanaged<nint, void>)F("ser_stream_free");
    }

    public string Error => Marshal.PtrToStringUTF8((nint)LastError()) ?? "";

    public int Load(string path, out nint model)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(path + "\0");
        nint m;
        int status;
        fixed (byte* p = bytes) status = ModelLoad(p, &m);
        model = m;
        return status;
    }
}

[StructLayout(LayoutKind.Sequential)]
internal struct SerStreamParamsNative
{
    public int SampleRate;
    public float MinSilenceSeconds, MinSegmentSeconds, MaxSegmentSeconds, PartialEverySeconds;
}
