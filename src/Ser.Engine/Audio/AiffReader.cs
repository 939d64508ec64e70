using System.Buffers.Binary;
using System.Text;
using NAudio.Wave;

namespace Ser.Engine.Audio;

/// <summary>
/// AIFF (big-endian PCM 8/16/24/32-bit) through NAudio's AiffFileReader, behind the same kind of bounded chunk walk as
/// WAV: every chunk size is checked against the bytes present, and the COMM fields against sane ranges, before NAudio
/// reads a byte; the sample array is sized from that checked walk, never from what NAudio reports.
/// AIFF-C (compressed or not) is refused.
/// </summary>
static class AiffReader
{
    internal static bool IsAiff(ReadOnlySpan<byte> head12) =>
        head12.Length >= 12 && head12[..4].SequenceEqual("FORM"u8) && (head12[8..12].SequenceEqual("AIFF"u8) || head12[8..12].SequenceEqual("AIFC"u8));

    internal static WavData Read(Stream stream, string name)
    {
        long start = stream.Position, length = stream.Length - start;
        var (rate, channels, bits, frames) = Walk(stream, start, length, name);
        long samples = frames * channels;
        if (samples > Array.MaxLength)
            throw new AudioFormatException(name, $"AIFF too large: {samples} samples");
        var interleaved = new float[samples];   // [frames * channels], bounded by the SSND bytes present
        try
        {
            stream.Position = start;
            using var reader = new AiffFileReader(stream);
            if (reader.WaveFormat.Channels != channels || reader.WaveFormat.SampleRate != rate || reader.WaveFormat.BitsPerSample != bits)
                throw new AudioFormatException(name, $"AIFF: NAudio reads the header as {reader.WaveFormat}, not {channels} ch {bits}-bit {rate} Hz");
            var provider = reader.ToSampleProvider();
            int done = 0;
            while (done < interleaved.Length)
            {
                int n = provider.Read(interleaved.AsSpan(done, Math.Min(16384 * channels, interleaved.Length - done)));
                if (n <= 0) break;
                done += n;
            }
            if (done != interleaved.Length)
                throw new AudioFormatException(name, $"AIFF: unexpected end of sound data ({done} of {interleaved.Length} samples)");
        }
        catch (Exception e) when (e is not AudioFormatException and not OutOfMemoryException)
        {
            throw new AudioFormatException(name, $"corrupt AIFF ({e.GetType().Name}: {e.Message})");
        }
        return new WavData(rate, channels, interleaved);
    }

    static (int Rate, int Channels, int Bits, long Frames) Walk(Stream stream, long start, long length, string name)
    {
        Span<byte> header = stackalloc byte[12];
        stream.Position = start;
        if (length < 12 || stream.ReadAtLeast(header, 12, throwOnEndOfStream: false) < 12)
            throw new AudioFormatException(name, $"too short to be an AIFF file ({length} bytes)");
        if (header[8..12].SequenceEqual("AIFC"u8))
            throw new AudioFormatException(name, "AIFF-C is not supported (only plain AIFF)");
        int channels = 0, bits = 0;
        long declaredFrames = 0, ssndBytes = -1;
        double rate = 0;
        bool haveComm = false;
        long pos = 12;
        Span<byte> chunk = stackalloc byte[8];
        Span<byte> comm = stackalloc byte[18];
        // Every turn moves pos forward by at least 8 bytes and never past the end: the walk terminates.
        while (pos + 8 <= length && !(haveComm && ssndBytes >= 0))
        {
            stream.Position = start + pos;
            stream.ReadExactly(chunk);
            string id = Encoding.ASCII.GetString(chunk[..4]);
            long size = BinaryPrimitives.ReadUInt32BigEndian(chunk[4..]);
            pos += 8;
            if (size > length - pos)
                throw new AudioFormatException(name, $"AIFF chunk at byte {pos - 8} declares {size} bytes but only {length - pos} remain");
            if (id == "COMM" && !haveComm)
            {
                if (size < 18)
                    throw new AudioFormatException(name, $"AIFF 'COMM' chunk is {size} bytes, 18 are needed");
                stream.ReadExactly(comm);
                channels = BinaryPrimitives.ReadInt16BigEndian(comm);
                declaredFrames = BinaryPrimitives.ReadUInt32BigEndian(comm[2..]);
                bits = BinaryPrimitives.ReadInt16BigEndian(comm[6..]);
                rate = Extended80(comm[8..18]);
                haveComm = true;
            }
            else if (id == "SSND" && ssndBytes < 0)
            {
                if (size < 8)
                    throw new AudioFormatException(name, $"AIFF 'SSND' chunk is {size} bytes, at least 8 are needed");
                var offset = chunk[..4];   // the chunk header is read; reuse its bytes
                stream.ReadExactly(offset);
                long skip = BinaryPrimitives.ReadUInt32BigEndian(offset);
                ssndBytes = Math.Max(0, size - 8 - skip);
            }
            pos += size + (size & 1);
        }
        if (!haveComm) throw new AudioFormatException(name, "AIFF: missing 'COMM' chunk");
        if (ssndBytes < 0) throw new AudioFormatException(name, "AIFF: missing 'SSND' chunk");
        if (channels < 1 || channels > WavReader.MaxChannels)
            throw new AudioFormatException(name, $"AIFF: absurd channel count {channels} (1..{WavReader.MaxChannels} supported)");
        if (bits is not (8 or 16 or 24 or 32))
            throw new AudioFormatException(name, $"AIFF: {bits}-bit samples are not supported (8, 16, 24 or 32)");
        if (!(rate >= WavReader.MinSampleRate && rate <= WavReader.MaxSampleRate) || rate != Math.Round(rate))
            throw new AudioFormatException(name, $"AIFF: sample rate {rate} Hz is not a whole number in {WavReader.MinSampleRate}..{WavReader.MaxSampleRate} Hz");
        long frames = Math.Min(declaredFrames, ssndBytes / (channels * (bits / 8)));
        if (frames == 0)
            throw new AudioFormatException(name, "AIFF: no samples");
        return ((int)rate, channels, bits, frames);
    }

    /// <summary>IEEE 754 80-bit extended (big-endian): sign, 15-bit exponent (bias 16383), 64-bit mantissa with explicit integer bit.</summary>
    static double Extended80(ReadOnlySpan<byte> b)
    {
        int exponent = ((b[0] & 0x7F) << 8) | b[1];
        ulong mantissa = BinaryPrimitives.ReadUInt64BigEndian(b[2..]);
        if (exponent == 0 && mantissa == 0) return 0;
        double v = mantissa * Math.Pow(2, exponent - 16383 - 63);
        return (b[0] & 0x80) != 0 ? -v : v;
    }
}
