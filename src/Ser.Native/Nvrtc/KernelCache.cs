using System.Security.Cryptography;
using System.Text;

namespace Ser.Native;

/// <summary>
/// On-disk cache of compiled kernels, keyed by a SHA-256 of source, options, target architecture and
/// compiler version, so a second run loads CUBINs instead of compiling (NVRTC takes ~100 ms a kernel).
/// Location: SER_KERNEL_CACHE, else $XDG_CACHE_HOME/ser/kernels, else ~/.cache/ser/kernels.
/// Files are written atomically (temp file in the same folder, then rename); a cache that cannot be
/// written only costs a recompile next time, never an error.
/// </summary>
public sealed class KernelCache
{
    public const string DirectoryVariable = "SER_KERNEL_CACHE";

    /// <param name="directory">Cache folder; null for <see cref="DefaultDirectory"/>, "" for no disk cache.</param>
    public KernelCache(string? directory = null) => Directory = directory ?? DefaultDirectory();

    /// <summary>The cache folder ("" when caching on disk is off).</summary>
    public string Directory { get; }

    /// <summary>Compilations done by this instance (cache misses), for tests and logs.</summary>
    public int Compilations { get; private set; }

    public static string DefaultDirectory()
    {
        string? explicitDir = Environment.GetEnvironmentVariable(DirectoryVariable);
        if (!string.IsNullOrWhiteSpace(explicitDir))
            return explicitDir;
        string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        if (!string.IsNullOrWhiteSpace(xdg))
            return Path.Combine(xdg, "ser", "kernels");
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return string.IsNullOrEmpty(home)
            ? Path.Combine(Path.GetTempPath(), "ser-kernels")
            : Path.Combine(home, ".cache", "ser", "kernels");
    }

    /// <summary>Hex SHA-256 over everything that changes the compiled code.</summary>
    public static string Key(string source, IEnumerable<string> options, string target, string compilerVersion)
    {
        // NUL separators: no two different inputs concatenate to the same text.
        string text = string.Join('\0', ["ser-kernel-v1", source, string.Join('\n', options), target, compilerVersion]);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
    }

    /// <summary>The cached image for these inputs, compiling (and storing) it on a miss.</summary>
    public KernelImage GetOrCompile(string source, IReadOnlyList<string> options, string target, string compilerVersion, Func<KernelImage> compile)
    {
        string key = Key(source, options, target, compilerVersion);
        string? path = PathFor(key, target);
        if (path is not null && TryRead(path) is { } cached)
            return new KernelImage(cached, target, "") { FromCache = true };
        KernelImage image = compile();
        Compilations++;
        if (path is not null)
            TryWrite(path, image.Image);
        return image;
    }

    /// <summary>Drops a cached entry that turned out unusable (e.g. the driver refused it), so the next call recompiles.</summary>
    public void Evict(string source, IReadOnlyList<string> options, string target, string compilerVersion)
    {
        if (PathFor(Key(source, options, target, compilerVersion), target) is { } path)
            try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    string? PathFor(string key, string target) =>
        Directory.Length == 0 ? null : Path.Combine(Directory, key + (target.StartsWith("sm_", StringComparison.Ordinal) ? ".cubin" : ".ptx"));

    static byte[]? TryRead(string path)
    {
        try
        {
            return File.Exists(path) ? File.ReadAllBytes(path) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    static void TryWrite(string path, byte[] bytes)
    {
        string temp = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        try
        {
            System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(temp, bytes);
            File.Move(temp, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }
}
