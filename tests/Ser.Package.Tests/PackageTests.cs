using System.Globalization;
using System.IO.Compression;
using System.Text.Json;
using System.Xml.Linq;
using Ser.Engine.Inference;

namespace Ser.Package.Tests;

/// <summary>What `dotnet pack` at the root made: three packages and nothing else, each holding what the README promises.</summary>
public sealed class PackageContentTests(PackageFixture pack)
{
    [Fact]
    public void The_root_pack_makes_the_library_its_bindings_and_the_tool_and_nothing_else()
    {
        PackageFixture.Log($"libser.so ready after {pack.LibSerTime.TotalSeconds:F0} s; dotnet pack -c Release at the root of a copy: {pack.PackTime.TotalSeconds:F0} s");
        string[] names = Directory.GetFiles(pack.Feed).Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal([$"Ser.Engine.{pack.Version}.nupkg", $"Ser.Native.{pack.Version}.nupkg", $"sertool.{pack.Version}.nupkg"], names);
    }

    [Fact]
    public void The_engine_package_carries_libser_and_depends_on_the_native_bindings_at_the_same_version()
    {
        using var zip = ZipFile.OpenRead(Path.Combine(pack.Feed, $"Ser.Engine.{pack.Version}.nupkg"));
        var entries = zip.Entries.Select(e => e.FullName).ToHashSet();
        Assert.Contains("lib/net10.0/Ser.Engine.dll", entries);
        var libser = zip.GetEntry("runtimes/linux-x64/native/libser.so");
        Assert.NotNull(libser);
        using (var elf = libser.Open())
        {
            var magic = new byte[4];
            elf.ReadExactly(magic);
            Assert.Equal("\x7f" + "ELF", System.Text.Encoding.ASCII.GetString(magic));
        }

        var dependencies = Nuspec(zip).Descendants().Where(e => e.Name.LocalName == "dependency")
            .ToDictionary(e => (string)e.Attribute("id")!, e => (string)e.Attribute("version")!);
        Assert.Equal(pack.Version, dependencies["Ser.Native"]);
        Assert.DoesNotContain(dependencies.Keys, id => id.StartsWith("xunit", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public void The_tool_package_is_a_dotnet_tool_named_sertool()
    {
        using var zip = ZipFile.OpenRead(Path.Combine(pack.Feed, $"sertool.{pack.Version}.nupkg"));
        var packageTypes = Nuspec(zip).Descendants().Where(e => e.Name.LocalName == "packageType").Select(e => (string)e.Attribute("name")!);
        Assert.Contains("DotnetTool", packageTypes);
        var settings = zip.Entries.Single(e => e.FullName.EndsWith("/DotnetToolSettings.xml"));
        using var s = settings.Open();
        var command = XDocument.Load(s).Descendants("Command").Single();
        Assert.Equal("sertool", (string)command.Attribute("Name")!);
        Assert.Equal("sertool.dll", (string)command.Attribute("EntryPoint")!);
    }

    static XDocument Nuspec(ZipArchive zip)
    {
        using var s = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec")).Open();
        return XDocument.Load(s);
    }
}

/// <summary>The README's install line: the tool from the package folder into a tool path, then used.</summary>
public sealed class ToolInstallTests(PackageFixture pack)
{
    [Fact]
    public void The_installed_tool_prints_the_packed_version_and_predicts()
    {
        string tools = Path.Combine(pack.Dir, "tools");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        pack.Run(pack.Dir, "dotnet", ["tool", "install", "--tool-path", tools, "--add-source", pack.Feed,
            "--configfile", pack.NuGetConfig, "--version", pack.Version, "sertool"], isolated: true);
        string sertool = Path.Combine(tools, "sertool");
        PackageFixture.Log($"dotnet tool install: {clock.Elapsed.TotalSeconds:F1} s");

        string version = pack.Run(pack.Dir, sertool, ["--version"]).Trim();
        Assert.StartsWith($"sertool {pack.Version}", version);   // "+commit" may follow

        clock.Restart();
        string json = pack.Run(pack.Dir, sertool, ["predict", "--model", pack.Model, pack.Wav, "--json"]);
        PackageFixture.Log($"sertool predict: {clock.Elapsed.TotalSeconds:F1} s");
        var expected = Expected(pack);
        using var doc = JsonDocument.Parse(json);
        var result = Assert.Single(doc.RootElement.GetProperty("results").EnumerateArray());
        Assert.Equal(expected.Label, result.GetProperty("label").GetString());
        foreach (var (name, p) in expected.Probabilities)
            Assert.Equal(p, result.GetProperty("probabilities").GetProperty(name).GetSingle(), 1e-5f);
    }

    /// <summary>The engine this test is built against, on the same files: the packages must compute the same thing.</summary>
    internal static EmotionPrediction Expected(PackageFixture pack)
    {
        using var recognizer = EmotionRecognizer.Load(pack.Model);
        return recognizer.PredictFile(pack.Wav);
    }
}

/// <summary>The README's library use: a fresh console project referencing the Ser.Engine package, restored and run.</summary>
public sealed class LibraryReferenceTests(PackageFixture pack)
{
    [Fact]
    public void A_fresh_console_app_on_the_package_predicts_what_the_engine_predicts()
    {
        string app = Path.Combine(pack.Dir, "app");
        Directory.CreateDirectory(app);
        File.WriteAllText(Path.Combine(app, "app.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <Nullable>enable</Nullable>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Ser.Engine" Version="{pack.Version}" />
              </ItemGroup>
              <PropertyGroup>
                <RestoreAdditionalProjectSources>{pack.Feed}</RestoreAdditionalProjectSources>
              </PropertyGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(app, "Program.cs"), """
            using System.Globalization;
            using Ser.Engine.Inference;

            using var recognizer = EmotionRecognizer.Load(args[0]);
            EmotionPrediction p = recognizer.PredictFile(args[1]);
            Console.WriteLine(p.Label);
            foreach (var (name, probability) in p.Probabilities)
                Console.WriteLine($"{name}={probability.ToString("R", CultureInfo.InvariantCulture)}");
            """);

        // pack.Dir/nuget.config (the fallback folder) is found by restore's upward search from the project.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        string output = pack.Run(app, "dotnet", ["run", "-c", "Release", "--", pack.Model, pack.Wav], isolated: true);
        PackageFixture.Log($"dotnet run of the console app (restore, build, run): {clock.Elapsed.TotalSeconds:F1} s");
        var lines = output.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);

        var expected = ToolInstallTests.Expected(pack);
        int at = Array.IndexOf(lines, expected.Label);
        Assert.True(at >= 0, $"the app did not print {expected.Label}:\n{output}");
        foreach (var (name, p) in expected.Probabilities)
        {
            string line = Assert.Single(lines, l => l.StartsWith(name + "="));
            Assert.Equal(p, float.Parse(line[(name.Length + 1)..], CultureInfo.InvariantCulture), 1e-5f);
        }
    }
}
