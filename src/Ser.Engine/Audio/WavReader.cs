using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using NAudio.Wave;
using NAudio.Wave.SampleProviders;

namespace Ser.Engine.Audio;

/// <summary>Decoded WAV contents: interleaved samples in [-1, 1] (float files may exceed it).</summary>
public sealed record WavData(int SampleRate, int Channels, float[] Interleaved)
{
    public int FrameCount => Interleaved.Length / Channels;

    public double DurationSeconds => (double)FrameCount / SampleRate;

    /// <summary>Mono by averaging the channels (a plain mean keeps a centred voice at its level).</summary>
    public float[] MixToMono()
    {
        if (Channels == 1)
            return (float[])Interleaved.Clone();
        var mono = new float[FrameCount];     // [frames]
        float scale = 1f / Channels;
        for (int f = 0; f < mono.Length; f++)
        {
            var frame = Interleaved.AsSpan(f * Channels, Channels);
            float sum = 0;
            foreach (float s in frame)
                sum += s;
            mono[f] = sum * scale;
        }
        return mono;
    }
}

/// <summary>
/// Audio file reader. WAV (little-endian RIFF WAVE: PCM 8 (unsigned) / 16 / 24 / 32 bit, IEEE float 32 / 64,
/// WAVE_FORMAT_EXTENSIBLE, any channel count) is decoded by NAudio's sample converters; AIFF by NAudio
/// (<see cref="AiffReader"/>); MP3 by NLayer and
/// Ogg Vorbis by NVorbis (<see cref="CompressedAudio"/>); the format is told by the file's first bytes, not its name.
/// The RIFF chunk walk stays ours, and runs before NAudio sees a byte:
/// Hostile input is a <see cref="WavFormatException"/> naming the file and the problem: every size read
/// from a header is checked against the bytes actually present before anything is allocated or skipped,
/// and every step of the chunk walk moves forward, so a bad file can neither hang the reader nor make it
/// allocate more than the file could hold.
/// </summary>
public static class WavReader
{
    public const int MaxChannels = 256;
    public const int MinSampleRate = 1000;
    public const int MaxSampleRate = 768_000;

    const ushort FormatPcm = 0x0001;
    const ushort FormatFloat = 0x0003;
    const ushort FormatExtensible = 0xFFFE;

    public static WavData Read(string path)
    {
        using var stream = OpenForReading(path);
        return Read(stream, path);
    }

