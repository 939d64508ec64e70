using Ser.Engine.Audio;
using static Ser.Engine.Tests.Audio.SignalFit;

namespace Ser.Engine.Tests.Audio;

/// <summary>
/// MP3 (NLayer) and Ogg Vorbis (NVorbis) input. The fixtures are a 0.5 s, 440 Hz, 22.05 kHz stereo tone at
/// 16000/32768 of full scale, encoded once with `lame -b 64` and `oggenc -q 0` (Audio/Fixtures).
/// </summary>
public class CompressedAudioTests
{
    const double Level = 16000.0 / 32768;

    static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Audio", "Fixtures", name);


    [Theory]
    [InlineData("tone440-22k-stereo.mp3")]
    [InlineData("tone440-22k-stereo.ogg")]
    public void Decodes_the_tone_at_its_rate_channels_frequency_and_level(string file)
    {
        var audio = WavReader.Read(Fixture(file));
        Assert.Equal(22050, audio.SampleRate);
        Assert.Equal(2, audio.Channels);
        // Encoders add delay and padding (lame about 1100 samples): the length is 0.5 s give or take 0.1 s.
        Assert.InRange(audio.DurationSeconds, 0.45, 0.6);
        var mono = audio.MixToMono();
        var (amplitude, residualDb) = FitTone(mono, 440, 22050);
        Assert.InRange(amplitude / Level, 0.9, 1.1);
        Assert.True(residualDb < -20, $"{residualDb:F1} dB of {file} is not the 440 Hz tone");
        // Both channels carry the same tone.
        var left = Enumerable.Range(0, audio.FrameCount).Select(f => audio.Interleaved[2 * f]).ToArray();
        Assert.InRange(FitTone(left, 440, 22050).Amplitude / Level, 0.9, 1.1);
    }

    [Theory]
    [InlineData("tone440-22k-stereo.mp3")]
    [InlineData("tone440-22k-stereo.ogg")]
    public void ReadMono_resamples_to_16k_and_the_format_comes_from_the_bytes_not_the_name(string file)
    {
        using var dir = new TempDir();
        string misnamed = dir.File("really-compressed.wav", File.ReadAllBytes(Fixture(file)));
        var pcm = WavReader.ReadMono(misnamed);
        var audio = WavReader.Read(Fixture(file));
        Assert.Equal((int)Math.Ceiling(audio.FrameCount * 16000.0 / 22050), pcm.Length);
        Assert.InRange(FitTone(pcm, 440, 16000).Amplitude / Level, 0.9, 1.1);
    }

    /// <summary>Reads or refuses with a one-line AudioFormatException naming the file; never hangs or over-allocates.</summary>
    static void ReadOrRefuse(byte[] bytes, string name)
    {
        var task = Task.Run(() =>
        {
            try
            {
                var audio = WavReader.Read(new MemoryStream(bytes), name);
                Assert.All(audio.Interleaved, v => Assert.True(float.IsFinite(v)));
                // CompressedAudio's bounds: 288 frames per byte of MP3 (1152-sample frames of at least 4 bytes), 4096 of Vorbis.
                long framesPerByte = name.EndsWith(".mp3") ? 288 : 4096;
                Assert.True(audio.Interleaved.Length <= bytes.Length * framesPerByte * audio.Channels, "decoded past the expansion bound");
            }
            catch (AudioFormatException e)
            {
                Assert.Contains(name, e.Message);
                Assert.DoesNotContain('\n', e.Message);
            }
        });
        Assert.True(task.Wait(TimeSpan.FromSeconds(20)), $"{name}: decoding {bytes.Length} bytes did not finish in 20 s");
        task.GetAwaiter().GetResult();   // rethrows an assertion failure or an exception that escaped as the wrong type
    }

    [Theory]
    [InlineData("tone440-22k-stereo.mp3")]
    [InlineData("tone440-22k-stereo.ogg")]
    public void Every_truncation_is_read_or_refused_cleanly(string file)
    {
        var bytes = File.ReadAllBytes(Fixture(file));
        for (int n = 0; n < bytes.Length; n += n < 256 ? 1 : 13)
            ReadOrRefuse(bytes[..n], "cut-" + file);
    }

    [Theory]
    [InlineData("tone440-22k-stereo.mp3")]
    [InlineData("tone440-22k-stereo.ogg")]
    public void Random_corruption_is_read_or_refused_cleanly(string file)
    {
        var bytes = File.ReadAllBytes(Fixture(file));
        var r = new Random(17);
        for (int trial = 0; trial < 400; trial++)
        {
            var bad = (byte[])bytes.Clone();
            for (int k = r.Next(1, 6); k > 0; k--)
                bad[r.Next(bad.Length)] = (byte)r.Next(256);
            ReadOrRefuse(bad, "bad-" + file);
        }
    }

    [Fact]
    public void Headers_alone_are_a_one_line_AudioFormatException()
    {
        // The Ogg identification page alone (no audio), and an MP3 that is only an ID3 tag.
        var ogg = File.ReadAllBytes(Fixture("tone440-22k-stereo.ogg"));
        byte[] id3Only = [.. "ID3"u8, 4, 0, 0, 0, 0, 0, 0];
        foreach (var (bytes, name) in new[] { (ogg[..58], "head.ogg"), (id3Only, "tag.mp3") })
        {
            var e = Assert.ThrowsAny<AudioFormatException>(() => WavReader.Read(new MemoryStream(bytes), name));
            Assert.Contains(name, e.Message);
            Assert.DoesNotContain('\n', e.Message);
        }
    }

    [Theory]
    [InlineData("tone440-22k-stereo.mp3")]
    [InlineData("tone440-22k-stereo.ogg")]
    public void OpenBlocks_serves_the_same_mono_samples_in_blocks(string file)
    {
        var expected = WavReader.Read(Fixture(file)).MixToMono();
        using var blocks = WavReader.OpenBlocks(Fixture(file));
        Assert.Equal((22050, 2, (long)expected.Length), (blocks.SampleRate, blocks.Channels, blocks.Frames));
        var got = new List<float>();
        var buffer = new float[1000];
        int n;
        while ((n = blocks.ReadMono(buffer)) > 0)
            got.AddRange(buffer[..n]);
        Assert.Equal(expected, got);
    }
}
