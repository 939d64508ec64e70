using Ser.Engine.Data;
using Ser.Engine.Features;

namespace Ser.Engine.Tests.Data;

[Collection(nameof(Ser.Engine.Tests.Training.AllocationTests))]  // measures allocation: run alone
public sealed class BatchLoaderTests
{
    const int F = 3;   // bins: small so the tests stay fast

    // Items with lengths 1..40 frames (some repeated), every value = item + 1 so padding zeros are distinguishable.
    static FeatureCache Cache(int n = 53)
    {
        var features = new float[n][];
        var labels = new int[n];
        for (int i = 0; i < n; i++)
        {
            int t = 1 + (i * 7919) % 40;
            features[i] = Enumerable.Repeat((float)(i + 1), t * F).ToArray();
            labels[i] = i % 4;
        }
        return FeatureCache.FromArrays(features, labels, F);
    }

    [Theory]
    [InlineData(null)]
    [InlineData(7)]
    public void Every_item_is_in_exactly_one_batch_sorted_longest_first(int? seed)
    {
        var cache = Cache();
        var items = Enumerable.Range(0, cache.Count).Where(i => i % 5 != 0).ToArray();   // a split, not the whole cache
        var loader = new BatchLoader(cache, items, new BatchOptions(BatchSize: 6), stats: null);
        var epoch = loader.Epoch(seed);
        Assert.Equal(items, epoch.SelectMany(b => b).Order());
        Assert.All(epoch, b => Assert.InRange(b.Length, 1, 6));
        foreach (var b in epoch)
            for (int k = 1; k < b.Length; k++)
                Assert.True(cache.Frames(b[k - 1]) >= cache.Frames(b[k]));
    }

    [Fact]
    public void Evaluation_order_is_fixed_and_globally_sorted()
    {
        var cache = Cache();
        var loader = new BatchLoader(cache, Enumerable.Range(0, cache.Count).ToArray(), new BatchOptions(BatchSize: 8), null);
        var a = loader.Epoch();
        Assert.Equal(a, loader.Epoch());
        var flat = a.SelectMany(b => b).Select(cache.Frames).ToArray();
        Assert.Equal(flat.OrderDescending(), flat);
    }

    [Fact]
    public void Same_seed_same_order_different_seed_different_order()
    {
        var cache = Cache();
        var loader = new BatchLoader(cache, Enumerable.Range(0, cache.Count).ToArray(), new BatchOptions(BatchSize: 4, BucketBatches: 3), null);
        Assert.Equal(loader.Epoch(1), loader.Epoch(1));
        Assert.NotEqual(loader.Epoch(1), loader.Epoch(2));
        Assert.NotEqual(loader.Epoch(), loader.Epoch(1));
    }

    [Fact]
    public void Bucketing_keeps_padding_small()
    {
        var cache = Cache();
        var loader = new BatchLoader(cache, Enumerable.Range(0, cache.Count).ToArray(), new BatchOptions(BatchSize: 4, BucketBatches: 2), null);
        foreach (var b in loader.Epoch(3))
        {
            int spread = cache.Frames(b[0]) - cache.Frames(b[^1]);
            Assert.True(spread <= 8, $"batch spans {spread} frames");   // 8 neighbours in length order cover ≤ 8 frames here
        }
    }

    [Fact]
    public void Frame_cap_limits_padded_size()
    {
        var cache = Cache();
        var loader = new BatchLoader(cache, Enumerable.Range(0, cache.Count).ToArray(), new BatchOptions(BatchSize: 16, MaxFramesPerBatch: 60), null);
        foreach (var b in loader.Epoch(5))
            Assert.True(b.Length == 1 || b.Length * cache.Frames(b[0]) <= 60, $"{b.Length} × {cache.Frames(b[0])}");
        var batch = loader.CreateBatch();
        Assert.Equal(60 * F, batch.Features.Length);
        foreach (var b in loader.Epoch(5))
            loader.Fill(batch, b);   // every batch fits the buffers sized by CreateBatch
    }

    [Fact]
    public void Fill_copies_normalises_pads_with_zero_and_does_not_allocate()
    {
        var cache = Cache();
        var stats = new FeatureStats([1f, 2f, 3f], [2f, 2f, 2f]);
        var loader = new BatchLoader(cache, Enumerable.Range(0, cache.Count).ToArray(), new BatchOptions(BatchSize: 5), stats);
        var batch = loader.CreateBatch();
        var epoch = loader.Epoch(11);
        // Dirty the buffer so stale values would show up as non-zero padding.
        batch.Features.AsSpan().Fill(99f);

        foreach (var members in epoch) loader.Fill(batch, members);   // one warm-up pass (JIT, tiering) before measuring
        long allocated = 0;
        foreach (var members in epoch)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            loader.Fill(batch, members);
            allocated += GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.Equal(members.Length, batch.Count);
            Assert.Equal(cache.Frames(members[0]), batch.Frames);
            for (int b = 0; b < batch.Count; b++)
            {
                int item = members[b], t = cache.Frames(item);
                Assert.Equal((t, cache.Label(item), item), (batch.Lengths[b], batch.Labels[b], batch.Indices[b]));
                var sample = batch.Sample(b);
                for (int f = 0; f < F; f++)
                    Assert.Equal((item + 1 - (f + 1)) / 2f, sample[(t - 1) * F + f]);   // (x - mean) / std
                Assert.True(sample[(t * F)..].IndexOfAnyExcept(0f) < 0, "padding must be zero");
            }
        }
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void Cache_statistics_come_from_the_given_items()
    {
        var cache = FeatureCache.FromArrays([[1f, 10f, 3f, 10f], [5f, 30f]], [0, 1], bins: 2);
        var stats = cache.Statistics([0]);
        Assert.Equal([2f, 10f], stats.Mean);
        Assert.Equal([1f, 0f], stats.Std);
        Assert.Equal([3f, 16.6667f], cache.Statistics([0, 1]).Mean.Select(v => (float)Math.Round(v, 4)));
    }

    [Fact]
    public void Cache_computes_front_end_features_of_a_corpus()
    {
        var corpus = new Corpus("synthetic", Ser.Engine.Data.Synthetic.SyntheticCorpus.Create(10, seed: 9));
        var cache = FeatureCache.Compute(corpus, maxParallelism: 2);
        Assert.Equal(10, cache.Count);
        for (int i = 0; i < cache.Count; i++)
        {
            Assert.Equal(FrontEnd.FrameCount((int)Math.Round(corpus[i].DurationSeconds * 16000)), cache.Frames(i));
            Assert.Equal(corpus.ClassIndex(corpus[i].Label), cache.Label(i));
        }
        Assert.Equal(FrontEnd.Compute(corpus[4].Audio.Load()), cache.Features(4).ToArray());
    }
}
