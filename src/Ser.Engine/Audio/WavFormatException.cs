namespace Ser.Engine.Audio;

/// <summary>An audio file that cannot be read (any format); the message is one line naming the file and the problem.</summary>
public class AudioFormatException(string path, string problem)
    : SerException($"{path}: {OneLine(problem)}")
{
    public string Path { get; } = path;
    public string Problem { get; } = OneLine(problem);

    /// <summary>Decoder messages (NLayer, NVorbis, NAudio) may span lines; ours never do.</summary>
    internal static string OneLine(string s) => string.Join(' ', s.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}

/// <summary>A WAV file that cannot be read; the message names the file and the problem.</summary>
public sealed class WavFormatException(string path, string problem) : AudioFormatException(path, problem);
