using Ser.Engine.Backends.Cpu;
using Ser.Engine.Data;
using Ser.Engine.Data.Synthetic;
using Ser.Engine.Models;
using Ser.Engine.Training;

namespace Ser.Engine.Tests.Training;

public class TrainingTests(ITestOutputHelper output)
{
    internal static readonly ModelConfig Config = new()
    {
        Bins = 32,
        Channels = [4, 6, 8],
        Kernels = [[5, 5], [3, 4], [3, 3]],
        Hidden = 12,
        Dense = 12,
        Classes = 4,
        Dropout = 0.25,
    };

    static float[][] Train(int threads, int steps, SimdPath? path = null)
    {
        var set = SyntheticBatches.Set(5, 12, Config.Bins, Config.Classes, 9, 40);
        var batches = new[] { SyntheticBatches.Make(set[..6], Config.Bins), SyntheticBatches.Make(set[6..], Config.Bins) };
        using var ex = Executor.Create(Config, new ExecutorOptions { MaxBatch = 6, MaxFrames = 40, Threads = threads, Simd = path });
        ex.InitializeParameters(21);
        ex.Adam = new AdamOptions { LearningRate = 3e-3, ClipNorm = 5, WeightDecay = 1e-4 };
        for (int s = 0; s < steps; s++) ex.TrainStep(batches[s % 2], [3, 3, 3, 3]);
        return ex.ParameterNames.Select(ex.GetParameter).ToArray();
    }

    /// <summary>Invariant 5: same seed and data on the CPU give bit-identical weights - also across thread counts.</summary>
    [Theory]
    [MemberData(nameof(SimdPaths.All), MemberType = typeof(SimdPaths))]
    public void Training_is_bit_identical_across_runs_and_thread_counts(SimdPath path)
    {
        SimdPaths.Require(path);
        var a = Train(2, 6, path);
        var b = Train(2, 6, path);
        var c = Train(1, 6, path);
        for (int p = 0; p < a.Length; p++)
        {
            Assert.Equal(a[p], b[p]); // exact float equality, element by element
            Assert.Equal(a[p], c[p]);
        }
        var fresh = Train(2, 0);
        Assert.Contains(Enumerable.Range(0, a.Length), p => !a[p].SequenceEqual(fresh[p])); // training moved the weights
    }

    /// <summary>
    /// Training starts from zero classifier weights (why: ParameterInit), so the first posteriors are uniform and the
    /// first loss is exactly ln K; AllPathsLive differs only in the classifier, whose weights are then LeCun-uniform.
    /// </summary>
    [Fact]
    public void Training_init_starts_at_uniform_posteriors_and_checks_init_differs_only_in_the_classifier()
    {
        var batch = SyntheticBatches.Make(SyntheticBatches.Set(1, 6, Config.Bins, Config.Classes, 9, 40), Config.Bins);
        using var training = Executor.Create(Config, new ExecutorOptions { MaxBatch = 6, MaxFrames = 40, Threads = 1 });
        using var checks = Executor.Create(Config, new ExecutorOptions { MaxBatch = 6, MaxFrames = 40, Threads = 1 });
        training.InitializeParameters(5);
        checks.InitializeParameters(5, InitMode.AllPathsLive);

        var logits = new float[batch.Count * Config.Classes];
        double loss = training.Evaluate(batch, [1, 1, 1, 1], logits).Loss;
        Assert.Equal(Math.Log(Config.Classes), loss, 6);
        Assert.All(logits, l => Assert.Equal(0f, l));

        double bound = Math.Sqrt(3.0 / Config.Dense);
        var live = checks.GetParameter("fc2.weight");
        Assert.All(live, w => Assert.InRange(Math.Abs(w), 0, bound));
        Assert.True(live.Select(Math.Abs).Average() > bound / 4, "classifier weights of AllPathsLive look uniform in ±bound");
        foreach (var name in training.ParameterNames.Where(n => n != "fc2.weight"))
            Assert.Equal(training.GetParameter(name), checks.GetParameter(name));
    }

