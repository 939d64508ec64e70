using Ser.Engine;
using Ser.Engine.Models;
using Ser.Engine.Training;

namespace Ser.Tool.Commands;

/// <summary>
/// --device cpu | cuda | auto. The CUDA backend is asked for by building a tiny executor on it, so this keeps working
/// unchanged once the backend exists: cuda that cannot start is a one-line error (exit 1); auto falls back to the CPU
/// with a one-line notice.
/// </summary>
internal static class DeviceChoice
{
    /// <returns>The device to use ("cpu" or "cuda").</returns>
    public static string Resolve(string? device, Action<string> notice)
    {
        string d = (device ?? "auto").Trim().ToLowerInvariant();
        switch (d)
        {
            case "cpu":
                return "cpu";
            case "cuda":
                Probe("cuda");
                return "cuda";
            case "auto":
                try
                {
                    Probe("cuda");
                    return "cuda";
                }
                catch (SerException e)
                {
                    notice($"device auto: using the CPU ({e.Message.ReplaceLineEndings(" ")})");
                    return "cpu";
                }
            default:
                throw new SerException($"--device: expected cpu, cuda or auto (got '{device}')");
        }
    }

    static void Probe(string device)
    {
        try
        {
            using var probe = Executor.Create(ModelConfig.Small, new ExecutorOptions { Device = device, Training = false, MaxBatch = 1, MaxFrames = 8, Threads = 1 });
        }
        catch (Exception e) when (e is not SerException and (Ser.Native.NativeException or DllNotFoundException or EntryPointNotFoundException))
        {
            throw new SerException($"device '{device}': {e.Message.ReplaceLineEndings(" ")}");
        }
    }
}
