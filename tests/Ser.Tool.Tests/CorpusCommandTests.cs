using System.Text.Json;

namespace Ser.Tool.Tests;

/// <summary>Runs `sertool corpus …` through Program.Main, as a user would (console captured, so no parallel tests).</summary>
[Collection("ConsoleCapture")]
public sealed class CorpusCommandTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("ser-corpus-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    [Fact]
    public void Stats_prints_tables_for_the_default_synthetic_corpus()
    {
        var (code, output, err) = Cli.Run("corpus", "stats");
        Assert.True(code == 0, err);
        Assert.Contains("600 utterances", output);
        Assert.Contains("per class", output);
        Assert.Contains("per speaker", output);
        Assert.Contains("per session", output);
        Assert.Contains("Ses05M", output);
        Assert.Contains("48.0%", output);
    }

    [Fact]
    public void Stats_json_is_machine_readable()
    {
        var (code, output, err) = Cli.Run("corpus", "stats", "--corpus", "synthetic:utterances=50,seed=2", "--json");
        Assert.True(code == 0, err);
        using var doc = JsonDocument.Parse(output);
        var root = doc.RootElement;
        Assert.Equal(50, root.GetProperty("utterances").GetInt32());
        Assert.Equal(50, root.GetProperty("perClass").EnumerateArray().Sum(c => c.GetProperty("utterances").GetInt32()));
        Assert.Equal(10, root.GetProperty("perSpeaker").GetArrayLength());
        Assert.Equal(5, root.GetProperty("perSession").GetArrayLength());
        var speaker = root.GetProperty("perSpeaker")[0];
        Assert.Equal("Ses01F", speaker.GetProperty("name").GetString());
        Assert.Equal("F", speaker.GetProperty("gender").GetString());
        Assert.Equal(speaker.GetProperty("utterances").GetInt32(),
            speaker.GetProperty("byClass").EnumerateObject().Sum(p => p.Value.GetInt32()));
        Assert.True(root.GetProperty("totalSeconds").GetDouble() > 50);
    }

    [Fact]
    public void Synth_writes_a_corpus_that_loads_back_as_a_manifest()
    {
        string outDir = Path.Combine(_dir, "synth");
        var (code, output, err) = Cli.Run("corpus", "synth", "--out", outDir, "--utterances", "12", "--seed", "3");
        Assert.True(code == 0, err);
        Assert.Contains("wrote 12 utterances", output);
        Assert.Equal(12, Directory.GetFiles(outDir, "*.wav").Length);

        (code, output, err) = Cli.Run("corpus", "stats", "--corpus", $"manifest:{Path.Combine(outDir, "manifest.csv")}", "--json");
        Assert.True(code == 0, err);
        using var back = JsonDocument.Parse(output);
        (_, string original, _) = Cli.Run("corpus", "stats", "--corpus", "synthetic:utterances=12,seed=3", "--json");
        using var orig = JsonDocument.Parse(original);
        foreach (string part in new[] { "perClass", "perSpeaker", "perSession" })
            Assert.Equal(Strip(orig.RootElement.GetProperty(part)), Strip(back.RootElement.GetProperty(part)));
        // Durations survive the 16-bit WAV round trip to the sample.
        Assert.Equal(orig.RootElement.GetProperty("totalSeconds").GetDouble(), back.RootElement.GetProperty("totalSeconds").GetDouble(), 3);
    }

    // Names and counts of a stats section (not the durations, compared separately).
    static string Strip(JsonElement groups) =>
        string.Join(";", groups.EnumerateArray().Select(g => g.GetProperty("name").GetString() + "=" + g.GetProperty("utterances").GetInt32()));

    [Theory]
    [InlineData(new[] { "corpus", "stats", "--corpus", "iemocap:/no/such/dir" }, "not found")]
    [InlineData(new[] { "corpus", "frobnicate" }, "unknown action 'frobnicate'")]
    [InlineData(new[] { "corpus", "synth" }, "--out DIR is required")]
    [InlineData(new[] { "corpus", "stats", "--corpus", "bogus:x" }, "unknown kind 'bogus'")]
    public void Bad_input_is_a_one_line_error(string[] args, string expected)
    {
        var (code, _, err) = Cli.Run(args);
        Assert.Equal(1, code);
        Assert.StartsWith("sertool: error:", err);
        Assert.Contains(expected, err);
        Assert.Single(err.Trim().Split('\n'));
    }
}
