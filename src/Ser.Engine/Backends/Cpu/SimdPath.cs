using System.Runtime.Intrinsics;

namespace Ser.Engine.Backends.Cpu;

/// <summary>
/// The vector width the CPU kernels run at. Same path, same bits: results are bit-identical run to run on one path,
/// and may differ in the last bits between paths (lane sums are grouped differently).
/// </summary>
public enum SimdPath
{
    /// <summary>One element at a time, no vector instructions in our kernels (a reference, and for CPUs without SIMD).</summary>
    Scalar,
    /// <summary>256-bit vectors (AVX2 + FMA on x86-64).</summary>
    Vector256,
    /// <summary>512-bit vectors (AVX-512F on x86-64).</summary>
    Vector512,
}

/// <summary>
/// Which <see cref="SimdPath"/> this process's CPU kernels use: forced by <see cref="Force"/> (the --simd option), else
/// the <c>SER_SIMD</c> environment variable (avx512, avx2 or scalar), else the widest one the hardware accelerates.
/// </summary>
public static class CpuKernels
{
    public const string EnvironmentVariable = "SER_SIMD";

    static SimdPath? _forced;

    /// <summary>The widest path the JIT accelerates on this machine.</summary>
    public static SimdPath Best =>
        Vector512.IsHardwareAccelerated ? SimdPath.Vector512 :
        Vector256.IsHardwareAccelerated ? SimdPath.Vector256 : SimdPath.Scalar;

    public static bool IsAvailable(SimdPath path) => path switch
    {
        SimdPath.Vector512 => Vector512.IsHardwareAccelerated,
        SimdPath.Vector256 => Vector256.IsHardwareAccelerated,
        _ => true,
    };

    /// <summary>The paths this machine can run, narrowest first.</summary>
    public static IReadOnlyList<SimdPath> Available =>
        [.. Enum.GetValues<SimdPath>().Where(IsAvailable)];

    /// <summary>The path new CPU backends use.</summary>
    public static SimdPath Current => _forced ?? FromEnvironment() ?? Best;

    /// <summary>Forces the path of backends created from now on; null or "auto" goes back to the default.</summary>
    public static void Force(string? name)
    {
        if (name is null || name.Trim().Equals("auto", StringComparison.OrdinalIgnoreCase)) { _forced = null; return; }
        _forced = Parse(name, "--simd");
    }

    /// <summary>The name recorded in run state and bench JSON: "Vector512", "Vector256" or "scalar".</summary>
    public static string Name(SimdPath path) => path == SimdPath.Scalar ? "scalar" : path.ToString();

    /// <summary>avx512 | vector512, avx2 | vector256, scalar; a path this machine lacks is a one-line error.</summary>
    public static SimdPath Parse(string name, string source)
    {
        var path = name.Trim().ToLowerInvariant() switch
        {
            "avx512" or "vector512" => SimdPath.Vector512,
            "avx2" or "vector256" => SimdPath.Vector256,
            "scalar" => SimdPath.Scalar,
            _ => throw new SerException($"{source}: expected avx512, avx2 or scalar (got '{name}')"),
        };
        if (!IsAvailable(path)) throw new SerException($"{source}: this CPU does not accelerate {Name(path)} (best here: {Name(Best)})");
        return path;
    }

    static SimdPath? FromEnvironment() =>
        Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } v ? Parse(v, EnvironmentVariable) : null;
}
