namespace Ser.Native.Tests;

/// <summary>The NVRTC kernel cache, with a stand-in compiler. Runs without a GPU.</summary>
public sealed class KernelCacheTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("ser-kcache-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    const string Source = "extern \"C\" __global__ void k(float* x) { x[0] = 1; }";
    static readonly string[] Options = ["--std=c++17"];

    [Fact]
    public void Key_changes_with_source_options_target_and_compiler()
    {
        string key = KernelCache.Key(Source, Options, "sm_90", "13.0");
        Assert.Equal(64, key.Length);
        Assert.Equal(key, KernelCache.Key(Source, Options, "sm_90", "13.0"));
        Assert.NotEqual(key, KernelCache.Key(Source + " ", Options, "sm_90", "13.0"));
        Assert.NotEqual(key, KernelCache.Key(Source, ["--std=c++14"], "sm_90", "13.0"));
        Assert.NotEqual(key, KernelCache.Key(Source, Options, "sm_80", "13.0"));
        Assert.NotEqual(key, KernelCache.Key(Source, Options, "compute_90", "13.0"));
        Assert.NotEqual(key, KernelCache.Key(Source, Options, "sm_90", "12.8"));
        // Separators keep field boundaries: moving text between fields changes the key.
        Assert.NotEqual(KernelCache.Key("a", ["b"], "sm_90", "1"), KernelCache.Key("ab", [], "sm_90", "1"));
    }

    [Fact]
    public void Second_request_is_served_from_disk_and_a_new_target_compiles_again()
    {
        int calls = 0;
        KernelImage Compile(string target) { calls++; return new KernelImage([1, 2, 3, (byte)calls], target, "log"); }

        var cache = new KernelCache(_dir);
        var first = cache.GetOrCompile(Source, Options, "sm_90", "13.0", () => Compile("sm_90"));
        var again = new KernelCache(_dir).GetOrCompile(Source, Options, "sm_90", "13.0", () => Compile("sm_90"));
        Assert.Equal(1, calls);
        Assert.False(first.FromCache);
        Assert.True(again.FromCache);
        Assert.Equal(first.Image, again.Image);

        var ptx = cache.GetOrCompile(Source, Options, "compute_90", "13.0", () => Compile("compute_90"));
        Assert.Equal(2, calls);
        Assert.False(ptx.IsCubin);
        var files = Directory.GetFiles(_dir).Select(Path.GetFileName).Order().ToArray();
        Assert.Equal(2, files.Length);
        Assert.Contains(files, f => f!.EndsWith(".cubin", StringComparison.Ordinal));
        Assert.Contains(files, f => f!.EndsWith(".ptx", StringComparison.Ordinal));
        Assert.DoesNotContain(files, f => f!.EndsWith(".tmp", StringComparison.Ordinal));
    }

    [Fact]
    public void Evicted_entries_are_compiled_again()
    {
        int calls = 0;
        var cache = new KernelCache(_dir);
        KernelImage Compile() { calls++; return new KernelImage([9], "sm_90", ""); }
        cache.GetOrCompile(Source, Options, "sm_90", "13.0", Compile);
        cache.Evict(Source, Options, "sm_90", "13.0");
        cache.GetOrCompile(Source, Options, "sm_90", "13.0", Compile);
        Assert.Equal(2, calls);
    }

    [Fact]
    public void An_unwritable_or_disabled_cache_still_compiles()
    {
        string file = Path.Combine(_dir, "a-file");
        File.WriteAllText(file, "");
        int calls = 0;
        KernelImage Compile() { calls++; return new KernelImage([7], "sm_90", ""); }

        var blocked = new KernelCache(Path.Combine(file, "kernels"));  // a folder under a file cannot exist
        Assert.Equal([7], blocked.GetOrCompile(Source, Options, "sm_90", "13.0", Compile).Image);
        var disabled = new KernelCache("");
        disabled.GetOrCompile(Source, Options, "sm_90", "13.0", Compile);
        disabled.GetOrCompile(Source, Options, "sm_90", "13.0", Compile);
        Assert.Equal(3, calls);
    }

    [Fact]
    public void Target_follows_the_gpu_and_falls_back_to_ptx_for_newer_gpus()
    {
        int[] supported = [75, 80, 86, 89, 90];
        Assert.Equal("sm_90", NvrtcCompiler.TargetFor(9, 0, supported));
        Assert.Equal("sm_86", NvrtcCompiler.TargetFor(8, 6, supported));
        Assert.Equal("compute_90", NvrtcCompiler.TargetFor(12, 0, supported));
        Assert.Throws<NativeException>(() => NvrtcCompiler.TargetFor(6, 1, supported));
    }
}
