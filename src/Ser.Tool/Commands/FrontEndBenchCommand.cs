using System.Diagnostics;
using System.Text.Json;
using CommandLine;
using Ser.Engine;
using Ser.Engine.Backends.Cuda;
using Ser.Engine.Features;
using Ser.Engine.IO;
using Ser.Native;
using Spectre.Console;

namespace Ser.Tool.Commands;

/// <summary>
/// `sertool frontend-bench`: spectrogram front-end throughput on synthetic audio (length-sorted batches
/// of 1-12 s utterances), as audio hours processed per wall-clock second. On the GPU it reports the
/// front end alone (PCM already on the device, features left there: what training sees) and including
/// the host-to-device copy of the PCM and the device-to-host copy of the features (pinned buffers).
/// With both devices it also checks the GPU features against the CPU ones.
/// Legend: B batch, L samples, T frames, F = 400 bins.
/// </summary>
[Verb("frontend-bench", HelpText = "Front-end throughput (audio hours per second) on synthetic audio, on the CPU, the GPU (--device cuda, with and without host<->device copies) or both (with a GPU-vs-CPU check).")]
internal sealed class FrontEndBenchCommand : ICommand
{
    [Option("device", Default = "cpu", HelpText = "cpu, cuda or both.")]
    public string Device { get; set; } = "cpu";

    [Option("hours", Default = 0.25, HelpText = "Hours of synthetic audio per pass.")]
    public double Hours { get; set; } = 0.25;

    [Option("batch", Default = 64, HelpText = "Utterances per batch.")]
    public int BatchSize { get; set; } = 64;

    [Option("repeat", Default = 3, HelpText = "Timed passes; the best is reported.")]
    public int Repeat { get; set; } = 3;

    [Option("threads", Default = 0, HelpText = "CPU threads (0: all cores).")]
    public int Threads { get; set; }

    [Option("seed", Default = 1, HelpText = "Seed of the synthetic audio.")]
    public int Seed { get; set; } = 1;

    [Option("json", HelpText = "Also write the results to this JSON file.")]
    public string? JsonPath { get; set; }

    sealed record Result(string Name, double AudioHours, double Seconds)
    {
        public double HoursPerSecond => AudioHours / Seconds;
    }

    public int Run()
    {
        string device = Device.ToLowerInvariant();
        if (device is not ("cpu" or "cuda" or "both"))
            throw new SerException($"--device: '{Device}' is not one of cpu, cuda, both");
        if (!(Hours > 0 && Hours <= 100))
            throw new SerException($"--hours: {Hours} is not in (0, 100]");
        if (BatchSize < 1 || Repeat < 1 || Threads < 0)
            throw new SerException("--batch and --repeat must be at least 1 and --threads at least 0");

        float[][] utterances = SyntheticAudio(Hours, Seed);
        double audioHours = utterances.Sum(u => (double)u.Length) / FrontEnd.SampleRate / 3600;
        var results = new List<Result>();
        var notes = new List<string>();
        string? gpuName = null;

        float[][]? cpuFeatures = null;
        if (device is "cpu" or "both")
        {
            try
            {
                results.Add(MeasureCpu(utterances, audioHours, out cpuFeatures));
            }
            catch (NotImplementedException)
            {
                if (device == "cpu")
                    throw new SerException("the CPU front end (Ser.Engine.Features.FrontEnd) is not implemented in this build");
                notes.Add("CPU front end not implemented in this build: no CPU timing and no GPU-vs-CPU check");
            }
        }
        if (device is "cuda" or "both")
        {
            using var gpu = CudaDevice.Open();
            gpuName = $"{gpu.Name} (sm_{gpu.ComputeMajor}{gpu.ComputeMinor})";
            results.AddRange(MeasureCuda(gpu, utterances, audioHours, cpuFeatures, notes));
        }

        Print(results, notes, gpuName, audioHours, utterances.Length);
        if (JsonPath is not null)
            WriteJson(JsonPath, results, notes, gpuName, audioHours, utterances.Length);
        return 0;
    }

    Result MeasureCpu(float[][] utterances, double audioHours, out float[][] features)
    {
        int threads = Threads == 0 ? Environment.ProcessorCount : Threads;
        var output = new float[utterances.Length][];
        var options = new ParallelOptions { MaxDegreeOfParallelism = threads };
        FrontEnd.Compute(utterances[0]);  // warm-up, outside Parallel so a missing front end surfaces as itself
        double best = double.MaxValue;
        for (int r = 0; r < Repeat; r++)
        {
            var clock = Stopwatch.StartNew();
            Parallel.For(0, utterances.Length, options, i => output[i] = FrontEnd.Compute(utterances[i]));
            best = Math.Min(best, clock.Elapsed.TotalSeconds);
        }
        features = output;
        return new Result($"cpu ({threads} threads)", audioHours, best);
    }

