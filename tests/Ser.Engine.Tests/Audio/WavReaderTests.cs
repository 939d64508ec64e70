using Ser.Engine.Audio;
using static Ser.Engine.Tests.Audio.RawWav;

namespace Ser.Engine.Tests.Audio;

public class WavReaderTests
{
    const int Rate = 22050;
    const int Channels = 3;
    const int Frames = 101;   // odd, so 8-bit and 24-bit data chunks get a pad byte

    static int[] RandomCodes(int count, int min, int max, int seed)
    {
        var r = new Random(seed);
        var codes = new int[count];
        for (int i = 0; i < count; i++)
            codes[i] = r.Next(min, max + 1);
        codes[0] = min;          // the extremes must map exactly
        codes[1] = max;
        return codes;
    }

    static WavData ReadBytes(byte[] file, string name = "test.wav") => WavReader.Read(new MemoryStream(file), name);

    static void AssertSamples(IReadOnlyList<double> expected, WavData wav, int channels, double tolerance = 0)
    {
        Assert.Equal(Rate, wav.SampleRate);
        Assert.Equal(channels, wav.Channels);
        Assert.Equal(expected.Count, wav.Interleaved.Length);
        for (int i = 0; i < expected.Count; i++)
            Assert.True(Math.Abs(wav.Interleaved[i] - (float)expected[i]) <= tolerance, $"sample {i}: {wav.Interleaved[i]} vs {expected[i]}");
    }

    [Fact]
    public void Pcm8_is_unsigned_with_128_as_zero()
    {
        var codes = RandomCodes(Frames * Channels, 0, 255, 1);
        var wav = ReadBytes(Riff(Fmt(1, Channels, Rate, 8), DataChunk(Pcm8(codes))));
        AssertSamples(codes.Select(c => (c - 128) / 128.0).ToList(), wav, Channels);
        Assert.Equal(-1f, ReadBytes(Riff(Fmt(1, 1, Rate, 8), DataChunk([0]))).Interleaved[0]);
    }

    [Theory]
    [InlineData(16)]
    [InlineData(24)]
    [InlineData(32)]
    public void Pcm_signed_round_trips(int bits)
    {
        int max = (int)((1L << (bits - 1)) - 1), min = -max - 1;
        var codes = RandomCodes(Frames * Channels, min, max, bits);
        byte[] data = bits switch { 16 => Pcm16(codes), 24 => Pcm24(codes), _ => Pcm32(codes) };
        var wav = ReadBytes(Riff(Fmt(1, Channels, Rate, bits), DataChunk(data)));
        AssertSamples(codes.Select(c => c / Math.Pow(2, bits - 1)).ToList(), wav, Channels);
        Assert.Equal(-1f, wav.Interleaved[0]);
    }

    [Fact]
    public void Float32_and_float64_round_trip()
    {
        var r = new Random(5);
        var values = Enumerable.Range(0, Frames * Channels).Select(_ => r.NextDouble() * 2.2 - 1.1).ToArray();
        var f32 = ReadBytes(Riff(Fmt(3, Channels, Rate, 32), DataChunk(Float32(values.Select(v => (float)v)))));
        AssertSamples(values.Select(v => (double)(float)v).ToList(), f32, Channels);
        var f64 = ReadBytes(Riff(Fmt(3, Channels, Rate, 64), DataChunk(Float64(values))));
        AssertSamples(values.Select(v => (double)(float)v).ToList(), f64, Channels);
    }

    [Theory]
    [InlineData(1, 16)]
    [InlineData(1, 24)]
    [InlineData(1, 32)]
    [InlineData(3, 32)]
    [InlineData(3, 64)]
    public void Extensible_sub_format_decides_pcm_or_float(ushort subTag, int bits)
    {
        var r = new Random(bits);
        double[] expected;
        byte[] data;
        if (subTag == 1)
        {
            var codes = RandomCodes(Frames * 2, -(1 << 15), (1 << 15) - 1, bits);
            // 16-bit values left-justified in a wider container, as the format requires
            var shifted = codes.Select(c => c << (bits - 16)).ToArray();
            data = bits switch { 16 => Pcm16(shifted), 24 => Pcm24(shifted), _ => Pcm32(shifted) };
            expected = codes.Select(c => c / 32768.0).ToArray();
        }
        else
        {
            expected = Enumerable.Range(0, Frames * 2).Select(_ => (double)(float)(r.NextDouble() - 0.5)).ToArray();
            data = bits == 32 ? Float32(expected.Select(v => (float)v)) : Float64(expected);
        }
        var wav = ReadBytes(Riff(FmtExtensible(subTag, 2, Rate, bits, validBits: subTag == 1 ? 16 : bits), DataChunk(data)));
        AssertSamples(expected, wav, 2);
    }

