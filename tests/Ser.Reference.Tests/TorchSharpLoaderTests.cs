using System.Diagnostics;
using Ser.Engine;
using Ser.Reference.Native;
using TorchSharp;

namespace Ser.Reference.Tests;

public class TorchSharpLoaderTests
{
    private const string Missing = "GLIBCXX_3.4.32";

    private static ElfImage ShippedLibrary() => ElfImage.Parse(File.ReadAllBytes(TorchSharpLoader.FindOriginalLibrary()));

    [Fact]
    public void TorchSharp_loads_and_computes()
    {
        var outcome = TorchSharpLoader.EnsureLoaded();
        using var sum = torch.arange(1, 5, dtype: torch.ScalarType.Float32).sum();
        Assert.Equal(10f, sum.item<float>());

        // Patched exactly when this machine's libstdc++ lacks the version.
        var provided = ElfImage.Parse(File.ReadAllBytes(TorchSharpLoader.FindLoadedLibStdCxx())).VersionDefinitions();
        Assert.Contains("GLIBCXX_3.4", provided);
        Assert.Equal(!provided.Contains(Missing), outcome.Patched);
        if (outcome.Patched) Assert.Equal([Missing], outcome.Weakened);
    }

    [Fact]
    public void Shipped_library_only_mentions_the_GCC13_symbol_and_never_relocates_it()
    {
        // Why no shim is needed: the one symbol of GLIBCXX_3.4.32 is a bare reference (GCC 13's <iostream> emits
        // `.globl _ZSt21ios_base_library_initv`); no relocation names it, so the dynamic linker never looks it up.
        var library = ShippedLibrary();
        var need = Assert.Single(library.VersionNeeds(), n => n.Name == Missing);
        Assert.Equal("libstdc++.so.6", need.File);
        Assert.False(need.IsWeak);
        var symbol = Assert.Single(library.SymbolsOfVersion(need.Index));
        Assert.Equal(("_ZSt21ios_base_library_initv", 0), symbol);

        // The reader does see relocations: symbols of an older version are relocated plenty.
        var old = Assert.Single(library.VersionNeeds(), n => n.Name == "GLIBCXX_3.4");
        Assert.Contains(library.SymbolsOfVersion(old.Index), s => s.Relocations > 0);
    }

    [Fact]
    public void Patch_sets_the_weak_flag_on_the_missing_need_and_changes_nothing_else()
    {
        var library = ShippedLibrary();
        var allButMissing = library.VersionNeeds().Select(n => n.Name).Where(n => n != Missing).ToHashSet();

        var plan = TorchSharpLoader.PlanPatch(library, allButMissing);
        Assert.Equal([Missing], plan.Select(p => p.Name));

        byte[] patched = TorchSharpLoader.ApplyPatch(library.Bytes, plan);
        var differing = Enumerable.Range(0, patched.Length).Where(i => patched[i] != library.Bytes[i]).ToList();
        Assert.Equal([plan[0].FlagsOffset], differing); // one byte: the low byte of vna_flags

        var after = ElfImage.Parse(patched).VersionNeeds();
        Assert.True(after.Single(n => n.Name == Missing).IsWeak);
        Assert.All(after.Where(n => n.Name != Missing), n => Assert.False(n.IsWeak));
        Assert.Empty(TorchSharpLoader.PlanPatch(ElfImage.Parse(patched), allButMissing)); // idempotent
    }

    [Fact]
    public void Nothing_is_patched_when_libstdcxx_provides_every_version()
    {
        var library = ShippedLibrary();
        var all = library.VersionNeeds().Select(n => n.Name).ToHashSet();
        Assert.Empty(TorchSharpLoader.PlanPatch(library, all));
    }

    [Fact]
    public void Refuses_to_weaken_a_version_whose_symbols_are_really_used()
    {
        var library = ShippedLibrary();
        var withoutOld = library.VersionNeeds().Select(n => n.Name).Where(n => n != "GLIBCXX_3.4").ToHashSet();
        var e = Assert.Throws<SerException>(() => TorchSharpLoader.PlanPatch(library, withoutOld));
        Assert.Contains("GLIBCXX_3.4", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Patched_copy_falls_back_to_the_next_folder_when_one_cannot_be_written()
    {
        var outcome = TorchSharpLoader.EnsureLoaded();
        // Loading a patched copy from a NEW path would map a second LibTorchSharp; only re-load the one in use.
        Assert.SkipUnless(outcome.Patched, "this machine's libstdc++ needs no patch");
        string inUse = outcome.LibraryPath!;
        byte[] patched = File.ReadAllBytes(inUse);

        string chosen = TorchSharpLoader.LoadPatchedCopy(patched, ["/dev/null/not-a-folder", Path.GetDirectoryName(inUse)!]);
        Assert.Equal(inUse, chosen);
        var e = Assert.Throws<SerException>(() => TorchSharpLoader.LoadPatchedCopy(patched, ["/dev/null/a", "/dev/null/b"]));
        Assert.Contains("/dev/null/b", e.Message);
    }

    [Fact]
    public async Task Patched_library_loads_with_eager_binding_in_a_fresh_process()
    {
        // LD_BIND_NOW resolves every relocation at load time: if anything bound to the weakened version, the
        // process would fail here rather than on some later call.
        string tool = Path.Combine(AppContext.BaseDirectory, "Ser.Reference.dll");
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet", [tool, "check"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["LD_BIND_NOW"] = "1";
        using var process = Process.Start(start)!;
        var cancel = TestContext.Current.CancellationToken;
        var stdout = process.StandardOutput.ReadToEndAsync(cancel);
        var stderr = process.StandardError.ReadToEndAsync(cancel);
        await process.WaitForExitAsync(cancel).WaitAsync(TimeSpan.FromSeconds(60), cancel);
        Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}: {await stderr}");
        Assert.Contains("tiny model logits", await stdout);
    }
}
