using Ser.Engine.Audio;
using Ser.Engine.Features;

namespace Ser.Engine.Data;

/// <summary>Audio in a WAV file, decoded (mixed to mono, resampled to 16 kHz) only when loaded.</summary>
public sealed class FileAudioSource(string path) : IAudioSource
{
    public string Path { get; } = path;

    public float[] Load() => WavReader.ReadMono(Path, FrontEnd.SampleRate);

    public string Describe() => Path;
}
