namespace Ser.Reference;

internal static class Program
{
    public static int Main(string[] args)
    {
        Console.Error.WriteLine("Ser.Reference: the engine-vs-TorchSharp benchmark arrives with the reference issue.");
        return 1;
    }
}
