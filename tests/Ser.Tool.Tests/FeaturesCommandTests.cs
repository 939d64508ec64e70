using System.Runtime.CompilerServices;

namespace Ser.Tool.Tests;

internal static class FeatureCacheSetup
{
    /// <summary>Runs before any test: sertool's default feature store folder becomes a temporary one, so the tests
    /// never read or fill the user's ~/.cache/ser/features.</summary>
    [ModuleInitializer]
    internal static void Initialize()
    {
        string dir = Directory.CreateTempSubdirectory("ser-tool-tests-features-").FullName;
        Environment.SetEnvironmentVariable("SER_FEATURE_CACHE", dir);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        };
    }
}

/// <summary>`sertool features build|info|clear`, and train reusing the store it built.</summary>
[Collection(nameof(ConsoleCapture))]
public sealed class FeaturesCommandTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("ser-features-cli-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    [Fact]
    public void Build_info_train_reuses_then_clear()
    {
        string corpus = CliFixtures.WriteCorpus(Path.Combine(_dir, "corpus"));
        string store = Path.Combine(_dir, "store");
        string model = Path.Combine(_dir, "tiny.json");
        File.WriteAllText(model, CliFixtures.TinyModelJson);

        var (code, output, err) = Cli.Run("features", "build", "--corpus", corpus, "--feature-cache", store, "--threads", "1");
        Assert.True(code == 0, err + output);
        Assert.Contains("feature store: building", output);
        Assert.Contains("40 utterances", output);

        (code, output, err) = Cli.Run("features", "info", "--feature-cache", store);
        Assert.True(code == 0, err + output);
        Assert.Contains("1 file(s)", output);
        Assert.Contains("40 utterances", output);
        Assert.Contains("float32", output);

        (code, output, err) = Cli.Run("train", "--corpus", corpus, "--preset", model, "--epochs", "1", "--batch-size", "4", "--threads", "1",
            "--device", "cpu", "--folds", "2", "--out", Path.Combine(_dir, "run"), "--feature-cache", store);
        Assert.True(code == 0, err + output);
        Assert.Contains("no spectrograms computed", output);
        Assert.Contains(CliFixtures.Lines(output), l => l.StartsWith("memory: peak RssAnon") && l.Contains("GB"));

        // evaluate reads the store and scores exactly as from the audio
        string model2 = Path.Combine(_dir, "run", "model.ser");
        (code, var fromStore, err) = Cli.Run("evaluate", "--model", model2, "--corpus", corpus, "--speakers", "all", "--json", "--feature-cache", store);
        Assert.True(code == 0, err + fromStore);
        Assert.Contains("spectrograms read from the feature store", err);
        (code, var fromAudio, err) = Cli.Run("evaluate", "--model", model2, "--corpus", corpus, "--speakers", "all", "--json", "--feature-cache", "off");
        Assert.True(code == 0, err + fromAudio);
        Assert.DoesNotContain("feature store", err);
        Assert.Equal(fromAudio, fromStore);

        (code, output, err) = Cli.Run("features", "clear", "--feature-cache", store);
        Assert.True(code == 0, err + output);
        (code, output, _) = Cli.Run("features", "info", "--feature-cache", store);
        Assert.Contains("0 file(s)", output);

        (code, _, err) = Cli.Run("features", "rebuild", "--feature-cache", store);
        Assert.Equal(1, code);
        Assert.StartsWith("sertool: error: features: unknown action", err.Trim());
    }
}
