using System.Globalization;
using CommandLine;
using Ser.Engine;
using Ser.Engine.Checkpoints;
using Ser.Engine.Export;

namespace Ser.Tool.Commands;

/// <summary>
/// `sertool export --model M.ser --out model.onnx [--input pcm|features]`: the checkpoint as a standard ONNX model
/// (opset 17) of one utterance of any length, front end inside by default, through <see cref="OnnxExporter"/>.
/// sertool writes the file; it does not carry ONNX Runtime (the parity tests and tools/ do).
/// </summary>
[Verb("export", HelpText = "Export a trained model to ONNX (opset 17): input pcm [1, N] mono 16 kHz, outputs probs and logits [1, K].")]
internal sealed class ExportCommand : ICommand
{
    [Option("model", Required = true, HelpText = "Checkpoint (.ser) written by sertool train, e.g. runs/<run>/model.ser.")]
    public string Model { get; set; } = "";

    [Option('o', "out", HelpText = "ONNX file to write (default: the model path with .onnx).")]
    public string? Output { get; set; }

    [Option("input", Default = "pcm", HelpText = "pcm: float32 [1, N] mono 16 kHz samples, front end inside the graph; "
        + "features: float32 [1, 1, T, 400] normalised spectrogram.")]
    public string Input { get; set; } = "pcm";

    [Option("batched", HelpText = "A ragged batch: inputs [B, ...] plus lengths int64 [B] (valid samples, or frames), outputs [B, K]; variable-length models.")]
    public bool Batched { get; set; }

    public int Run()
    {
        var input = Input.Trim().ToLowerInvariant() switch
        {
            "pcm" => OnnxInput.Pcm,
            "features" => OnnxInput.Features,
            _ => throw new SerException($"--input: expected pcm or features (got '{Input}')"),
        };
        if (!File.Exists(Model)) throw new SerException($"{Model}: model file not found");
        string output = Output ?? Path.ChangeExtension(Model, ".onnx");
        var checkpoint = Checkpoint.Load(Model);
        OnnxExporter.Save(checkpoint, output, new OnnxExportOptions { Input = input, Batched = Batched });

        string mode = checkpoint.Metadata.GetValueOrDefault("length_mode") ?? "variable";
        string b = Batched ? "B" : "1";
        string inputText = (input == OnnxInput.Pcm ? $"pcm [{b}, N] mono 16 kHz" : $"features [{b}, 1, T, 400]") + (Batched ? " + lengths [B]" : "");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{output}: ONNX opset {OnnxExporter.Opset}, {checkpoint.Config}, {mode}-length, input {inputText}, outputs probs/logits [{b}, {checkpoint.Config.Classes}] " +
            $"({string.Join(", ", checkpoint.Labels)}), temperature {checkpoint.Temperature}, {new FileInfo(output).Length / 1024.0:F0} KiB"));
        return 0;
    }
}
