using Ser.Engine.Audio;

namespace Ser.Tool.Tests;

/// <summary>Runs `sertool spectrogram` through Program.Main, as a user would (stderr captured, so no parallel tests).</summary>
[Collection(nameof(ConsoleCapture))]
public sealed class SpectrogramCommandTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("ser-spectrogram-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    [Fact]
    public void Writes_a_png_for_a_generated_wav()
    {
        // 1.5 s at 22.05 kHz (so it is resampled): a 1 kHz tone, then a 2.5 kHz tone, over a little noise
        string wav = Path.Combine(_dir, "tones.wav");
        var r = new Random(1);
        var x = new float[33075];
        for (int i = 0; i < x.Length; i++)
            x[i] = 0.4f * MathF.Sin(2 * MathF.PI * (i < x.Length / 2 ? 1000 : 2500) * i / 22050) + 0.01f * (r.NextSingle() - 0.5f);
        WavWriter.WriteMono16(wav, x, 22050);
        string png = Path.Combine(_dir, "tones.png");

        var (code, output, err) = Cli.Run("spectrogram", wav, "--out", png, "--width", "800", "--height", "400");

        Assert.True(code == 0, err);
        var bytes = File.ReadAllBytes(png);
        Assert.True(bytes.Length > 1000, $"PNG is only {bytes.Length} bytes");
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }, bytes[..8]);
        Assert.Contains("147 frames", output);   // 1.5 s at 16 kHz = 24000 samples -> 1 + (24000 - 640) / 160 = 147
        Assert.Equal(["tones.png", "tones.wav"], Directory.GetFiles(_dir).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void A_bad_wav_is_exit_code_1_with_a_one_line_error()
    {
        string wav = Path.Combine(_dir, "broken.wav");
        File.WriteAllBytes(wav, "RIFF\x10\0\0\0WAVEfmt "u8.ToArray());
        string png = Path.Combine(_dir, "broken.png");

        var (code, _, err) = Cli.Run("spectrogram", wav, "--out", png);

        Assert.Equal(1, code);
        var lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("sertool: error: ", lines[0]);
        Assert.Contains("broken.wav", lines[0]);
        Assert.DoesNotContain(" at ", err);
        Assert.False(File.Exists(png));
    }

    [Fact]
    public void A_missing_wav_is_exit_code_1()
    {
        var (code, _, err) = Cli.Run("spectrogram", Path.Combine(_dir, "absent.wav"));
        Assert.Equal(1, code);
        Assert.StartsWith("sertool: error: ", err);
        Assert.Contains("absent.wav", err);
    }
}
