namespace Ser.Engine.Audio;

/// <summary>CONTRACT STUB (audio agent replaces): WAV writer, written atomically.</summary>
public static class WavWriter
{
    public static void WriteMono16(string path, ReadOnlySpan<float> samples, int sampleRate) => throw new NotImplementedException();
}
