using System.Diagnostics;
using System.Xml.Linq;
using Ser.Abi.Tests;

[assembly: AssemblyFixture(typeof(Ser.Package.Tests.PackageFixture))]

namespace Ser.Package.Tests;

/// <summary>
/// Runs the README's `dotnet pack -c Release -o DIR` once, at the root of a copy of the repository (its own obj/ and bin/,
/// so the working tree's builds are not touched), with a version no cache has seen: VersionPrefix from
/// Directory.Build.props plus a fresh "-test.GUID" suffix. The commands that consume the packages add the package folder
/// as a source the README's way, and run with an empty global packages folder in the temp folder (NUGET_PACKAGES) and a
/// NuGet config whose fallback folder is the user's global packages folder (read only): third-party packages are not
/// fetched again, and no Ser package ever lands in the user's caches.
/// </summary>
public sealed class PackageFixture : IDisposable
{
    public static readonly TimeSpan Limit = TimeSpan.FromMinutes(10);

    public string Dir { get; } = Directory.CreateTempSubdirectory("ser-pack-").FullName;
    public string Feed => Path.Combine(Dir, "feed");
    public string NuGetConfig => Path.Combine(Dir, "nuget.config");
    public string Version { get; }
    /// <summary>A random-weight model (temperature 1.7) and a synthetic utterance, for the predictions.</summary>
    public string Model => Path.Combine(Dir, "model.ser");
    public string Wav => Path.Combine(Dir, "utterance.wav");
    /// <summary>Waiting for (or making) artifacts/libser, then the pack itself: printed by the tests, for the README.</summary>
    public TimeSpan LibSerTime { get; }
    public TimeSpan PackTime { get; }

    public static void Log(string line) => TestContext.Current.TestOutputHelper?.WriteLine(line);

    public PackageFixture()
    {
        string root = LibSer.RepoRoot;
        string prefix = XDocument.Load(Path.Combine(root, "Directory.Build.props")).Descendants("VersionPrefix").Single().Value;
        string suffix = $"test.{Guid.NewGuid():N}";
        Version = $"{prefix}-{suffix}";

        AbiFixture.WriteModel(Model, 4, AbiFixture.Temperature);
        var utterance = Engine.Data.Synthetic.SyntheticCorpus.Create(10, seed: 3).First().Audio.Load();
        Engine.Audio.WavWriter.WriteMono16(Wav, utterance, 16000);

        string copy = Path.Combine(Dir, "repo");
        CopySources(root, copy);
        var clock = Stopwatch.StartNew();
        string libser = LibSer.Directory;   // published by whichever test process got there first
        LibSerTime = clock.Elapsed;
        clock.Restart();
        Run(copy, "dotnet", ["pack", "-c", "Release", "-o", Feed, $"-p:VersionSuffix={suffix}", $"-p:LibSerDir={libser}/", "-nologo"]);
        PackTime = clock.Elapsed;

        string userPackages = Run(Dir, "dotnet", ["nuget", "locals", "global-packages", "--list"])
            .Split('\n').Single(l => l.StartsWith("global-packages:"))["global-packages:".Length..].Trim();
        File.WriteAllText(NuGetConfig, $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <fallbackPackageFolders>
                <add key="user-global-packages" value="{userPackages}" />
              </fallbackPackageFolders>
            </configuration>
            """);
    }

    /// <summary>What `dotnet pack` at the root reads: the solution, the props files and every project's sources.</summary>
    static void CopySources(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string file in new[] { "Ser.sln", "Directory.Build.props", "Directory.Packages.props", "global.json" })
            File.Copy(Path.Combine(from, file), Path.Combine(to, file));
        foreach (string top in new[] { "src", "tests", "tools" })
            CopyTree(Path.Combine(from, top), Path.Combine(to, top));
    }

    static void CopyTree(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string file in Directory.EnumerateFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        foreach (string dir in Directory.EnumerateDirectories(from))
        {
            string name = Path.GetFileName(dir);
            if (name is "bin" or "obj" or "node_modules" or "TestResults" or "__pycache__") continue;
            CopyTree(dir, Path.Combine(to, name));
        }
    }

    /// <summary>
    /// Runs a command as a user would, with this fixture's NuGet folders when <paramref name="isolated"/>; a non-zero exit
    /// fails the test with the command's output. Returns stdout and stderr together.
    /// </summary>
    public string Run(string workingDirectory, string file, IEnumerable<string> args, bool isolated = false)
    {
        var psi = new ProcessStartInfo(file, args) { WorkingDirectory = workingDirectory };
        // The test host runs inside `dotnet test`; its MSBuild variables must not leak into the commands it starts.
        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList())
            psi.Environment.Remove(key);
        if (isolated) psi.Environment["NUGET_PACKAGES"] = Path.Combine(Dir, "packages");
        var (code, output) = Tools.Run(psi, Limit);
        if (code != 0) throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {code}:\n{output}");
        return output;
    }

    public void Dispose()
    {
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
    }
}