    /// <summary>
    /// The model can fit: 16 utterances of the synthetic corpus, through the real front end and feature normalisation,
    /// reach 100% training accuracy with the small preset (dropout off).
    /// </summary>
    [Fact]
    public void Overfits_sixteen_synthetic_corpus_utterances()
    {
        var corpus = new Corpus("synthetic", SyntheticCorpus.Create(16, seed: 3));
        var cache = FeatureCache.Compute(corpus);
        var items = Enumerable.Range(0, cache.Count).ToArray();
        var loader = new BatchLoader(cache, items, new BatchOptions(BatchSize: 8), cache.Statistics(items));
        var config = ModelConfig.Small with { Dropout = 0 };
        var counts = new float[config.Classes];
        foreach (int i in items) counts[cache.Label(i)]++;
        var batch = loader.CreateBatch();
        using var ex = Executor.Create(config, ExecutorOptions.For(batch));
        ex.InitializeParameters(4);
        ex.Adam = new AdamOptions { LearningRate = 3e-3 };
        long planned = ex.ArenaBytes;
        const int MaxEpochs = 80;
        int correct = 0, epoch = 0;
        // Bounded by epochs, not by the clock (a loaded machine must not fail it): CPU training is deterministic, and this
        // run reaches 16/16 at epoch 26; the bound leaves room for another kernel path's rounding.
        for (; epoch < MaxEpochs; epoch++)
        {
            foreach (var members in loader.Epoch(seed: epoch))
            {
                loader.Fill(batch, members);
                ex.TrainStep(batch, counts);
            }
            correct = 0;
            foreach (var members in loader.Epoch())
            {
                loader.Fill(batch, members);
                correct += ex.Evaluate(batch, counts).Correct;
            }
            if (correct == 16) break;
        }
        Assert.True(correct == 16, $"{correct}/16 correct after {epoch} epochs");
        output.WriteLine($"16/16 correct after epoch {epoch + 1}");
        Assert.Equal(planned, ex.ArenaBytes); // the loader's batch shape was planned for: no growth
    }

    /// <summary>A frame budget per batch (B * T) plans less memory and still holds both extremes without growing.</summary>
    [Fact]
    public void Frame_capped_capacity_holds_many_short_or_few_long_utterances()
    {
        var config = Config with { Dropout = 0 };
        using var capped = Executor.Create(config, new ExecutorOptions { MaxBatch = 8, MaxFrames = 96, MaxPaddedFrames = 200 });
        using var full = Executor.Create(config, new ExecutorOptions { MaxBatch = 8, MaxFrames = 96 });
        long Activations(Executor e) => e.ArenaUsage.Single(a => a.Name == "activations").Bytes;
        Assert.True(Activations(capped) < Activations(full) / 2, $"{Activations(capped)} vs {Activations(full)} bytes");
        capped.InitializeParameters(1);
        long planned = capped.ArenaBytes;
        var shortOnes = SyntheticBatches.Make(SyntheticBatches.Set(1, 8, config.Bins, config.Classes, 20, 25), config.Bins);
        var longOnes = SyntheticBatches.Make(SyntheticBatches.Set(2, 2, config.Bins, config.Classes, 90, 96), config.Bins);
        Assert.True(double.IsFinite(capped.TrainStep(shortOnes).Loss));
        Assert.True(double.IsFinite(capped.TrainStep(longOnes).Loss));
        Assert.Equal(planned, capped.ArenaBytes);
        // a batch beyond the plan grows the arenas instead of failing
        var bigger = SyntheticBatches.Make(SyntheticBatches.Set(3, 4, config.Bins, config.Classes, 90, 96), config.Bins);
        Assert.True(double.IsFinite(capped.TrainStep(bigger).Loss));
        Assert.True(capped.ArenaBytes > planned);
    }
}
