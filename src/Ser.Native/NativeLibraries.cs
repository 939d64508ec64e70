using System.Reflection;
using System.Runtime.InteropServices;

[assembly: System.Runtime.CompilerServices.DisableRuntimeMarshalling]

namespace Ser.Native;

/// <summary>
/// The library names used in [LibraryImport] and the resolver that maps them to real files through
/// <see cref="LibraryLocator.Default"/>. Each XxxNative class registers the resolver from its static
/// constructor, so nothing is looked up until the first native call (a machine without a GPU pays nothing).
/// </summary>
internal static class NativeLibraries
{
    public const string Cuda = "ser-cuda";
    public const string Nvrtc = "ser-nvrtc";
    public const string Cublas = "ser-cublas";
    public const string Cudnn = "ser-cudnn";
    public const string Cufft = "ser-cufft";

    static int _registered;

    public static void Register()
    {
        if (Interlocked.Exchange(ref _registered, 1) == 0)
            NativeLibrary.SetDllImportResolver(typeof(NativeLibraries).Assembly, Resolve);
    }

    static nint Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath)
    {
        CudaLibrary? library = name switch
        {
            Cuda => CudaLibrary.Driver,
            Nvrtc => CudaLibrary.Nvrtc,
            Cublas => CudaLibrary.Cublas,
            Cudnn => CudaLibrary.Cudnn,
            Cufft => CudaLibrary.Cufft,
            _ => null,
        };
        // Throwing here reaches the caller of the native method as a NativeException with the full story.
        return library is { } l ? LibraryLocator.Default.Require(l) : 0;
    }
}
