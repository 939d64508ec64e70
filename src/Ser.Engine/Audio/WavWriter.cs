using System.Runtime.InteropServices;
using NAudio.Wave;

namespace Ser.Engine.Audio;

/// <summary>
/// WAV writer through NAudio's WaveFileWriter (RIFF, an 18-byte fmt, [fact,] data). Files are written atomically: a temporary
/// file in the same folder, flushed to disk, then renamed over the target, so a reader never sees half a file.
/// </summary>
public static class WavWriter
{
    /// <summary>16-bit PCM mono. Samples are clipped to [-1, 1) and rounded: x * 32768 (the reader's inverse).</summary>
    public static void WriteMono16(string path, ReadOnlySpan<float> samples, int sampleRate)
    {
        CheckArguments(samples, sampleRate);
        // NAudio's WriteSample scales by 32767 and truncates; the reader divides by 32768, so round here and hand NAudio bytes.
        var pcm = new short[samples.Length];   // [samples]
        for (int i = 0; i < samples.Length; i++)
            pcm[i] = (short)Math.Clamp(MathF.Round(samples[i] * 32768f), short.MinValue, short.MaxValue);
        Write(path, new WaveFormat(sampleRate, 16, 1), MemoryMarshal.AsBytes(pcm.AsSpan()));
    }

    /// <summary>32-bit IEEE float mono, samples stored exactly.</summary>
    public static void WriteMonoFloat32(string path, ReadOnlySpan<float> samples, int sampleRate)
    {
        CheckArguments(samples, sampleRate);
        Write(path, WaveFormat.CreateIeeeFloatWaveFormat(sampleRate, 1), MemoryMarshal.AsBytes(samples));
    }

    /// <summary>NAudio writes the RIFF header (and a 'fact' chunk for float) into memory (it leaves a caller's stream open);
    /// the file then appears whole or not at all.</summary>
    static void Write(string path, WaveFormat format, ReadOnlySpan<byte> littleEndianSamples)
    {
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("WAV samples are little-endian");
        var memory = new MemoryStream(littleEndianSamples.Length + 64);
        using (var writer = new WaveFileWriter(memory, format))
            writer.Write(littleEndianSamples);
        IO.AtomicFile.WriteAllBytes(path, memory.ToArray());
    }

    static void CheckArguments(ReadOnlySpan<float> samples, int sampleRate)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(sampleRate, WavReader.MinSampleRate);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(sampleRate, WavReader.MaxSampleRate);
        // The file is built in one array, and the data size must fit the header's uint32 (both hold with room).
        if (4L * samples.Length > Array.MaxLength - 64)
            throw new ArgumentException($"{samples.Length} samples do not fit in a WAV file", nameof(samples));
        for (int i = 0; i < samples.Length; i++)
            if (!float.IsFinite(samples[i]))
                throw new ArgumentException($"sample {i} is not finite ({samples[i]})", nameof(samples));
    }
}
