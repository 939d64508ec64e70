using System.Diagnostics;
using CommandLine;
using Ser.Engine;
using Ser.Engine.Audio;
using Ser.Engine.Features;

namespace Ser.Tool.Commands;

/// <summary>Speed of the CPU front end (and the resampler) on synthetic audio; timing lives here, not in tests.</summary>
[Verb("frontend-bench", Hidden = true, HelpText = "Measure the CPU front end's speed (audio seconds per wall second).")]
internal sealed class FrontEndBenchCommand : ICommand
{
    [Option("seconds", Default = 600, HelpText = "Length of the synthetic signal in seconds.")]
    public int Seconds { get; set; } = 600;

    [Option("repeats", Default = 3, HelpText = "Timed runs per setting (the best is reported).")]
    public int Repeats { get; set; } = 3;

    [Option("resample-from", Default = 48000, HelpText = "Also time resampling from this rate to 16 kHz (0: skip).")]
    public int ResampleFrom { get; set; } = 48000;

    public int Run()
    {
        if (Seconds < 1 || Seconds > 36000 || Repeats < 1)
            throw new SerException("--seconds must be in 1..36000 and --repeats at least 1");
        var random = new Random(1);
        var pcm = new float[Seconds * FrontEnd.SampleRate];
        for (int i = 0; i < pcm.Length; i++)
            pcm[i] = 0.3f * MathF.Sin(2 * MathF.PI * 440 * i / FrontEnd.SampleRate) + 0.1f * (random.NextSingle() - 0.5f);
        var dst = new float[FrontEnd.FrameCount(pcm.Length) * FrontEnd.Bins];   // [T, F]
        FrontEnd.Compute(pcm.AsSpan(0, FrontEnd.SampleRate), new float[FrontEnd.FrameCount(FrontEnd.SampleRate) * FrontEnd.Bins]); // warm up

        Console.WriteLine($"front end: {Seconds} s of 16 kHz audio, {dst.Length / FrontEnd.Bins} frames, {Environment.ProcessorCount} cores");
        foreach (int threads in new[] { 1, -1 })
        {
            double best = Best(() => FrontEnd.Compute(pcm, dst, threads));
            string label = threads == 1 ? "1 thread" : $"all cores ({Environment.ProcessorCount})";
            Console.WriteLine($"  {label,-18} {best * 1000,9:F1} ms  {Seconds / best,10:F0} x real time  {dst.Length / FrontEnd.Bins / best / 1e6,6:F2} M frames/s");
        }

        if (ResampleFrom > 0 && ResampleFrom != FrontEnd.SampleRate)
        {
            var input = new float[Seconds * ResampleFrom];
            for (int i = 0; i < input.Length; i++)
                input[i] = 0.3f * MathF.Sin(2 * MathF.PI * 440 * i / ResampleFrom);
            Resampler.Resample(input.AsSpan(0, ResampleFrom), ResampleFrom, FrontEnd.SampleRate);   // warm up, builds the filter
            double best = Best(() => Resampler.Resample(input, ResampleFrom, FrontEnd.SampleRate));
            Console.WriteLine($"resample {ResampleFrom} -> {FrontEnd.SampleRate} Hz ({Resampler.TapsFor(ResampleFrom, FrontEnd.SampleRate)} taps, all cores): " +
                              $"{best * 1000:F1} ms  {Seconds / best:F0} x real time");
        }
        return 0;
    }

    double Best(Action action)
    {
        double best = double.MaxValue;
        for (int r = 0; r < Repeats; r++)
        {
            var sw = Stopwatch.StartNew();
            action();
            best = Math.Min(best, sw.Elapsed.TotalSeconds);
        }
        return best;
    }
}
