using System.Buffers.Binary;

namespace Ser.Engine.Tests.Data;

/// <summary>Test fixtures: writes small WAV files byte by byte (RIFF header + 16-bit PCM), independent of Audio/WavWriter.</summary>
internal static class TinyWav
{
    public static void Write(string path, double seconds, int sampleRate = 16000, int channels = 1)
    {
        int frames = (int)Math.Round(seconds * sampleRate);
        int dataBytes = frames * channels * 2;
        var bytes = new byte[44 + dataBytes];
        var s = bytes.AsSpan();
        "RIFF"u8.CopyTo(s);
        BinaryPrimitives.WriteInt32LittleEndian(s[4..], 36 + dataBytes);
        "WAVEfmt "u8.CopyTo(s[8..]);
        BinaryPrimitives.WriteInt32LittleEndian(s[16..], 16);
        BinaryPrimitives.WriteInt16LittleEndian(s[20..], 1);                          // PCM
        BinaryPrimitives.WriteInt16LittleEndian(s[22..], (short)channels);
        BinaryPrimitives.WriteInt32LittleEndian(s[24..], sampleRate);
        BinaryPrimitives.WriteInt32LittleEndian(s[28..], sampleRate * channels * 2);  // byte rate
        BinaryPrimitives.WriteInt16LittleEndian(s[32..], (short)(channels * 2));      // block align
        BinaryPrimitives.WriteInt16LittleEndian(s[34..], 16);
        "data"u8.CopyTo(s[36..]);
        BinaryPrimitives.WriteInt32LittleEndian(s[40..], dataBytes);
        for (int i = 0; i < frames * channels; i++)   // a quiet 440 Hz tone
            BinaryPrimitives.WriteInt16LittleEndian(s[(44 + 2 * i)..], (short)(3000 * Math.Sin(2 * Math.PI * 440 * (i / channels) / sampleRate)));
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes);
    }
}

/// <summary>A temporary folder removed when disposed.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "ser-data-" + Guid.NewGuid().ToString("N"));

    public string this[string relative] => System.IO.Path.Combine(Path, relative);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}
