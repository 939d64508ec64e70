using System.Buffers.Binary;

namespace Ser.Engine.Data;

/// <summary>
/// Reads only a WAV file's chunk headers to get its duration, so listing a corpus of thousands of files
/// does not decode any audio. (Decoding is Audio/WavReader's job; this never reads sample data.)
/// </summary>
internal static class WavProbe
{
    public static double DurationSeconds(string path)
    {
        using var s = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 4096);
        Span<byte> head = stackalloc byte[12];
        if (s.ReadAtLeast(head, 12, throwOnEndOfStream: false) < 12
            || !head[..4].SequenceEqual("RIFF"u8) || !head[8..12].SequenceEqual("WAVE"u8))
            throw new SerException($"{path}: not a RIFF WAVE file");

        int sampleRate = 0, blockAlign = 0;
        Span<byte> chunk = stackalloc byte[8];
        Span<byte> fmt = stackalloc byte[16];
        while (s.ReadAtLeast(chunk, 8, throwOnEndOfStream: false) == 8)
        {
            uint size = BinaryPrimitives.ReadUInt32LittleEndian(chunk[4..]);
            if (chunk[..4].SequenceEqual("fmt "u8))
            {
                if (size < 16 || s.ReadAtLeast(fmt, 16, throwOnEndOfStream: false) < 16)
                    throw new SerException($"{path}: truncated fmt chunk");
                sampleRate = BinaryPrimitives.ReadInt32LittleEndian(fmt[4..]);
                blockAlign = BinaryPrimitives.ReadUInt16LittleEndian(fmt[12..]);
                s.Seek(size - 16 + (size & 1), SeekOrigin.Current);   // chunks are word aligned
            }
            else if (chunk[..4].SequenceEqual("data"u8))
            {
                if (sampleRate <= 0 || blockAlign <= 0)
                    throw new SerException($"{path}: data chunk before a valid fmt chunk");
                // A streamed writer may leave the size at 0xFFFFFFFF; trust the file length then.
                long available = s.Length - s.Position;
                long bytes = Math.Min(size, available);
                return bytes / blockAlign / (double)sampleRate;
            }
            else
            {
                s.Seek(size + (size & 1), SeekOrigin.Current);
            }
        }
        throw new SerException($"{path}: no data chunk");
    }
}
