using Ser.Reference.Native;

namespace Ser.Reference;

/// <summary>
/// `Ser.Reference check`: loads TorchSharp (patching its library copy when the system libstdc++ is too old, see
/// <see cref="TorchSharpLoader"/>), then runs the tiny reference model once. The engine-vs-reference harness comes later.
/// </summary>
internal static class Program
{
    public static int Main(string[] args)
    {
        if (args is not ["check"])
        {
            Console.Error.WriteLine("usage: Ser.Reference check");
            return 2;
        }
        try
        {
            Console.WriteLine($"TorchSharp: {TorchSharpLoader.EnsureLoaded().Detail}");
            var config = ReferenceConfig.Tiny(bins: 16);
            using var model = new ReferenceCrnn(config, ReferenceCrnn.RandomWeights(config, seed: 1));
            var logits = model.Logits(new float[2 * 9 * 16], [9, 5]);
            Console.WriteLine($"tiny model logits [2,{config.Classes}]: {string.Join(" ", logits.Select(v => v.ToString("G5")))}");
            return 0;
        }
        catch (Ser.Engine.SerException e)
        {
            Console.Error.WriteLine($"Ser.Reference: error: {e.Message}");
            return 1;
        }
    }
}
