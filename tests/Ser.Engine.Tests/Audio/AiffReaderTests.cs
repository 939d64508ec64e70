using System.Buffers.Binary;
using Ser.Engine.Audio;

namespace Ser.Engine.Tests.Audio;

/// <summary>AIFF through NAudio behind our bounded chunk walk. Files are built byte by byte here (an independent oracle).</summary>
public class AiffReaderTests
{
    static byte[] Chunk(string id, byte[] body, uint? declared = null)
    {
        var b = new byte[8 + body.Length + (body.Length & 1)];
        System.Text.Encoding.ASCII.GetBytes(id).CopyTo(b, 0);
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(4), declared ?? (uint)body.Length);
        body.CopyTo(b, 8);
        return b;
    }

    static byte[] Comm(int channels, uint frames, int bits, int rate)
    {
        var b = new byte[18];
        BinaryPrimitives.WriteInt16BigEndian(b, (short)channels);
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(2), frames);
        BinaryPrimitives.WriteInt16BigEndian(b.AsSpan(6), (short)bits);
        // 80-bit extended: exponent 16383 + e, mantissa = rate shifted so its top bit is bit 63.
        int e = rate > 0 ? 31 - System.Numerics.BitOperations.LeadingZeroCount((uint)rate) : -16383;
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(8), (ushort)(16383 + e));
        BinaryPrimitives.WriteUInt64BigEndian(b.AsSpan(10), rate > 0 ? (ulong)rate << (63 - e) : 0);
        return Chunk("COMM", b);
    }

    static byte[] Ssnd(byte[] bigEndianSamples) => Chunk("SSND", [.. new byte[8], .. bigEndianSamples]);

    static byte[] Form(params byte[][] chunks) => Form("AIFF", chunks);

    static byte[] Form(string type, params byte[][] chunks)
    {
        byte[] body = [.. System.Text.Encoding.ASCII.GetBytes(type), .. chunks.SelectMany(c => c)];
        var head = new byte[8];
        "FORM"u8.CopyTo(head);
        BinaryPrimitives.WriteUInt32BigEndian(head.AsSpan(4), (uint)body.Length);
        return [.. head, .. body];
    }

    static byte[] Be16(int[] codes) => codes.SelectMany(c => new[] { (byte)(c >> 8), (byte)c }).ToArray();
    static byte[] Be24(int[] codes) => codes.SelectMany(c => new[] { (byte)(c >> 16), (byte)(c >> 8), (byte)c }).ToArray();

    static WavData ReadBytes(byte[] bytes, string name = "t.aiff") => WavReader.Read(new MemoryStream(bytes), name);

    [Fact]
    public void Sixteen_bit_stereo_reads_exactly_with_other_chunks_around()
    {
        int[] codes = [-32768, 32767, 0, 1, -1, 12345, -23456, 100];
        var wav = ReadBytes(Form(Chunk("NAME", [1, 2, 3]), Comm(2, 4, 16, 22050), Chunk("ANNO", new byte[5]), Ssnd(Be16(codes))));
        Assert.Equal((22050, 2), (wav.SampleRate, wav.Channels));
        Assert.Equal(codes.Select(c => c / 32768f), wav.Interleaved);
    }

    [Fact]
    public void Twenty_four_bit_mono_reads_exactly_and_ReadMono_resamples()
    {
        int[] codes = [-8388608, 8388607, 0, -1, 4000000, -123];
        var wav = ReadBytes(Form(Comm(1, 6, 24, 44100), Ssnd(Be24(codes))));
        Assert.Equal(44100, wav.SampleRate);
        Assert.Equal(codes.Select(c => c / 8388608f), wav.Interleaved);

        using var dir = new TempDir();
        string path = dir.File("tone.aif", Form(Comm(1, 8000, 16, 8000), Ssnd(Be16([.. Enumerable.Range(0, 8000).Select(i => (int)(8000 * Math.Sin(2 * Math.PI * 440 * i / 8000)))]))));
        Assert.Equal(16000, WavReader.ReadMono(path).Length);
    }

    [Fact]
    public void Declared_frames_beyond_the_sound_data_read_only_what_is_present()
    {
        var wav = ReadBytes(Form(Comm(1, 1_000_000, 16, 16000), Ssnd(Be16([1, 2, 3]))));
        Assert.Equal(3, wav.Interleaved.Length);
    }

    [Fact]
    public void OpenBlocks_reads_AIFF_as_the_whole_file_reader_does()
    {
        using var dir = new TempDir();
        int[] codes = [.. Enumerable.Range(0, 2 * 2500).Select(i => (i * 7919) % 65536 - 32768)];
        string path = dir.File("blocks.aiff", Form(Comm(2, 2500, 16, 16000), Ssnd(Be16(codes))));
        var expected = WavReader.Read(path).MixToMono();
        using var blocks = WavReader.OpenBlocks(path);
        Assert.Equal((16000, 2, 2500L), (blocks.SampleRate, blocks.Channels, blocks.Frames));
        var got = new List<float>();
        var buffer = new float[700];
        int n;
        while ((n = blocks.ReadMono(buffer)) > 0)
            got.AddRange(buffer[..n]);
        Assert.Equal(expected, got);
    }

    public static TheoryData<string, byte[], string> HostileFiles => new()
    {
        { "aifc", Form("AIFC", Comm(1, 2, 16, 16000), Ssnd(Be16([1, 2]))), "AIFF-C" },
        { "comm-huge", Form(Chunk("COMM", new byte[18], declared: 0x7FFFFFFF)), "declares 2147483647 bytes" },
        { "ssnd-huge", Form(Comm(1, 2, 16, 16000), Chunk("SSND", new byte[12], declared: 0xFFFFFFF0)), "declares" },
        { "comm-short", Form(Chunk("COMM", new byte[10]), Ssnd(Be16([1]))), "18 are needed" },
        { "missing-comm", Form(Ssnd(Be16([1, 2]))), "missing 'COMM'" },
        { "missing-ssnd", Form(Comm(1, 2, 16, 16000)), "missing 'SSND'" },
        { "zero-channels", Form(Comm(0, 2, 16, 16000), Ssnd(Be16([1, 2]))), "channel count 0" },
        { "bits-12", Form(Comm(1, 2, 12, 16000), Ssnd(Be16([1, 2]))), "12-bit" },
        { "rate-zero", Form(Comm(1, 2, 16, 0), Ssnd(Be16([1, 2]))), "sample rate 0" },
        { "no-samples", Form(Comm(1, 0, 16, 16000), Ssnd(Be16([1, 2]))), "no samples" },
    };

    [Theory]
    [MemberData(nameof(HostileFiles))]
    public void Hostile_AIFF_is_a_one_line_AudioFormatException_naming_the_file(string name, byte[] bytes, string expected)
    {
        var e = Assert.ThrowsAny<AudioFormatException>(() => ReadBytes(bytes, $"hostile-{name}.aiff"));
        Assert.Contains($"hostile-{name}.aiff", e.Message);
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Every_truncation_and_random_corruption_is_read_or_refused_cleanly()
    {
        var file = Form(Chunk("NAME", [1, 2, 3]), Comm(2, 20, 16, 16000), Ssnd(Be16([.. Enumerable.Range(0, 40).Select(i => i * 1000 - 20000)])));
        for (int n = 0; n < file.Length; n++)
            ReadOrRefuse(file[..n]);
        var r = new Random(5);
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
                var wav = ReadBytes(bytes, "fuzz.aiff");
                Assert.True(wav.Interleaved.Length <= bytes.Length, "decoded more samples than bytes");
                Assert.All(wav.Interleaved, v => Assert.True(float.IsFinite(v)));
            }
            catch (AudioFormatException e)
            {
                Assert.Contains("fuzz.aiff", e.Message);
                Assert.DoesNotContain('\n', e.Message);
            }
        }
    }
}
