using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Ser.Engine;

namespace Ser.Reference.Native;

/// <summary>
/// Makes TorchSharp's native library load on systems whose libstdc++ is older than the one it was built with.
/// Call <see cref="EnsureLoaded"/> before the first TorchSharp call (the reference does so itself).
///
/// WHY: TorchSharp 0.107's libLibTorchSharp.so was built with GCC 13 headers, whose &lt;iostream&gt; emits
/// `.globl _ZSt21ios_base_library_initv` in every translation unit that includes it: a bare symbol REFERENCE (no call,
/// no relocation) meant to pull libstdc++'s own stream initialiser into the link. In the shared object that reference
/// still lands in .dynsym, versioned GLIBCXX_3.4.32, so .gnu.version_r lists GLIBCXX_3.4.32 as needed from
/// libstdc++.so.6 (it is the only symbol of that version). Debian 12 ships GCC 12's libstdc++ (up to GLIBCXX_3.4.30), and the dynamic linker refuses the
/// library: "version `GLIBCXX_3.4.32' not found".
///
/// WHAT IS PATCHED: in a COPY of libLibTorchSharp.so (the original, in the NuGet cache or the build output, is never
/// written), the 2-byte vna_flags
/// field of each missing libstdc++ version need gets VER_FLG_WEAK (0x2). The dynamic linker then only warns (under
/// LD_DEBUG) about a missing weak version instead of failing. Nothing else changes: the copy is byte-identical to the
/// original apart from those flag bytes.
///
/// WHY IT IS SOUND: the dynamic linker looks a symbol up only when a relocation names it. Before patching we check that
/// NO relocation names any symbol of a version we weaken (for 0.107: exactly one such symbol,
/// _ZSt21ios_base_library_initv, with zero relocations), so no code can ever bind to the missing version and no
/// replacement ("shim") definition is needed. If a future TorchSharp really used a newer libstdc++ symbol, we refuse
/// with a clear message instead of patching. Streams are still initialised: libc10.so and libtorch_cpu.so (dependencies,
/// so initialised first) construct std::ios_base::Init the pre-GCC-13 way (checked: both relocate
/// _ZNSt8ios_base4InitC1Ev), and libLibTorchSharp.so itself references neither std::cout nor std::cerr.
///
/// WHEN: only if the libstdc++.so.6 this process actually uses (located through the loader, so LD_LIBRARY_PATH and
/// conda setups count) lacks a version that libLibTorchSharp.so needs. Otherwise nothing is done and TorchSharp loads
/// its library as usual.
///
/// HOW TorchSharp THEN FINDS THE COPY: the copy (libLibTorchSharp.glibcxx-weak.so, next to the original in the build
/// output, else in a cache folder) keeps its SONAME libLibTorchSharp.so. Once it is loaded, the dynamic linker answers
/// any later dlopen("libLibTorchSharp.so") with it (glibc matches loaded objects by SONAME), and .NET's probing for
/// [DllImport("LibTorchSharp")] ends with exactly that plain-name dlopen after its path-based tries (of the unpatched
/// file) fail; .NET caches the resulting handle, so those failed tries happen only a handful of times at start-up
/// (13 with LD_DEBUG=versions for the reference check). A copy in a cache folder cannot reach
/// libtorch.so and friends through its RUNPATH ($ORIGIN), so we load those first, by full path from TorchSharp's own
/// native directory, and the copy's DT_NEEDED entries match them by SONAME.
/// </summary>
public static class TorchSharpLoader
{
    private const string LibraryFile = "libLibTorchSharp.so";
    private const string PatchedFile = "libLibTorchSharp.glibcxx-weak.so";
    private const string LibStdCxx = "libstdc++.so.6";
    /// <summary>libLibTorchSharp.so's DT_NEEDED libtorch libraries, in dependency order.</summary>
    private static readonly string[] TorchDependencies = ["libc10.so", "libtorch_cpu.so", "libtorch.so"];

    private static readonly Lock Gate = new();
    private static LoadOutcome? _outcome;

    /// <summary>What <see cref="EnsureLoaded"/> found and did.</summary>
    /// <param name="Patched">True when a patched copy was loaded.</param>
    /// <param name="Weakened">The version needs that were flagged weak (empty if none).</param>
    /// <param name="LibraryPath">The libLibTorchSharp.so in use (the patched copy when patched), or null when not patched.</param>
    /// <param name="Detail">One line saying why, for logs and test output.</param>
    /// <param name="OneDnn">The float32 convolution check run once loaded (<see cref="OneDnnCheck"/>).</param>
    public sealed record LoadOutcome(bool Patched, IReadOnlyList<string> Weakened, string? LibraryPath, string Detail,
        OneDnnCheck.Outcome? OneDnn = null);

