using CommandLine;
using Ser.Engine;
using Ser.Engine.Audio;
using Ser.Engine.Features;
using Ser.Tool.Plots;

namespace Ser.Tool.Commands;

[Verb("spectrogram", HelpText = "Render the front end's spectrogram of a WAV file (dB, not normalised, 0-4 kHz) as a PNG.")]
internal sealed class SpectrogramCommand : ICommand
{
    [Value(0, MetaName = "FILE.wav", Required = true, HelpText = "WAV (any PCM/float format), AIFF, MP3 or Ogg Vorbis file, any rate and channel count.")]
    public string Input { get; set; } = "";

    [Option('o', "out", HelpText = "PNG to write (default: the input path with .png).")]
    public string? Output { get; set; }

    [Option("width", Default = 1200, HelpText = "Image width in pixels.")]
    public int Width { get; set; } = 1200;

    [Option("height", Default = 600, HelpText = "Image height in pixels.")]
    public int Height { get; set; } = 600;

    [Option("range", Default = 80.0, HelpText = "dB span of the colour map below the loudest cell.")]
    public double RangeDb { get; set; } = 80;

    public int Run()
    {
        if (!(RangeDb > 0 && RangeDb <= 300))
            throw new SerException($"--range {RangeDb}: must be in (0, 300] dB");
        string output = Output ?? Path.ChangeExtension(Input, ".png");

        float[] pcm = WavReader.ReadMono(Input, FrontEnd.SampleRate);
        int frames = FrontEnd.FrameCount(pcm.Length);
        float[] db = FrontEnd.Compute(pcm);                  // [T, F]

        var plot = SpectrogramPlot.Create(db, frames, FrontEnd.Bins,
            secondsPerFrame: (double)FrontEnd.Hop / FrontEnd.SampleRate,
            hzPerBin: (double)FrontEnd.SampleRate / FrontEnd.DftSize,
            title: Path.GetFileName(Input), maxColumns: Width, rangeDb: RangeDb);
        PlotFiles.SavePng(plot, output, Width, Height);
        Console.WriteLine($"{output}: {frames} frames ({pcm.Length / (double)FrontEnd.SampleRate:F2} s) x {FrontEnd.Bins} bins");
        return 0;
    }
}
