namespace Ser.Engine.Audio;

/// <summary>Decoded WAV contents: interleaved samples in [-1, 1].</summary>
public sealed record WavData(int SampleRate, int Channels, float[] Interleaved)
{
    public int FrameCount => Interleaved.Length / Channels;
}

/// <summary>CONTRACT STUB (audio agent replaces): RIFF WAVE reader.</summary>
public static class WavReader
{
    public static WavData Read(string path) => throw new NotImplementedException();
    public static WavData Read(Stream stream, string nameForErrors) => throw new NotImplementedException();

    /// <summary>Reads, mixes down to mono and resamples to <paramref name="targetRate"/>.</summary>
    public static float[] ReadMono(string path, int targetRate = 16000) => throw new NotImplementedException();
}
