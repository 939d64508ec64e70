namespace Ser.Engine.Features;

/// <summary>CONTRACT STUB (audio agent replaces): the paper's spectrogram front end (DESIGN.md).</summary>
public static class FrontEnd
{
    public const int SampleRate = 16000;
    public const int WindowLength = 640;  // 40 ms
    public const int Hop = 160;           // 10 ms
    public const int DftSize = 1600;      // 10 Hz grid
    public const int Bins = 400;          // 0..3990 Hz

    /// <summary>Frames for L samples: 1 + floor((L-640)/160), at least 1.</summary>
    public static int FrameCount(int samples) => throw new NotImplementedException();

    /// <summary>dB spectrogram [T, F] (not normalised) of 16 kHz mono PCM into dst (length FrameCount*Bins).</summary>
    public static void Compute(ReadOnlySpan<float> pcm, Span<float> dst) => throw new NotImplementedException();

    public static float[] Compute(ReadOnlySpan<float> pcm) => throw new NotImplementedException();
}
