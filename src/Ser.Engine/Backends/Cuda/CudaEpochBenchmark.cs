using System.Diagnostics;
using System.Text.Json.Nodes;
using Ser.Engine.Features;
using Ser.Engine.Models;
using Ser.Engine.Training;

namespace Ser.Engine.Backends.Cuda;

/// <summary>
/// Training throughput on the GPU the way `sertool train --device cuda` will run: a synthetic, IEMOCAP-sized set
/// (2,280 utterances by default; lengths log-normal around a 3.5 s median, sigma 0.6, clipped to 1..12 s, the same
/// distribution as `sertool bench`; noise audio, since throughput does not depend on content) resident on the GPU,
/// features computed on the GPU per batch (<see cref="CudaBatchSource"/>), length-sorted batches in shuffled order,
/// queued steps and one synchronisation per epoch. Reports per batch size: time per epoch (the first, which also
/// picks cuDNN algorithms and builds cuFFT plans, separately from the median of the rest), audio seconds trained per
/// second, batches, and memory (this backend's peak bytes and the driver's used bytes).
/// </summary>
public static class CudaEpochBenchmark
{
    public sealed record Result(string Preset, int BatchSize, int Utterances, double AudioSeconds, int Batches, double FirstEpochSeconds,
        double EpochSeconds, double AudioSecondsPerSecond, long BackendPeakBytes, long DriverUsedBytes, long SourceBytes, bool Resident)
    {
        public JsonObject ToJson() => new()
        {
            ["preset"] = Preset,
            ["batch"] = BatchSize,
            ["utterances"] = Utterances,
            ["audio_seconds"] = AudioSeconds,
            ["batches_per_epoch"] = Batches,
            ["first_epoch_seconds"] = FirstEpochSeconds,
            ["epoch_seconds_median"] = EpochSeconds,
            ["audio_seconds_per_second"] = AudioSecondsPerSecond,
            ["backend_peak_bytes"] = BackendPeakBytes,
            ["driver_used_bytes"] = DriverUsedBytes,
            ["resident_audio_bytes"] = SourceBytes,
            ["resident"] = Resident,
        };
    }

    /// <summary>The synthetic set: PCM per utterance and a label per utterance (classes round robin).</summary>
    public static (float[][] Pcm, int[] Labels) SyntheticSet(int utterances, int classes, int seed)
    {
        var r = new Random(seed);
        var pcm = new float[utterances][];
        var labels = new int[utterances];
        for (int i = 0; i < utterances; i++)
        {
            double z = Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble());
            double seconds = Math.Clamp(3.5 * Math.Exp(0.6 * z), 1.0, 12.0);
            var x = new float[(int)(seconds * FrontEnd.SampleRate)];
            for (int n = 0; n < x.Length; n++) x[n] = (float)(r.NextDouble() * 0.2 - 0.1);
            pcm[i] = x;
            labels[i] = i % classes;
        }
        return (pcm, labels);
    }

    /// <summary>Batches of one epoch: items sorted longest first (random ties), cut into batches, batch order shuffled.</summary>
    static List<int[]> Epoch(int[] frames, int batchSize, Random r)
    {
        var order = Enumerable.Range(0, frames.Length).Select(i => (Item: i, Key: r.Next())).OrderByDescending(p => frames[p.Item])
            .ThenBy(p => p.Key).Select(p => p.Item).ToArray();
        var batches = order.Chunk(batchSize).ToList();
        for (int i = batches.Count - 1; i > 0; i--)
        {
            int j = r.Next(i + 1);
            (batches[i], batches[j]) = (batches[j], batches[i]);
        }
        return batches;
    }

    public static Result Run(string preset, int batchSize, float[][] pcm, int[] labels, int epochs, int seed, bool tf32 = false,
        TextWriter? log = null)
    {
        var config = ModelConfig.Preset(preset);
        int[] frames = pcm.Select(p => FrontEnd.FrameCount(p.Length)).ToArray();
        var sorted = frames.OrderByDescending(f => f).ToArray();
        long maxPadded = 0;
        for (int i = 0; i < sorted.Length; i += batchSize) maxPadded = Math.Max(maxPadded, (long)Math.Min(batchSize, sorted.Length - i) * sorted[i]);
        var options = new ExecutorOptions
        {
            Device = "cuda", MaxBatch = batchSize, MaxFrames = sorted[0], MaxPaddedFrames = maxPadded, Tf32 = tf32,
        };
        using var ex = Executor.Create(config, options);
        ex.InitializeParameters((ulong)seed);
        var cuda = ex.Cuda!;
        using var source = new CudaBatchSource(ex, pcm, labels, FeatureStats.Identity);
        var counts = Enumerable.Range(0, config.Classes).Select(c => (float)labels.Count(l => l == c)).ToArray();
        var r = new Random(seed);
        var times = new List<double>();
        int batches = 0;
        for (int e = 0; e < epochs; e++)
        {
            var epoch = Epoch(frames, batchSize, r);
            batches = epoch.Count;
            long t0 = Stopwatch.GetTimestamp();
            foreach (var items in epoch) source.QueueTrainStep(items, counts);
            var totals = ex.TakeQueuedTotals(); // the one wait of the epoch
            double seconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            times.Add(seconds);
            log?.WriteLine($"  {preset} B={batchSize} epoch {e + 1}: {seconds:0.000} s, mean loss {totals.MeanLoss:0.0000}, " +
                           $"train accuracy {totals.Accuracy:0.000}");
        }
        var (free, total) = cuda.MemoryInfo();
        double audio = pcm.Sum(p => (double)p.Length) / FrontEnd.SampleRate;
        var rest = times.Skip(1).DefaultIfEmpty(times[0]).Order().ToList();
        double median = rest.Count % 2 == 1 ? rest[rest.Count / 2] : (rest[rest.Count / 2 - 1] + rest[rest.Count / 2]) / 2;
        return new Result(preset, batchSize, pcm.Length, audio, batches, times[0], median, audio / median, cuda.PeakDeviceBytes,
            total - free, source.DeviceBytes, source.Resident);
    }
}
