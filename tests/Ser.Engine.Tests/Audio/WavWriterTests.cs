using Ser.Engine.Audio;

namespace Ser.Engine.Tests.Audio;

public class WavWriterTests
{
    [Fact]
    public void Mono16_round_trips_through_the_reader_within_half_a_step()
    {
        using var dir = new TempDir();
        var r = new Random(1);
        var x = Enumerable.Range(0, 1001).Select(_ => r.NextSingle() * 2 - 1).Append(1f).Append(-1f).Append(1.5f).ToArray();
        string path = dir.File("out16.wav");
        WavWriter.WriteMono16(path, x, 16000);
        var wav = WavReader.Read(path);
        Assert.Equal((16000, 1, x.Length), (wav.SampleRate, wav.Channels, wav.Interleaved.Length));
        for (int i = 0; i < x.Length; i++)
            Assert.True(Math.Abs(Math.Clamp(x[i], -1f, 32767f / 32768) - wav.Interleaved[i]) <= 0.5f / 32768 + 1e-7f, $"sample {i}");
        // RIFF header, the fmt chunk (its size as written), the data chunk header and exactly the samples: nothing else.
        var bytes = File.ReadAllBytes(path);
        Assert.Equal("fmt "u8.ToArray(), bytes[12..16]);
        int fmtSize = BitConverter.ToInt32(bytes, 16);
        Assert.Equal("data"u8.ToArray(), bytes[(20 + fmtSize)..(24 + fmtSize)]);
        Assert.Equal(2 * x.Length, BitConverter.ToInt32(bytes, 24 + fmtSize));
        Assert.Equal(28 + fmtSize + 2 * x.Length, bytes.Length);

        // What the reader returns, the writer stores exactly.
        string again = dir.File("again.wav");
        WavWriter.WriteMono16(again, wav.Interleaved, 16000);
        Assert.Equal(File.ReadAllBytes(path), File.ReadAllBytes(again));
    }

    [Fact]
    public void Float32_round_trips_exactly_and_leaves_no_temp_files()
    {
        using var dir = new TempDir();
        var r = new Random(2);
        var x = Enumerable.Range(0, 999).Select(_ => r.NextSingle() * 3 - 1.5f).ToArray();
        string path = dir.File("out32.wav");
        File.WriteAllText(path, "old content to be replaced");
        WavWriter.WriteMonoFloat32(path, x, 44100);
        var wav = WavReader.Read(path);
        Assert.Equal(44100, wav.SampleRate);
        Assert.Equal(x, wav.Interleaved);
        Assert.Equal(["out32.wav"], Directory.GetFiles(dir.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void Non_finite_samples_are_refused_and_the_target_is_untouched()
    {
        using var dir = new TempDir();
        string path = dir.File("keep.wav", [1, 2, 3]);
        Assert.Throws<ArgumentException>(() => WavWriter.WriteMono16(path, [0f, float.NaN], 16000));
        Assert.Equal([1, 2, 3], File.ReadAllBytes(path));
        Assert.Single(Directory.GetFiles(dir.Path));
    }
}