    [Fact]
    public void Unknown_chunks_are_skipped_with_their_pad_byte_and_order_does_not_matter()
    {
        var codes = RandomCodes(Frames, -32768, 32767, 9);
        byte[] odd = [1, 2, 3, 4, 5];   // odd size: a pad byte follows
        // data before fmt, an odd-sized chunk before both, metadata after
        var file = Riff(Chunk("JUNK", odd), DataChunk(Pcm16(codes)), Chunk("bext", odd), Fmt(1, 1, Rate, 16), Chunk("LIST", new byte[10]));
        AssertSamples(codes.Select(c => c / 32768.0).ToList(), ReadBytes(file), 1);
    }

    [Fact]
    public void Unreliable_riff_size_and_partial_last_frame_are_tolerated()
    {
        var codes = RandomCodes(2 * 10, -32768, 32767, 3);
        byte[] data = [.. Pcm16(codes), 0x12];   // 41 bytes: 10 stereo frames and one stray byte
        var file = Riff(0xFFFFFFFF, "RIFF", "WAVE", Fmt(1, 2, Rate, 16), DataChunk(data));
        AssertSamples(codes.Select(c => c / 32768.0).ToList(), ReadBytes(file), 2);
    }

    [Fact]
    public void Non_seekable_stream_reads_the_same()
    {
        var codes = RandomCodes(Frames, -32768, 32767, 4);
        var file = Riff(Fmt(1, 1, Rate, 16), DataChunk(Pcm16(codes)));
        var wav = WavReader.Read(new ForwardOnlyStream(file), "pipe");
        AssertSamples(codes.Select(c => c / 32768.0).ToList(), wav, 1);
    }

    [Fact]
    public void MixToMono_averages_channels()
    {
        var file = Riff(Fmt(3, 3, Rate, 32), DataChunk(Float32([0.3f, -0.6f, 0.9f, 1f, 1f, 1f])));
        var mono = ReadBytes(file).MixToMono();
        Assert.Equal(2, mono.Length);
        Assert.Equal(0.2f, mono[0], 6);
        Assert.Equal(1f, mono[1], 6);
    }

    [Fact]
    public void ReadMono_mixes_down_and_resamples_to_16k()
    {
        using var dir = new TempDir();
        // stereo 8 kHz, left = right = 0.5 (DC) for one second
        var codes = Enumerable.Repeat(16384, 2 * 8000).ToArray();
        string path = dir.File("stereo8k.wav", Riff(Fmt(1, 2, 8000, 16), DataChunk(Pcm16(codes))));
        var pcm = WavReader.ReadMono(path);
        Assert.Equal(16000, pcm.Length);
        for (int i = 2000; i < 14000; i++)   // away from the edges, where the signal steps from/to zero
            Assert.Equal(0.5f, pcm[i], 3);
    }

    // ---- hostile files: each must be a WavFormatException naming the file, on one line ----

    static byte[] Good => Riff(Fmt(1, 1, 16000, 16), DataChunk(Pcm16([1, 2, 3, 4])));