    /// <summary>Reads a whole audio file (WAV, AIFF, MP3 or Ogg Vorbis) from <paramref name="stream"/> (from its current position).</summary>
    public static WavData Read(Stream stream, string nameForErrors)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanSeek)
        {
            // The chunk walk needs the true length to bound every header size; buffer a non-seekable stream.
            var copy = new MemoryStream();
            stream.CopyTo(copy);
            copy.Position = 0;
            stream = copy;
        }
        Span<byte> head = stackalloc byte[12];
        long at = stream.Position;
        int got = stream.ReadAtLeast(head, 12, throwOnEndOfStream: false);
        stream.Position = at;
        if (AiffReader.IsAiff(head[..got]))
            return AiffReader.Read(stream, nameForErrors);
        return CompressedAudio.Sniff(stream) switch
        {
            CompressedAudio.Kind.Mp3 => CompressedAudio.ReadMp3(stream, nameForErrors),
            CompressedAudio.Kind.OggVorbis => CompressedAudio.ReadOgg(stream, nameForErrors),
            _ => ReadSeekable(stream, nameForErrors),
        };
    }

    /// <summary>Reads, mixes down to mono (channel mean) and resamples to <paramref name="targetRate"/>.</summary>
    public static float[] ReadMono(string path, int targetRate = 16000)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(targetRate, MinSampleRate);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(targetRate, MaxSampleRate);
        var wav = Read(path);
        var mono = wav.MixToMono();
        return wav.SampleRate == targetRate ? mono : Resampler.Resample(mono, wav.SampleRate, targetRate);
    }

    static FileStream OpenForReading(string path)
    {
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new WavFormatException(path, "file not found");
        }
        catch (UnauthorizedAccessException)
        {
            throw new WavFormatException(path, "permission denied");
        }
    }

    /// <summary>What the fmt chunk says, after the extensible wrapper is resolved.</summary>
    readonly record struct Format(ushort Encoding, int Channels, int SampleRate, int BlockAlign, int BitsPerSample);

    static WavData ReadSeekable(Stream stream, string name)
    {
        var (fmt, dataPosition, frames) = ReadHeader(stream, name);
        long samples = frames * fmt.Channels;
        if (samples > Array.MaxLength)
            throw new WavFormatException(name, $"too large: {samples} samples exceed what one array can hold");

        stream.Position = dataPosition;
        var interleaved = new float[samples];     // [frames * channels], bounded by the bytes present
        var decoder = new PcmDecoder(fmt, name);
        int bytesPerSample = fmt.BitsPerSample / 8, samplesPerBlock = 16384;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(samplesPerBlock * bytesPerSample);
        try
        {
            for (int done = 0; done < interleaved.Length; done += samplesPerBlock)
            {
                int count = Math.Min(samplesPerBlock, interleaved.Length - done);
                var bytes = buffer.AsSpan(0, count * bytesPerSample);
                ReadExactly(stream, bytes, name);
                decoder.Decode(bytes, interleaved.AsSpan(done, count), done);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        return new WavData(fmt.SampleRate, fmt.Channels, interleaved);
    }

    /// <summary>Opens a WAV for reading in blocks (hour-long files in bounded memory): see <see cref="WavBlockReader"/>.
    /// AIFF, MP3 and Ogg Vorbis files open too, decoded whole first.</summary>
    public static WavBlockReader OpenBlocks(string path)
    {
        var stream = OpenForReading(path);
        try
        {
            Span<byte> head = stackalloc byte[12];
            bool aiff = AiffReader.IsAiff(head[..stream.ReadAtLeast(head, 12, throwOnEndOfStream: false)]);
            stream.Position = 0;
            if (aiff || CompressedAudio.Sniff(stream) != CompressedAudio.Kind.Other)
            {
                // AIFF, MP3 and Ogg are decoded whole (bounded by their expansion limit), then served in blocks like a float WAV.
                var audio = Read(stream, path);
                stream.Dispose();
                var floats = new MemoryStream(MemoryMarshal.AsBytes(audio.Interleaved.AsSpan()).ToArray(), writable: false);
                var format = new Format(FormatFloat, audio.Channels, audio.SampleRate, 4 * audio.Channels, 32);
                return new WavBlockReader(floats, path, audio.SampleRate, audio.Channels, audio.FrameCount,
                    new PcmDecoder(format, path).Decode, format.BlockAlign);
            }
            var (fmt, dataPosition, frames) = ReadHeader(stream, path);
            stream.Position = dataPosition;
            var decoder = new PcmDecoder(fmt, path);
            return new WavBlockReader(stream, path, fmt.SampleRate, fmt.Channels, frames, decoder.Decode, fmt.BlockAlign);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>Walks the chunks: the format, the absolute position of the first sample, and the whole frames present.</summary>
    static (Format Format, long DataPosition, long Frames) ReadHeader(Stream stream, string name)
    {
        long start = stream.Position;
        long length = stream.Length - start;
        Span<byte> header = stackalloc byte[12];
        if (length < 12)
            throw new WavFormatException(name, $"too short to be a WAV file ({length} bytes)");
        ReadExactly(stream, header, name);

        string riff = FourCC(header[..4]);
        if (riff == "RIFX")
            throw new WavFormatException(name, "big-endian RIFX WAV is not supported");
        if (riff == "RF64")
            throw new WavFormatException(name, "RF64 (64-bit WAV) is not supported");
        if (riff != "RIFF")
            throw new WavFormatException(name, $"not a RIFF WAVE file (starts with {Quote(header[..4])})");
        if (FourCC(header[8..12]) != "WAVE")
            throw new WavFormatException(name, $"RIFF form type is {Quote(header[8..12])}, not 'WAVE'");

        // Some writers leave the RIFF size at 0 or 0xFFFFFFFF (streamed output); only trust it when it fits.
        long riffSize = BinaryPrimitives.ReadUInt32LittleEndian(header[4..8]);
        long end = riffSize >= 4 && 8 + riffSize <= length ? 8 + riffSize : length;

        Format? format = null;
        long dataOffset = -1, dataSize = 0;
        long pos = 12;
        Span<byte> chunkHeader = stackalloc byte[8];
        // Every turn moves pos forward by at least 8 bytes, and pos never passes `end`: the walk terminates.
        while (pos + 8 <= end && (format is null || dataOffset < 0))
        {
            stream.Position = start + pos;
            ReadExactly(stream, chunkHeader, name);
            string id = FourCC(chunkHeader[..4]);
            long size = BinaryPrimitives.ReadUInt32LittleEndian(chunkHeader[4..]);
            pos += 8;
            // Bound by the bytes physically present (not the RIFF size, which some writers get wrong).
            long remaining = length - pos;
            if (size > remaining)
            {
                string what = id == "data" ? "truncated data: " : "";
                throw new WavFormatException(name,
                    $"{what}chunk {Quote(chunkHeader[..4])} at byte {pos - 8} declares {size} bytes but only {remaining} remain");
            }
            if (id == "fmt " && format is null)
                format = ParseFormat(stream, size, name);
            else if (id == "data" && dataOffset < 0)
                (dataOffset, dataSize) = (pos, size);
            pos += size + (size & 1);   // chunks are word aligned: odd sizes carry one pad byte
        }

        if (format is null)
            throw new WavFormatException(name, "missing 'fmt ' chunk");
        if (dataOffset < 0)
            throw new WavFormatException(name, "missing 'data' chunk");
        var fmt = format.Value;

        // A trailing partial frame (a writer cut short) is dropped, as other readers do.
        long frames = dataSize / fmt.BlockAlign;
        if (frames == 0)
            throw new WavFormatException(name, $"no samples (data chunk holds {dataSize} bytes, one frame is {fmt.BlockAlign})");
        return (fmt, start + dataOffset, frames);
    }

    static Format ParseFormat(Stream stream, long size, string name)
    {
        if (size < 16)
            throw new WavFormatException(name, $"'fmt ' chunk is {size} bytes, at least 16 are needed");
        Span<byte> fmt = stackalloc byte[40];
        int have = (int)Math.Min(size, fmt.Length);
        ReadExactly(stream, fmt[..have], name);

        ushort tag = BinaryPrimitives.ReadUInt16LittleEndian(fmt[0..]);
        int channels = BinaryPrimitives.ReadUInt16LittleEndian(fmt[2..]);
        long rate = BinaryPrimitives.ReadUInt32LittleEndian(fmt[4..]);
        int blockAlign = BinaryPrimitives.ReadUInt16LittleEndian(fmt[12..]);
        int bits = BinaryPrimitives.ReadUInt16LittleEndian(fmt[14..]);

        ushort encoding = tag;
        if (tag == FormatExtensible)
        {
            if (have < 40 || BinaryPrimitives.ReadUInt16LittleEndian(fmt[16..]) < 22)
                throw new WavFormatException(name, $"WAVE_FORMAT_EXTENSIBLE 'fmt ' chunk is too short ({size} bytes, 40 needed)");
            int validBits = BinaryPrimitives.ReadUInt16LittleEndian(fmt[18..]);
            var guid = fmt[24..40];
            // KSDATAFORMAT_SUBTYPE_xxx = {0000XXXX-0000-0010-8000-00AA00389B71}: the first two bytes are the format tag.
            ReadOnlySpan<byte> baseGuidTail = [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71];
            if (!guid[2..].SequenceEqual(baseGuidTail))
                throw new WavFormatException(name, $"WAVE_FORMAT_EXTENSIBLE sub-format {new Guid(guid)} is not supported");
            encoding = BinaryPrimitives.ReadUInt16LittleEndian(guid);
            if (validBits > bits)
                throw new WavFormatException(name, $"valid bits per sample {validBits} exceed the container's {bits}");
        }

        if (encoding != FormatPcm && encoding != FormatFloat)
        {
            string? known = CompressedName(encoding);
            throw new WavFormatException(name, known is null
                ? $"unknown format 0x{encoding:X4} is not supported (only PCM and IEEE float)"
                : $"compressed format 0x{encoding:X4} ({known}) is not supported (only PCM and IEEE float)");
        }
        if (channels == 0 || channels > MaxChannels)
            throw new WavFormatException(name, $"absurd channel count {channels} (1..{MaxChannels} supported)");
        if (rate < MinSampleRate || rate > MaxSampleRate)
            throw new WavFormatException(name, $"sample rate {rate} Hz is outside {MinSampleRate}..{MaxSampleRate} Hz");
        bool bitsOk = encoding == FormatPcm ? bits is 8 or 16 or 24 or 32 : bits is 32 or 64;
        if (!bitsOk)
            throw new WavFormatException(name, encoding == FormatPcm
                ? $"{bits}-bit PCM is not supported (8, 16, 24 or 32)"
                : $"{bits}-bit IEEE float is not supported (32 or 64)");
        int expectedAlign = channels * (bits / 8);
        if (blockAlign != expectedAlign)
            throw new WavFormatException(name, $"block align {blockAlign} does not match {channels} channel(s) x {bits} bits (expected {expectedAlign})");

        return new Format(encoding, channels, (int)rate, blockAlign, bits);
    }

    static string? CompressedName(ushort tag) => tag switch
    {
        0x0002 => "MS ADPCM",
        0x0006 => "A-law",
        0x0007 => "mu-law",
        0x0011 => "IMA ADPCM",
        0x0031 => "GSM 6.10",
        0x0050 => "MPEG",
        0x0055 => "MP3",
        0x00FF => "AAC",
        0x0160 or 0x0161 or 0x0162 or 0x0163 => "WMA",
        0x1610 => "HE-AAC",
        0x6750 => "Vorbis",
        0xF1AC => "FLAC",
        _ => null,
    };

    static void ReadExactly(Stream stream, Span<byte> buffer, string name)
    {
        try
        {
            stream.ReadExactly(buffer);
        }
        catch (EndOfStreamException)
        {
            throw new WavFormatException(name, "unexpected end of file");
        }
    }

    /// <summary>
    /// Raw sample bytes (already bounded by the chunk walk) to floats through NAudio's converters: integer PCM
    /// divides by 2^(bits-1) (8-bit is unsigned around 128), IEEE float 32/64 is taken as is. A float file's NaN or
    /// infinity (or a double beyond float range) is refused, naming the frame and channel.
    /// </summary>
    sealed class PcmDecoder
    {
        readonly Format _fmt;
        readonly string _name;
        readonly WaveFormat _waveFormat;
        byte[] _bytes = [];
        MemoryStream? _stream;
        ISampleProvider? _samples;

        public PcmDecoder(Format fmt, string name)
        {
            _fmt = fmt;
            _name = name;
            _waveFormat = fmt.Encoding == FormatPcm
                ? new WaveFormat(fmt.SampleRate, fmt.BitsPerSample, fmt.Channels)
                : WaveFormat.CreateCustomFormat(WaveFormatEncoding.IeeeFloat, fmt.SampleRate, fmt.Channels,
                    fmt.SampleRate * fmt.BlockAlign, fmt.BlockAlign, fmt.BitsPerSample);
        }

        public void Decode(ReadOnlySpan<byte> bytes, Span<float> dst, long firstSample)
        {
            if (_bytes.Length < bytes.Length)
            {
                // One window over a reused buffer: NAudio reads it from the start each block (no allocation in steady state).
                _bytes = new byte[bytes.Length];
                _stream = new MemoryStream(_bytes, writable: false);
                _samples = new RawSourceWaveStream(_stream, _waveFormat).ToSampleProvider();
            }
            bytes.CopyTo(_bytes);
            _stream!.Position = 0;
            int got = _samples!.Read(dst);
            if (got != dst.Length)
                throw new WavFormatException(_name, $"decoder returned {got} of {dst.Length} samples");
            if (_fmt.Encoding == FormatFloat)
                for (int i = 0; i < dst.Length; i++)
                    if (!float.IsFinite(dst[i]))
                    {
                        long s = firstSample + i;
                        string what = float.IsNaN(dst[i]) ? "NaN" : _fmt.BitsPerSample == 64 ? "infinite (or beyond float32 range)" : "infinite";
                        throw new WavFormatException(_name, $"sample at frame {s / _fmt.Channels}, channel {s % _fmt.Channels} is {what}");
                    }
        }
    }

    static string FourCC(ReadOnlySpan<byte> id) => Encoding.ASCII.GetString(id);

    /// <summary>A chunk id for a message: quoted if printable ASCII, hex otherwise (keeps the message one line).</summary>
    static string Quote(ReadOnlySpan<byte> id)
    {
        foreach (byte b in id)
            if (b < 0x20 || b > 0x7E)
                return "0x" + Convert.ToHexString(id);
        return $"'{Encoding.ASCII.GetString(id)}'";
    }
}

/// <summary>
/// A WAV read a block at a time (from <see cref="WavReader.OpenBlocks"/>), mixed to mono as <see cref="WavData.MixToMono"/>
/// does: memory is one block, whatever the file's length.
/// </summary>
public sealed class WavBlockReader : IDisposable
{
    public delegate void BlockDecoder(ReadOnlySpan<byte> bytes, Span<float> dst, long firstSample);

    readonly Stream _stream;
    readonly string _name;
    readonly BlockDecoder _decode;
    readonly int _blockAlign;
    byte[] _bytes = [];
    float[] _interleaved = [];

    internal WavBlockReader(Stream stream, string name, int sampleRate, int channels, long frames, BlockDecoder decode, int blockAlign)
    {
        _stream = stream;
        _name = name;
        SampleRate = sampleRate;
        Channels = channels;
        Frames = frames;
        _decode = decode;
        _blockAlign = blockAlign;
    }

    public int SampleRate { get; }
    public int Channels { get; }
    /// <summary>Frames (samples per channel) in the file.</summary>
    public long Frames { get; }
    public long FramesRead { get; private set; }
    public double DurationSeconds => (double)Frames / SampleRate;

    /// <summary>Reads up to dst.Length frames, mixed to mono, into dst; returns how many (0 at the end).</summary>
    public int ReadMono(Span<float> dst)
    {
        int n = (int)Math.Min(dst.Length, Frames - FramesRead);
        if (n <= 0) return 0;
        if (_bytes.Length < n * _blockAlign) _bytes = new byte[n * _blockAlign];
        var bytes = _bytes.AsSpan(0, n * _blockAlign);
        try
        {
            _stream.ReadExactly(bytes);
        }
        catch (EndOfStreamException)
        {
            throw new WavFormatException(_name, "unexpected end of file");
        }
        if (Channels == 1)
        {
            _decode(bytes, dst[..n], FramesRead);
        }
        else
        {
            if (_interleaved.Length < n * Channels) _interleaved = new float[n * Channels];
            var x = _interleaved.AsSpan(0, n * Channels);   // [n, channels]
            _decode(bytes, x, FramesRead * Channels);
            float scale = 1f / Channels;
            for (int f = 0; f < n; f++)
            {
                float sum = 0;
                foreach (float v in x.Slice(f * Channels, Channels)) sum += v;
                dst[f] = sum * scale;
            }
        }
        FramesRead += n;
        return n;
    }

    public void Dispose() => _stream.Dispose();
}
