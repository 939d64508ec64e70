using NLayer;
using NVorbis;

namespace Ser.Engine.Audio;

/// <summary>
/// MP3 (NLayer) and Ogg Vorbis (NVorbis) decoding, with the WAV reader's contract: any failure is one
/// <see cref="AudioFormatException"/> line naming the file, a truncated file ends where its last whole frame
/// or packet ends (or is refused), and the decoded size is bounded by what the bytes present can expand to.
/// </summary>
static class CompressedAudio
{
    internal enum Kind { Other, Mp3, OggVorbis }

    /// <summary>
    /// Most decoded frames (samples per channel) per input byte of MP3: an MPEG audio frame decodes to at most 1152 samples
    /// per channel (Layers II and MPEG-1 III; Layer I 384, MPEG-2/2.5 Layer III 576) and takes at least 4 bytes, its
    /// header. With the bitrate table the smallest frame is 24 bytes (MPEG-2 Layer III, 8 kbit/s at 24 kHz: 576 samples,
    /// 24 per byte), but NLayer also accepts free-format frames (bitrate index 0) and sizes them from the side
    /// information, which Layer II does not have: such a frame can be its bare 4-byte header. So 1152 / 4 = 288 per
    /// channel, at most 576 samples per byte (MP3 has at most 2 channels). A file that decodes past it is refused.
    /// </summary>
    const long Mp3FramesPerByte = 1152 / 4;

    /// <summary>
    /// The same bound for Ogg Vorbis: an audio packet returns prev/4 + cur/4 frames of its window overlap, at most 4096 for
    /// the largest blocksize, 8192; and every packet, even an empty one, costs at least one byte, its lacing value in
    /// its page's segment table (Ogg pages add 27 header bytes per 255 lacing values on top). So 4096 per channel.
    /// </summary>
    const long VorbisFramesPerByte = 8192 / 2;

    /// <summary>The format from the first bytes: "OggS", an ID3v2 tag, or an MPEG audio frame sync (11 set bits).</summary>
    internal static Kind Sniff(Stream stream)
    {
        long start = stream.Position;
        Span<byte> head = stackalloc byte[4];
        int n = stream.ReadAtLeast(head, 4, throwOnEndOfStream: false);
        stream.Position = start;
        if (n < 4) return Kind.Other;
        if (head.SequenceEqual("OggS"u8)) return Kind.OggVorbis;
        if (head[..3].SequenceEqual("ID3"u8)) return Kind.Mp3;
        // Frame sync, a valid MPEG version (not 01) and layer (not 00); bitrate index not 1111.
        if (head[0] == 0xFF && (head[1] & 0xE0) == 0xE0 && (head[1] & 0x18) != 0x08 && (head[1] & 0x06) != 0 && (head[2] & 0xF0) != 0xF0)
            return Kind.Mp3;
        return Kind.Other;
    }

    internal static WavData ReadMp3(Stream stream, string name)
    {
        long bytes = stream.Length - stream.Position;
        return Decode(name, "MP3", bytes, Mp3FramesPerByte, () =>
        {
            var mp3 = new MpegFile(stream);
            return (mp3.SampleRate, mp3.Channels, (buf) => mp3.ReadSamples(buf, 0, buf.Length), mp3);
        });
    }

    internal static WavData ReadOgg(Stream stream, string name)
    {
        long bytes = stream.Length - stream.Position;
        return Decode(name, "Ogg Vorbis", bytes, VorbisFramesPerByte, () =>
        {
            var ogg = new VorbisReader(stream, closeOnDispose: false);
            return (ogg.SampleRate, ogg.Channels, (buf) => ogg.ReadSamples(buf, 0, buf.Length), ogg);
        });
    }

    static WavData Decode(string name, string format, long bytes, long framesPerByte,
        Func<(int Rate, int Channels, Func<float[], int> Read, IDisposable Owner)> open)
    {
        try
        {
            var (rate, channels, read, owner) = open();
            using (owner)
            {
                if (channels < 1 || channels > WavReader.MaxChannels)
                    throw new AudioFormatException(name, $"{format}: absurd channel count {channels}");
                if (rate < WavReader.MinSampleRate || rate > WavReader.MaxSampleRate)
                    throw new AudioFormatException(name, $"{format}: sample rate {rate} Hz is outside {WavReader.MinSampleRate}..{WavReader.MaxSampleRate} Hz");
                // No overflow: bytes is capped first, and Array.MaxLength * 4096 * 256 < 2^51.
                long limit = Math.Min(Array.MaxLength, Math.Min(bytes, Array.MaxLength) * framesPerByte * channels);
                var buffer = new float[4096 * channels];   // [frames, channels], whole frames per read
                var all = new List<float>();
                int n;
                while ((n = read(buffer)) > 0)
                {
                    if (all.Count + (long)n > limit)
                        throw new AudioFormatException(name, $"{format}: decodes to more than {limit} samples from {bytes} bytes");
                    for (int i = 0; i < n; i++)
                        if (!float.IsFinite(buffer[i]))
                            throw new AudioFormatException(name, $"{format}: decoder produced a non-finite sample");
                    all.AddRange(buffer.AsSpan(0, n));
                }
                int whole = all.Count / channels * channels;   // a frame cut short is dropped, as for WAV
                if (whole == 0)
                    throw new AudioFormatException(name, $"{format}: no samples (truncated or corrupt)");
                return new WavData(rate, channels, all.GetRange(0, whole).ToArray());
            }
        }
        catch (Exception e) when (e is not AudioFormatException and not OutOfMemoryException)
        {
            // NLayer and NVorbis throw whatever their parsers meet (InvalidDataException, IndexOutOfRange, ArgumentException...).
            throw new AudioFormatException(name, $"corrupt or unsupported {format} ({e.GetType().Name}: {e.Message})");
        }
    }
}
