using System.Diagnostics;
using System.Globalization;
using CommandLine;
using Ser.Engine;
using Ser.Engine.Data;
using Ser.Engine.Data.Store;

namespace Ser.Tool.Commands;

/// <summary>
/// `sertool features build [--corpus SPEC]`: computes a corpus's spectrograms into the feature store (or finishes an
/// interrupted build; nothing to do when the store exists and is intact). `sertool features info`: the store folder's
/// stores. `sertool features clear`: deletes them. (CommandLineParser has no nested verbs, so the action is the first value.)
/// </summary>
[Verb("features", HelpText = "The persistent feature store: build a corpus's spectrograms into it (build), list the stores (info), or delete them (clear).")]
internal sealed class FeaturesCommand : ICommand
{
    [Value(0, MetaName = "action", Required = true, HelpText = "build | info | clear")]
    public string Action { get; set; } = "";

    [Option("corpus", HelpText = "build: corpus spec (default synthetic:utterances=2280, train's default): synthetic[:utterances=N,seed=S,span=F], iemocap:PATH, ravdess:PATH, cremad:PATH, emodb:PATH, manifest:FILE.csv")]
    public string? Corpus { get; set; }

    [Option("feature-cache", HelpText = "Feature store folder (default: $SER_FEATURE_CACHE, else ~/.cache/ser/features).")]
    public string? FeatureCache { get; set; }

    [Option("feature-precision", HelpText = FeatureCacheOption.PrecisionHelp)]
    public string? FeaturePrecision { get; set; }

    [Option("threads", Default = 0, HelpText = "build: utterances computed in parallel (0 = all cores).")]
    public int Threads { get; set; }

    public int Run()
    {
        if (Threads < 0) throw new SerException($"--threads must be 0 (all cores) or positive (got {Threads})");
        if (FeatureCache?.Trim().Equals("off", StringComparison.OrdinalIgnoreCase) == true)
            throw new SerException("--feature-cache off: the features verb needs a store folder");
        var options = FeatureCacheOption.Resolve(FeatureCache, FeaturePrecision, Threads)!;
        string dir = options.ResolvedDirectory;
        switch (Action.Trim().ToLowerInvariant())
        {
            case "build":
            {
                var clock = Stopwatch.StartNew();
                var corpus = CorpusSpec.Load(Corpus ?? Ser.Engine.Experiments.TrainingSettings.DefaultCorpus);
                var shown = Stopwatch.StartNew();
                using var store = FeatureStore.Open(corpus, options, Console.Out.WriteLine, p =>
                {
                    if (p.Done < p.Total && shown.Elapsed.TotalSeconds < 5) return;
                    shown.Restart();
                    Console.Out.WriteLine(FeatureStore.Describe(p));
                });
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{store.Path}: {store.Count} utterances, {FeatureStore.Gigabytes(store.FileBytes)}, ready in {clock.Elapsed.TotalSeconds:F1} s"));
                return 0;
            }
            case "info":
            {
                var files = FeatureStore.List(dir);
                Console.Out.WriteLine($"feature store folder {dir}: {files.Count} file(s), {FeatureStore.Gigabytes(files.Sum(f => f.Bytes))} " +
                                      $"(cap {FeatureStore.Gigabytes(options.ResolvedMaxBytes)}, ${FeatureStoreOptions.MaxSizeVariable})");
                foreach (var f in files)
                    Console.Out.WriteLine($"  {Path.GetFileName(f.Path)}  {FeatureStore.Gigabytes(f.Bytes)}  last used {f.LastUsedUtc:yyyy-MM-dd HH:mm} UTC  {Describe(f)}");
                return 0;
            }
            case "clear":
            {
                long freed = FeatureStore.Clear(dir);
                Console.Out.WriteLine($"feature store folder {dir}: removed every store ({FeatureStore.Gigabytes(freed)} freed)");
                return 0;
            }
            default:
                throw new SerException($"features: unknown action '{Action}' (expected build, info or clear)");
        }
    }

    static string Describe(StoreFileInfo f)
    {
        if (f.Partial) return "(an unfinished build: the next build of its corpus resumes it)";
        try
        {
            using var s = StoredFeatures.Open(f.Path);
            return $"{s.Count} utterances, {s.Frames.Sum(t => (long)t)} frames: {s.Metadata.Description}";
        }
        catch (StoreCorruptException e)
        {
            return $"(corrupt: {e.Message}; rebuilt on next use)";
        }
    }
}
