using System.Buffers.Binary;

namespace Ser.Engine.Audio;

/// <summary>
/// WAV writer (canonical 44-byte header: RIFF, fmt, data). Files are written atomically: a temporary
/// file in the same folder, flushed to disk, then renamed over the target, so a reader never sees half a file.
/// </summary>
public static class WavWriter
{
    /// <summary>16-bit PCM mono. Samples are clipped to [-1, 1) and rounded: x * 32768 (the reader's inverse).</summary>
    public static void WriteMono16(string path, ReadOnlySpan<float> samples, int sampleRate)
    {
        CheckArguments(samples, sampleRate);
        var bytes = new byte[44 + 2 * (long)samples.Length];
        WriteHeader(bytes, formatTag: 1, channels: 1, sampleRate, bitsPerSample: 16, dataBytes: 2 * samples.Length);
        var data = bytes.AsSpan(44);
        for (int i = 0; i < samples.Length; i++)
        {
            float v = MathF.Round(samples[i] * 32768f);
            BinaryPrimitives.WriteInt16LittleEndian(data[(2 * i)..], (short)Math.Clamp(v, short.MinValue, short.MaxValue));
        }
        WriteAtomically(path, bytes);
    }

    /// <summary>32-bit IEEE float mono, samples stored exactly.</summary>
    public static void WriteMonoFloat32(string path, ReadOnlySpan<float> samples, int sampleRate)
    {
        CheckArguments(samples, sampleRate);
        var bytes = new byte[44 + 4 * (long)samples.Length];
        WriteHeader(bytes, formatTag: 3, channels: 1, sampleRate, bitsPerSample: 32, dataBytes: 4 * samples.Length);
        var data = bytes.AsSpan(44);
        for (int i = 0; i < samples.Length; i++)
            BinaryPrimitives.WriteSingleLittleEndian(data[(4 * i)..], samples[i]);
        WriteAtomically(path, bytes);
    }

    static void CheckArguments(ReadOnlySpan<float> samples, int sampleRate)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(sampleRate, WavReader.MinSampleRate);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(sampleRate, WavReader.MaxSampleRate);
        // The file is built in one array, and the data size must fit the header's uint32 (both hold with room).
        if (4L * samples.Length > Array.MaxLength - 44)
            throw new ArgumentException($"{samples.Length} samples do not fit in a WAV file", nameof(samples));
        for (int i = 0; i < samples.Length; i++)
            if (!float.IsFinite(samples[i]))
                throw new ArgumentException($"sample {i} is not finite ({samples[i]})", nameof(samples));
    }

    static void WriteHeader(Span<byte> b, ushort formatTag, ushort channels, int sampleRate, ushort bitsPerSample, long dataBytes)
    {
        int blockAlign = channels * bitsPerSample / 8;
        "RIFF"u8.CopyTo(b);
        BinaryPrimitives.WriteUInt32LittleEndian(b[4..], (uint)(36 + dataBytes));
        "WAVE"u8.CopyTo(b[8..]);
        "fmt "u8.CopyTo(b[12..]);
        BinaryPrimitives.WriteUInt32LittleEndian(b[16..], 16);
        BinaryPrimitives.WriteUInt16LittleEndian(b[20..], formatTag);
        BinaryPrimitives.WriteUInt16LittleEndian(b[22..], channels);
        BinaryPrimitives.WriteUInt32LittleEndian(b[24..], (uint)sampleRate);
        BinaryPrimitives.WriteUInt32LittleEndian(b[28..], (uint)(sampleRate * blockAlign));
        BinaryPrimitives.WriteUInt16LittleEndian(b[32..], (ushort)blockAlign);
        BinaryPrimitives.WriteUInt16LittleEndian(b[34..], bitsPerSample);
        "data"u8.CopyTo(b[36..]);
        BinaryPrimitives.WriteUInt32LittleEndian(b[40..], (uint)dataBytes);
    }

    /// <summary>Writes to a temporary file beside <paramref name="path"/>, flushes it, then renames it over the target.</summary>
    internal static void WriteAtomically(string path, ReadOnlySpan<byte> bytes)
    {
        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full)!;
        string temp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var fs = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                fs.Write(bytes);
                fs.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }
}
