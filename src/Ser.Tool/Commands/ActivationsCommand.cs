using System.Globalization;
using CommandLine;
using Ser.Engine;
using Ser.Engine.Audio;
using Ser.Engine.Features;
using Ser.Engine.Inference;
using Ser.Tool.Plots;

namespace Ser.Tool.Commands;

/// <summary>
/// `sertool activations --model M FILE.wav --out x.png`: the trained BiLSTM's hidden states over one utterance (run whole
/// and alone) as a grey-scale picture like the paper's Figures 3 and 4, plus the model's prediction for the file.
/// </summary>
[Verb("activations", HelpText = "Draw a trained model's BiLSTM activations over time for one WAV file (like the paper's Figures 3 and 4).")]
internal sealed class ActivationsCommand : ICommand
{
    [Option("model", HelpText = ModelChoice.HelpText)]
    public string? ModelOption { get; set; }

    string Model => _model ??= ModelChoice.Resolve(ModelOption);
    string? _model;

    [Value(0, MetaName = "FILE.wav", Required = true, HelpText = "WAV, AIFF, MP3 or Ogg Vorbis file (any sample rate and channel count).")]
    public string Input { get; set; } = "";

    [Option('o', "out", HelpText = "PNG to write (default: the input path with .activations.png).")]
    public string? Output { get; set; }

    [Option("width", Default = 1200, HelpText = "Image width in pixels.")]
    public int Width { get; set; } = 1200;

    [Option("height", Default = 700, HelpText = "Image height in pixels.")]
    public int Height { get; set; } = 700;

    public int Run()
    {
        string output = Output ?? Path.ChangeExtension(Input, ".activations.png");
        using var recognizer = EmotionRecognizer.Load(Model, new EmotionRecognizerOptions { MaxConcurrency = 1, ThreadsPerPrediction = 0 });
        Program.Note(recognizer.Notices);
        float[] pcm = WavReader.ReadMono(Input, FrontEnd.SampleRate);
        var prediction = recognizer.Predict(pcm, FrontEnd.SampleRate);
        var activations = recognizer.Activations(pcm, FrontEnd.SampleRate);
        string title = string.Create(CultureInfo.InvariantCulture,
            $"{Path.GetFileName(Input)}: BiLSTM activations (predicted {prediction.Label}, {prediction.Confidence:P0})");
        PlotFiles.SavePng(ActivationPlot.Create(activations, title), output, Width, Height);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{output}: {activations.Steps} steps x {2 * activations.Hidden} units ({activations.Hidden} forward + {activations.Hidden} backward), " +
            $"{prediction.Seconds:F2} s; predicted {prediction.Label} ({prediction.Confidence:P1})"));
        return 0;
    }
}
