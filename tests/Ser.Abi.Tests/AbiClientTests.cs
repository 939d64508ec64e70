using System.Globalization;
using System.Text;
using Ser.Engine.Inference;

namespace Ser.Abi.Tests;

/// <summary>libser.so from outside .NET: the C client (gcc, pthreads) and the Python ctypes client.</summary>
public sealed class AbiClientTests(AbiFixture fixture) : IClassFixture<AbiFixture>
{
    static readonly TimeSpan Limit = TimeSpan.FromMinutes(5);

    /// <summary>Writes each utterance as raw float32 and a cases file with EmotionRecognizer's probabilities.</summary>
    string WriteCases()
    {
        using var recognizer = EmotionRecognizer.Load(fixture.Model);
        var sb = new StringBuilder();
        for (int i = 0; i < fixture.Utterances.Count; i++)
        {
            var (pcm, rate) = fixture.Utterances[i];
            string raw = Path.Combine(fixture.Dir, $"case{i}.f32");
            AbiFixture.WriteF32(raw, pcm);
            var p = recognizer.Predict(pcm, rate);
            sb.Append(CultureInfo.InvariantCulture, $"{raw} {rate}");
            foreach (var label in recognizer.Labels) sb.Append(CultureInfo.InvariantCulture, $" {p.Probabilities[label]:R}");
            sb.AppendLine();
        }
        string cases = Path.Combine(fixture.Dir, "cases.txt");
        File.WriteAllText(cases, sb.ToString());
        AbiFixture.WriteF32(Path.Combine(fixture.Dir, "speech.f32"), fixture.Speech);
        return cases;
    }

    [Fact]
    public void The_C_client_passes_every_check_including_4_threads_at_once()
    {
        string cases = WriteCases();
        string exe = Path.Combine(fixture.Dir, "ser_test");
        string source = Path.Combine(AppContext.BaseDirectory, "clients", "ser_test.c");
        var (code, output) = Tools.Run("gcc", ["-std=c99", "-Wall", "-Wextra", "-Werror", "-O1", "-pthread",
            "-I", Path.GetDirectoryName(LibSer.Header)!, source, "-L", LibSer.Directory, "-lser",
            "-Wl,-rpath," + LibSer.Directory, "-lm", "-o", exe], Limit);
        Assert.True(code == 0, "gcc: " + output);
        (code, output) = Tools.Run(exe, [fixture.Model, cases, Path.Combine(fixture.Dir, "speech.f32")], Limit);
        Assert.True(code == 0, output);
        Assert.Matches(@"(?m)^[1-9]\d* passed, 0 failed$", output);
    }

    [Fact]
    public void The_Python_ctypes_client_passes()
    {
        string cases = WriteCases();
        string script = Path.Combine(AppContext.BaseDirectory, "clients", "ser_ctypes.py");
        var (code, output) = Tools.Run("python3", [script, LibSer.Library, fixture.Model, cases, Path.Combine(fixture.Dir, "speech.f32")], Limit);
        Assert.True(code == 0, output);
        Assert.Matches(@"(?m)^[1-9]\d* passed, 0 failed$", output);
    }
}
