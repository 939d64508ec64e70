namespace Ser.Engine.Audio;

/// <summary>A WAV file that cannot be read; the message names the file and the problem.</summary>
public sealed class WavFormatException(string path, string problem)
    : SerException($"{path}: {problem}")
{
    public string Path { get; } = path;
    public string Problem { get; } = problem;
}