    unsafe List<Result> MeasureCuda(CudaDevice gpu, float[][] utterances, double audioHours, float[][]? cpuFeatures, List<string> notes)
    {
        using var frontEnd = new CudaFrontEnd(gpu);
        var batches = new List<(int First, int Count, long Offset, long Samples, int Frames)>();
        long offset = 0, maxSamples = 0, maxOut = 0;
        for (int first = 0; first < utterances.Length; first += BatchSize)
        {
            int count = Math.Min(BatchSize, utterances.Length - first);
            long samples = 0;
            int frames = 0;
            for (int i = first; i < first + count; i++)
            {
                samples += utterances[i].Length;
                frames = Math.Max(frames, CudaFrontEnd.FrameCount(utterances[i].Length));
            }
            batches.Add((first, count, offset, samples, frames));
            offset += samples;
            maxSamples = Math.Max(maxSamples, samples);
            maxOut = Math.Max(maxOut, (long)count * frames * FrontEnd.Bins);
        }
        int[][] lengths = batches.Select(b => utterances.Skip(b.First).Take(b.Count).Select(u => u.Length).ToArray()).ToArray();

        gpu.MakeCurrent();
        using var devicePcm = gpu.Allocate<float>(offset);      // [sum L] every batch, back to back
        using var deviceOut = gpu.Allocate<float>(maxOut);      // [B, T, F] one batch
        using var pinnedPcm = CudaHostMemory.Allocate(maxSamples * sizeof(float));
        using var pinnedOut = CudaHostMemory.Allocate(maxOut * sizeof(float));
        for (int b = 0; b < batches.Count; b++)
        {
            long at = batches[b].Offset * sizeof(float);
            for (int i = batches[b].First; i < batches[b].First + batches[b].Count; i++)
            {
                devicePcm.CopyFrom<float>(utterances[i], gpu.Stream, at);
                at += utterances[i].Length * sizeof(float);
            }
        }
        gpu.Synchronize();

        // Warm-up: kernels compiled/loaded, every cuFFT plan size created.
        foreach (var (b, i) in batches.Select((b, i) => (b, i)))
            frontEnd.Compute(devicePcm.Pointer + (ulong)(b.Offset * sizeof(float)), lengths[i], deviceOut.Pointer, b.Frames);
        gpu.Synchronize();

        using var start = CudaEvent.Create();
        using var end = CudaEvent.Create();
        double bestExcl = double.MaxValue, bestIncl = double.MaxValue;
        for (int r = 0; r < Repeat; r++)
        {
            start.Record(gpu.Stream);
            foreach (var (b, i) in batches.Select((b, i) => (b, i)))
                frontEnd.Compute(devicePcm.Pointer + (ulong)(b.Offset * sizeof(float)), lengths[i], deviceOut.Pointer, b.Frames);
            end.Record(gpu.Stream);
            bestExcl = Math.Min(bestExcl, CudaEvent.ElapsedMilliseconds(start, end) / 1000.0);
        }
        for (int r = 0; r < Repeat; r++)
        {
            var clock = Stopwatch.StartNew();
            foreach (var (b, i) in batches.Select((b, i) => (b, i)))
            {
                Span<float> staging = pinnedPcm.AsSpan<float>();
                long at = 0;
                for (int u = b.First; u < b.First + b.Count; u++)
                {
                    utterances[u].CopyTo(staging[(int)at..]);
                    at += utterances[u].Length;
                }
                CudaDriver.Check(CudaNative.cuMemcpyHtoDAsync_v2(devicePcm.Pointer, (void*)pinnedPcm.Value, (nuint)(b.Samples * sizeof(float)), gpu.Stream.Value));
                frontEnd.Compute(devicePcm.Pointer, lengths[i], deviceOut.Pointer, b.Frames);
                long outBytes = (long)b.Count * b.Frames * FrontEnd.Bins * sizeof(float);
                CudaDriver.Check(CudaNative.cuMemcpyDtoHAsync_v2((void*)pinnedOut.Value, deviceOut.Pointer, (nuint)outBytes, gpu.Stream.Value));
                gpu.Synchronize();  // the pinned buffers are reused by the next batch
            }
            bestIncl = Math.Min(bestIncl, clock.Elapsed.TotalSeconds);
        }

        if (cpuFeatures is not null)
            notes.Add(CompareWithCpu(frontEnd, utterances, cpuFeatures));
        return
        [
            new Result("cuda, front end only (PCM and features on the GPU)", audioHours, bestExcl),
            new Result("cuda, incl. host->device PCM and device->host features", audioHours, bestIncl),
        ];
    }