    public static TheoryData<string, byte[], string> HostileFiles => new()
    {
        { "empty", [], "too short" },
        { "tiny", [(byte)'R', (byte)'I', (byte)'F'], "too short" },
        { "wrong-magic", [.. "JUNK"u8, .. Good[4..]], "not a RIFF WAVE" },
        { "binary-magic", [0, 0xFF, 0x10, 0x80, .. Good[4..]], "not a RIFF WAVE" },
        { "rifx", [.. "RIFX"u8, .. Good[4..]], "RIFX" },
        { "not-wave", Riff(null, "RIFF", "AVI ", Fmt(1, 1, 16000, 16)), "not 'WAVE'" },
        { "truncated-data", Good[..^3], "truncated data" },
        { "data-size-huge", Riff(Fmt(1, 1, 16000, 16), DataChunk([1, 2], declaredSize: 0xFFFFFFF0)), "truncated data" },
        { "chunk-larger-than-file", Riff(Chunk("JUNK", [1, 2], declaredSize: 1_000_000), Fmt(1, 1, 16000, 16), DataChunk([1, 2])), "declares 1000000 bytes" },
        { "fmt-larger-than-file", Riff(Chunk("fmt ", new byte[16], declaredSize: 0x7FFFFFFF)), "declares" },
        { "missing-fmt", Riff(DataChunk(Pcm16([1, 2]))), "missing 'fmt ' chunk" },
        { "missing-data", Riff(Fmt(1, 1, 16000, 16), Chunk("LIST", [1, 2])), "missing 'data' chunk" },
        { "header-only", Riff(), "missing 'fmt ' chunk" },
        { "zero-samples", Riff(Fmt(1, 1, 16000, 16), DataChunk([])), "no samples" },
        { "less-than-a-frame", Riff(Fmt(1, 2, 16000, 16), DataChunk([1, 2, 3])), "no samples" },
        { "adpcm", Riff(Fmt(2, 1, 16000, 4, blockAlign: 256), DataChunk(new byte[256])), "compressed format 0x0002 (MS ADPCM) is not supported" },
        { "mp3", Riff(Fmt(0x55, 2, 44100, 0, blockAlign: 1), DataChunk(new byte[64])), "compressed format 0x0055 (MP3) is not supported" },
        { "mulaw-extensible", Riff(FmtExtensible(7, 1, 8000, 8, 8), DataChunk(new byte[8])), "compressed format 0x0007" },
        { "unknown-guid", Riff(FmtExtensible(1, 1, 16000, 16, 16, guidTail: new byte[14]), DataChunk(new byte[8])), "sub-format" },
        { "fmt-too-short", Riff(Chunk("fmt ", new byte[14]), DataChunk([1, 2])), "at least 16" },
        { "extensible-too-short", Riff(Fmt(0xFFFE, 1, 16000, 16), DataChunk([1, 2])), "too short" },
        { "zero-channels", Riff(Fmt(1, 0, 16000, 16, blockAlign: 2), DataChunk([1, 2])), "channel count 0" },
        { "absurd-channels", Riff(Fmt(1, 60000, 16000, 16), DataChunk([1, 2])), "channel count 60000" },
        { "zero-rate", Riff(Fmt(1, 1, 0, 16), DataChunk([1, 2])), "sample rate 0" },
        { "absurd-rate", Riff(Fmt(1, 1, unchecked((int)4_000_000_000), 16), DataChunk([1, 2])), "sample rate 4000000000" },
        { "bad-block-align", Riff(Fmt(1, 2, 16000, 16, blockAlign: 3), DataChunk([1, 2, 3, 4])), "block align 3" },
        { "pcm-12-bit", Riff(Fmt(1, 1, 16000, 12, blockAlign: 2), DataChunk([1, 2])), "12-bit PCM" },
        { "float-16-bit", Riff(Fmt(3, 1, 16000, 16), DataChunk([1, 2])), "16-bit IEEE float" },
        { "nan-float32", Riff(Fmt(3, 1, 16000, 32), DataChunk(Float32([0.5f, float.NaN]))), "frame 1, channel 0 is NaN" },
        { "inf-float32", Riff(Fmt(3, 2, 16000, 32), DataChunk(Float32([0.5f, float.PositiveInfinity]))), "frame 0, channel 1 is infinite" },
        { "inf-float64", Riff(Fmt(3, 1, 16000, 64), DataChunk(Float64([double.NegativeInfinity]))), "infinite" },
        { "huge-float64", Riff(Fmt(3, 1, 16000, 64), DataChunk(Float64([1e300]))), "beyond float32 range" },
    };

    [Theory]
    [MemberData(nameof(HostileFiles))]
    public void Hostile_file_is_a_one_line_WavFormatException_naming_the_file(string name, byte[] bytes, string expected)
    {
        using var dir = new TempDir();
        string path = dir.File($"hostile-{name}.wav", bytes);
        var e = Assert.Throws<WavFormatException>(() => WavReader.Read(path));
        Assert.Contains($"hostile-{name}.wav", e.Message);
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.IsAssignableFrom<SerException>(e);
    }

    [Fact]
    public void Missing_file_is_a_WavFormatException()
    {
        var e = Assert.Throws<WavFormatException>(() => WavReader.Read("/no/such/dir/nothing.wav"));
        Assert.Contains("nothing.wav", e.Message);
    }

    [Fact]
    public void Every_truncation_and_random_corruption_is_read_or_refused_cleanly()
    {
        var codes = RandomCodes(40, -32768, 32767, 11);
        var file = Riff(Chunk("JUNK", [1, 2, 3]), FmtExtensible(1, 2, 16000, 16, 16), Chunk("LIST", new byte[6]), DataChunk(Pcm16(codes)));
        for (int n = 0; n < file.Length; n++)
            ReadOrRefuse(file[..n]);
        var r = new Random(12);
        for (int trial = 0; trial < 2000; trial++)
        {
            var bad = (byte[])file.Clone();
            for (int k = r.Next(1, 4); k > 0; k--)
                bad[r.Next(bad.Length)] = (byte)r.Next(256);
            ReadOrRefuse(bad);
        }

        static void ReadOrRefuse(byte[] bytes)
        {
            try
            {
                var wav = WavReader.Read(new MemoryStream(bytes), "fuzz.wav");
                Assert.True(wav.Interleaved.Length * 1L <= bytes.Length, "decoded more samples than bytes");
                Assert.All(wav.Interleaved, v => Assert.True(float.IsFinite(v)));
            }
            catch (WavFormatException e)
            {
                Assert.Contains("fuzz.wav", e.Message);
            }
        }
    }

    /// <summary>A stream that can only be read forwards (like a pipe).</summary>
    sealed class ForwardOnlyStream(byte[] bytes) : Stream
    {
        readonly MemoryStream _inner = new(bytes);
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, Math.Min(count, 7));
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