    /// <summary>
    /// Idempotent and thread-safe. Throws <see cref="SerException"/> (one line) when the library cannot be made to load.
    /// </summary>
    public static LoadOutcome EnsureLoaded()
    {
        lock (Gate)
        {
            try
            {
                if (_outcome is not null) return _outcome;
                var loaded = LoadCore();
                return _outcome = loaded with { OneDnn = OneDnnCheck.Run() };
            }
            catch (Exception e) when (e is InvalidDataException or ArgumentOutOfRangeException or IOException
                                           or UnauthorizedAccessException or DllNotFoundException or EntryPointNotFoundException)
            {
                throw new SerException($"TorchSharp: cannot prepare its native library: {FirstLine(e.Message)}", e);
            }
        }
    }

    private static LoadOutcome LoadCore()
    {
        if (!OperatingSystem.IsLinux())
            return new LoadOutcome(false, [], null, "not Linux: nothing to do");
        QuietNativeWarnings();

        string original = FindOriginalLibrary();
        string libStdCxxPath = FindLoadedLibStdCxx();
        var provided = new HashSet<string>(ElfImage.Parse(File.ReadAllBytes(libStdCxxPath)).VersionDefinitions(), StringComparer.Ordinal);

        byte[] bytes = File.ReadAllBytes(original);
        var plan = PlanPatch(ElfImage.Parse(bytes), provided);
        if (plan.Count == 0)
            return new LoadOutcome(false, [], null, $"{libStdCxxPath} provides every version {LibraryFile} needs");

        byte[] patched = ApplyPatch(bytes, plan);

        // Dependencies first, from TorchSharp's own folder: a copy outside it cannot find them through its $ORIGIN.
        string nativeDir = Path.GetDirectoryName(original)!;
        foreach (var dependency in TorchDependencies)
        {
            string path = Path.Combine(nativeDir, dependency);
            if (File.Exists(path)) NativeLibrary.Load(path);
        }
        string copy = LoadPatchedCopy(original, patched);
        var names = plan.Select(p => p.Name).ToArray();
        return new LoadOutcome(true, names, copy,
            $"{libStdCxxPath} lacks {string.Join(", ", names)}; loaded {copy} with those needs flagged weak");
    }

    /// <summary>
    /// The libstdc++ version needs of <paramref name="library"/> that <paramref name="provided"/> lacks and that are not
    /// weak already. Throws if a symbol of such a version is actually relocated (used): weakening would then be unsound.
    /// </summary>
    internal static IReadOnlyList<ElfImage.VersionNeed> PlanPatch(ElfImage library, IReadOnlySet<string> provided)
    {
        var missing = library.VersionNeeds()
            .Where(n => n.File == LibStdCxx && !n.IsWeak && !provided.Contains(n.Name))
            .ToList();
        foreach (var need in missing)
        {
            var used = library.SymbolsOfVersion(need.Index).Where(s => s.Relocations > 0).Select(s => s.Symbol).ToList();
            if (used.Count > 0)
                throw new SerException(
                    $"TorchSharp: {LibraryFile} uses {string.Join(", ", used)} from {need.Name}, which this system's " +
                    $"{LibStdCxx} lacks; install a newer libstdc++ (GCC 13 or later) or put one on LD_LIBRARY_PATH");
        }
        return missing;
    }

    /// <summary>A copy of <paramref name="original"/> with VER_FLG_WEAK set on each planned version need.</summary>
    internal static byte[] ApplyPatch(byte[] original, IReadOnlyList<ElfImage.VersionNeed> plan)
    {
        var copy = (byte[])original.Clone();
        foreach (var need in plan)
        {
            ushort flags = (ushort)(need.Flags | ElfImage.VerFlagWeak);
            copy[need.FlagsOffset] = (byte)flags;            // vna_flags, little-endian u16
            copy[need.FlagsOffset + 1] = (byte)(flags >> 8);
        }
        return copy;
    }

