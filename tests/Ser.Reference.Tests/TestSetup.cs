using System.Runtime.CompilerServices;
using Ser.Reference.Native;

namespace Ser.Reference.Tests;

internal static class TestSetup
{
    /// <summary>
    /// Runs before any test: TorchSharp's static constructor loads its native library once and caches a failure, so
    /// the loader must run before the first `torch.` access, whichever test comes first. One torch thread: the CI
    /// machine is small and shared, and the sizes here are tiny.
    /// </summary>
    [ModuleInitializer]
    internal static void Initialize()
    {
        TorchSharpLoader.EnsureLoaded();
        TorchSharp.torch.set_num_threads(1);
    }
}