    // The first batch on the GPU against the CPU features: the largest |Δ| in dB over the bins within 50 dB of their frame's peak.
    string CompareWithCpu(CudaFrontEnd frontEnd, float[][] utterances, float[][] cpuFeatures)
    {
        int count = Math.Min(BatchSize, utterances.Length);
        float[] gpu = frontEnd.Compute(utterances.Take(count).ToArray(), out int frames);
        double worst = 0;
        long compared = 0;
        for (int b = 0; b < count; b++)
        {
            float[] cpu = cpuFeatures[b];
            int t = cpu.Length / FrontEnd.Bins;
            for (int f = 0; f < t; f++)
            {
                var cpuRow = cpu.AsSpan(f * FrontEnd.Bins, FrontEnd.Bins);
                var gpuRow = gpu.AsSpan((b * frames + f) * FrontEnd.Bins, FrontEnd.Bins);
                float peak = float.MinValue;
                foreach (float v in cpuRow)
                    peak = Math.Max(peak, v);
                for (int k = 0; k < FrontEnd.Bins; k++)
                    if (cpuRow[k] >= peak - 50)
                    {
                        worst = Math.Max(worst, Math.Abs(cpuRow[k] - gpuRow[k]));
                        compared++;
                    }
            }
        }
        return $"GPU vs CPU on {count} utterances: max |Δ| = {worst:E2} dB over {compared} bins within 50 dB of their frame peak (tolerance 2e-3 dB)";
    }

    static float[][] SyntheticAudio(double hours, int seed)
    {
        // Speech-like level: two harmonics of a random pitch plus noise, 1-12 s long, sorted by length
        // (training batches are length-sorted, which keeps padding small).
        var random = new Random(seed);
        long target = (long)(hours * 3600 * FrontEnd.SampleRate);
        var list = new List<float[]>();
        for (long total = 0; total < target;)
        {
            int length = (int)Math.Min(target - total, random.Next(FrontEnd.SampleRate, 12 * FrontEnd.SampleRate));
            length = Math.Max(length, 1);
            var x = new float[length];
            double w = 2 * Math.PI * (100 + 200 * random.NextDouble()) / FrontEnd.SampleRate;
            double c1 = Math.Cos(w), s1 = Math.Sin(w), re = 1, im = 0;
            for (int n = 0; n < length; n++)
            {
                // (re, im) = e^{i w n} by rotation; the second harmonic is its square.
                double second = re * re - im * im;
                x[n] = (float)(0.1 * im + 0.05 * second + 0.01 * (random.NextDouble() - 0.5));
                (re, im) = (re * c1 - im * s1, re * s1 + im * c1);
            }
            list.Add(x);
            total += length;
        }
        return list.OrderBy(u => u.Length).ToArray();
    }

    void Print(List<Result> results, List<string> notes, string? gpuName, double audioHours, int utterances)
    {
        AnsiConsole.WriteLine($"front-end bench: {audioHours:F3} h of synthetic audio in {utterances} utterances, batches of {BatchSize}, best of {Repeat}"
            + (gpuName is null ? "" : $", GPU {gpuName}"));
        var table = new Table().AddColumns("Path", "Seconds", "Audio hours / s", "x real time");
        foreach (var r in results)
            table.AddRow(Markup.Escape(r.Name), $"{r.Seconds:F4}", $"{r.HoursPerSecond:F2}", $"{r.HoursPerSecond * 3600:F0}");
        AnsiConsole.Write(table);
        foreach (string note in notes)
            AnsiConsole.WriteLine(note);
    }

    void WriteJson(string path, List<Result> results, List<string> notes, string? gpuName, double audioHours, int utterances)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteNumber("audioHours", audioHours);
            json.WriteNumber("utterances", utterances);
            json.WriteNumber("batch", BatchSize);
            json.WriteNumber("repeat", Repeat);
            json.WriteString("gpu", gpuName);
            json.WriteStartArray("results");
            foreach (var r in results)
            {
                json.WriteStartObject();
                json.WriteString("path", r.Name);
                json.WriteNumber("seconds", r.Seconds);
                json.WriteNumber("audioHoursPerSecond", r.HoursPerSecond);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteStartArray("notes");
            foreach (string n in notes)
                json.WriteStringValue(n);
            json.WriteEndArray();
            json.WriteEndObject();
        }
        AtomicFile.WriteAllBytes(path, stream.ToArray());
    }
}