    /// <summary>
    /// The directory of libLibTorchSharp.so as .NET would probe it: the host's NATIVE_DLL_SEARCH_DIRECTORIES (from
    /// deps.json: bin/runtimes/linux-x64/native/ for a framework-dependent build, bin/ for a RID-specific one).
    /// </summary>
    internal static string FindOriginalLibrary()
    {
        var dirs = ((AppContext.GetData("NATIVE_DLL_SEARCH_DIRECTORIES") as string) ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Append(AppContext.BaseDirectory)
            .Append(Path.Combine(AppContext.BaseDirectory, "runtimes", RuntimeInformation.RuntimeIdentifier, "native"));
        foreach (var dir in dirs)
        {
            string path = Path.Combine(dir, LibraryFile);
            if (File.Exists(path)) return Path.GetFullPath(path);
        }
        throw new SerException($"TorchSharp: {LibraryFile} not found in the native search directories " +
                               $"({string.Join(", ", dirs)}); is the TorchSharp-cpu package referenced?");
    }

    /// <summary>
    /// The file behind the libstdc++.so.6 this process uses: resolve it through the dynamic linker, take the address
    /// of one of its functions and find the mapping that holds it in /proc/self/maps.
    /// </summary>
    internal static string FindLoadedLibStdCxx()
    {
        if (!NativeLibrary.TryLoad(LibStdCxx, out var handle))
            throw new SerException($"TorchSharp: {LibStdCxx} cannot be loaded; install libstdc++6");
        // std::terminate(): present in every libstdc++ since GLIBCXX_3.4.
        ulong address = (ulong)NativeLibrary.GetExport(handle, "_ZSt9terminatev");
        foreach (var line in File.ReadLines("/proc/self/maps"))
        {
            // "start-end perms offset dev inode path"
            var fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 6) continue;
            var range = fields[0].Split('-');
            ulong start = ulong.Parse(range[0], NumberStyles.HexNumber), end = ulong.Parse(range[1], NumberStyles.HexNumber);
            if (address >= start && address < end) return fields[5].Trim();
        }
        throw new SerException($"TorchSharp: cannot tell which file {LibStdCxx} was loaded from");
    }

    /// <summary>
    /// Writes the patched bytes as libLibTorchSharp.glibcxx-weak.so and loads it, trying in turn: next to the original
    /// (the build output: exec-capable, private to this build, cleaned with it), then
    /// &lt;cache&gt;/ser/torchsharp/&lt;hash of original&gt;/ with &lt;cache&gt; = $XDG_CACHE_HOME or ~/.cache, then the temp folder
    /// (for read-only outputs). Each write is atomic (temp file + rename), an identical existing copy is reused, so
    /// concurrent processes are safe. A place that cannot be written or mapped (e.g. a noexec mount) is skipped.
    /// </summary>
    private static string LoadPatchedCopy(string original, byte[] patched)
    {
        string hash = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(original)))[..16];
        string nativeDir = Path.GetDirectoryName(original)!;
        // Next to the original only inside this app's own folder: a host that probes the NuGet cache directly must
        // not get files written into the package folder.
        bool insideApp = nativeDir.StartsWith(Path.GetFullPath(AppContext.BaseDirectory).TrimEnd('/'), StringComparison.Ordinal);
        var dirs = new List<string>();
        if (insideApp) dirs.Add(nativeDir);
        dirs.Add(Path.Combine(CacheRoot(), "ser", "torchsharp", hash));
        dirs.Add(Path.Combine(Path.GetTempPath(), "ser", "torchsharp", hash));
        return LoadPatchedCopy(patched, dirs);
    }

    internal static string LoadPatchedCopy(byte[] patched, IEnumerable<string> dirs)
    {
        var failures = new List<string>();
        foreach (var dir in dirs)
        {
            string path = Path.Combine(dir, PatchedFile);
            try
            {
                if (!File.Exists(path) || !File.ReadAllBytes(path).AsSpan().SequenceEqual(patched))
                {
                    Directory.CreateDirectory(dir);
                    string temp = Path.Combine(dir, $".{PatchedFile}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
                    File.WriteAllBytes(temp, patched);
                    File.Move(temp, path, overwrite: true);
                }
                NativeLibrary.Load(path);
                return path;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or DllNotFoundException)
            {
                failures.Add($"{path}: {FirstLine(e.Message)}");
            }
        }
        throw new SerException($"TorchSharp: cannot write and load a patched {LibraryFile} ({string.Join("; ", failures)})");
    }

    private static string CacheRoot()
    {
        string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        if (!string.IsNullOrEmpty(xdg) && Path.IsPathRooted(xdg)) return xdg;
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return string.IsNullOrEmpty(home) ? Path.GetTempPath() : Path.Combine(home, ".cache");
    }

    /// <summary>
    /// libtorch logs "Could not initialize NNPACK! Reason: Unsupported hardware." on every convolution on CPUs NNPACK does
    /// not know (Zen 5): ~100 lines per test run. c10 reads its log threshold from TORCH_CPP_LOG_LEVEL when libc10 loads,
    /// so it is set (unless the user set it) in the native environment, which .NET's Environment does not write on Unix.
    /// </summary>
    private static void QuietNativeWarnings()
    {
        if (Environment.GetEnvironmentVariable("TORCH_CPP_LOG_LEVEL") is null) _ = setenv("TORCH_CPP_LOG_LEVEL", "ERROR", 0);
    }

    [DllImport("libc", CharSet = CharSet.Ansi)]
    private static extern int setenv(string name, string value, int overwrite);

    private static string FirstLine(string s) => s.Split('\n')[0].Trim();
}
