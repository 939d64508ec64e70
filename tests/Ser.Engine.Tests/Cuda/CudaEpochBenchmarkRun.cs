using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ser.Engine.Backends.Cuda;
using Ser.Engine.IO;

namespace Ser.Engine.Tests.Cuda;

/// <summary>
/// Not a test: the host of the GPU epoch benchmark (<see cref="CudaEpochBenchmark"/>) until `sertool bench` grows an
/// epoch mode. It runs only when SER_GPU_EPOCH_BENCH names the JSON file to write (tools/device/run-gpu.sh sets it),
/// and skips otherwise. Optional: SER_GPU_EPOCH_BENCH_PRESET (paper), _BATCHES (16,32,64), _EPOCHS (3),
/// _UTTERANCES (2280), _TF32 (0). A text summary goes next to the JSON (.txt).
/// </summary>
[Collection("Cuda")]
public class CudaEpochBenchmarkRun
{
    static string Env(string name, string fallback) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : fallback;

    [Fact]
    public void Gpu_epoch_benchmark()
    {
        string? output = Environment.GetEnvironmentVariable("SER_GPU_EPOCH_BENCH");
        Assert.SkipUnless(output is not null, "set SER_GPU_EPOCH_BENCH=<file.json> to run the GPU epoch benchmark");
        Assert.SkipUnless(CudaGpu.Available, CudaGpu.Reason);
        string preset = Env("SER_GPU_EPOCH_BENCH_PRESET", "paper");
        int[] sizes = Env("SER_GPU_EPOCH_BENCH_BATCHES", "16,32,64").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        int epochs = int.Parse(Env("SER_GPU_EPOCH_BENCH_EPOCHS", "3"), CultureInfo.InvariantCulture);
        int utterances = int.Parse(Env("SER_GPU_EPOCH_BENCH_UTTERANCES", "2280"), CultureInfo.InvariantCulture);
        bool tf32 = Env("SER_GPU_EPOCH_BENCH_TF32", "0") == "1";
        var (pcm, labels) = CudaEpochBenchmark.SyntheticSet(utterances, 4, seed: 7);
        var text = new StringBuilder();
        var log = new StringWriter(text);
        log.WriteLine($"GPU epoch benchmark: preset {preset}, {utterances} synthetic utterances " +
                      $"({pcm.Sum(p => (double)p.Length) / 16000 / 3600:0.00} h of audio), {epochs} epochs per batch size, TF32 {(tf32 ? "on" : "off")}");
        var results = new JsonArray();
        foreach (int b in sizes)
        {
            try
            {
                var r = CudaEpochBenchmark.Run(preset, b, pcm, labels, epochs, seed: 7, tf32, log);
                results.Add(r.ToJson());
                log.WriteLine($"{preset} B={b}: {r.Batches} batches, first epoch {r.FirstEpochSeconds:0.00} s, epoch {r.EpochSeconds:0.00} s " +
                              $"(median of the rest), {r.AudioSecondsPerSecond:0} audio-s/s, backend peak {r.BackendPeakBytes / 1048576.0:0} MiB " +
                              $"+ resident audio {r.SourceBytes / 1048576.0:0} MiB, driver-reported used {r.DriverUsedBytes / 1048576.0:0} MiB");
            }
            catch (SerException e)
            {
                results.Add(new JsonObject { ["preset"] = preset, ["batch"] = b, ["error"] = e.Message });
                log.WriteLine($"{preset} B={b}: {e.Message}");
            }
        }
        var doc = new JsonObject
        {
            ["tool"] = "CudaEpochBenchmark (Ser.Engine.Tests host)",
            ["date_utc"] = DateTime.UtcNow.ToString("o", CultureInfo.InvariantCulture),
            ["gpu"] = CudaGpu.Backend.Device.Name,
            ["tf32"] = tf32,
            ["epochs"] = epochs,
            ["results"] = results,
        };
        AtomicFile.WriteAllText(output!, doc.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        AtomicFile.WriteAllText(Path.ChangeExtension(output!, ".txt"), text.ToString());
        TestContext.Current.SendDiagnosticMessage(text.ToString());
    }
}
