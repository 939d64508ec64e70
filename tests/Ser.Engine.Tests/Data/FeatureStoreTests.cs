using Ser.Engine.Audio;
using Ser.Engine.Data;
using Ser.Engine.Data.Store;
using Ser.Engine.Tests.Experiments;

namespace Ser.Engine.Tests.Data;

/// <summary>The persistent feature store, in a temporary folder, on the tiny WAV corpus (40 utterances).</summary>
public sealed class FeatureStoreTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("ser-store-").FullName;
    readonly string _spec;
    readonly List<string> _messages = [];

    public FeatureStoreTests() => _spec = TinyCorpus.Write(Path.Combine(_dir, "corpus"));

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    string StoreDir => Path.Combine(_dir, "store");

    FeatureStoreOptions Options(FeaturePrecision precision = FeaturePrecision.Float32) =>
        new() { Directory = StoreDir, Precision = precision, MaxParallelism = 1 };

    StoredFeatures Open(Corpus corpus, FeatureStoreOptions options, Action<StoreBuildProgress>? progress = null, CancellationToken? cancel = null) =>
        FeatureStore.Open(corpus, options, _messages.Add, progress, cancel ?? TestContext.Current.CancellationToken);

    static void AssertBitExact(FeatureCache expected, StoredFeatures store)
    {
        using var cache = FeatureCache.FromStore(store, new int[store.Count]);
        Assert.Equal(expected.Count, cache.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected.Frames(i), cache.Frames(i));
            Assert.True(expected.Features(i).SequenceEqual(cache.Features(i)), $"item {i} differs");
        }
    }

    [Fact]
    public void Float32_round_trip_is_bit_exact_and_keeps_the_index()
    {
        var corpus = CorpusSpec.Load(_spec);
        var expected = FeatureCache.Compute(corpus);
        var store = Open(corpus, Options());
        Assert.Equal(corpus.LabelIndices(), store.Labels);
        Assert.Equal(corpus.Utterances.Select(u => u.Speaker), store.Speakers.Select(s => store.Metadata.Speakers[s]));
        Assert.Equal(corpus.Utterances.Select(u => u.Id), store.Metadata.Ids);
        AssertBitExact(expected, store);
    }

    [Fact]
    public void Float16_round_trip_is_within_half_precision()
    {
        var corpus = CorpusSpec.Load(_spec);
        var expected = FeatureCache.Compute(corpus);
        using var cache = FeatureCache.FromStore(Open(corpus, Options(FeaturePrecision.Float16)), corpus.LabelIndices());
        float[]? scratch = null;
        double worst = 0;
        for (int i = 0; i < expected.Count; i++)
        {
            var x = expected.Features(i);
            var y = cache.Features(i, ref scratch);
            Assert.Equal(x.Length, y.Length);
            for (int k = 0; k < x.Length; k++)
            {
                // float16 keeps 11 significant bits: relative error at most 2^-11 (dB values lie far inside its range)
                double err = Math.Abs(x[k] - y[k]);
                Assert.True(err <= Math.Abs(x[k]) * Math.Pow(2, -11) + 1e-7, $"item {i}[{k}]: {x[k]} stored as {y[k]}");
                worst = Math.Max(worst, err);
            }
        }
        Assert.True(worst > 0);   // it really is float16
    }

    [Fact]
    public void An_unchanged_corpus_is_reused_and_a_changed_file_rebuilds()
    {
        var corpus = CorpusSpec.Load(_spec);
        string first;
        using (var store = Open(corpus, Options())) first = store.Path;
        Assert.Contains(_messages, m => m.Contains("building"));
        _messages.Clear();
        using (var again = Open(CorpusSpec.Load(_spec), Options()))
            Assert.Equal(first, again.Path);
        Assert.Contains(_messages, m => m.Contains("reusing"));
        Assert.DoesNotContain(_messages, m => m.Contains("building"));

        // rewrite one WAV with other audio: another key, another store, whose item holds the new audio
        string wav = Path.Combine(_dir, "corpus", "Ses01F_0.wav");
        WavWriter.WriteMono16(wav, Enumerable.Range(0, 8000).Select(i => 0.3f * MathF.Sin(i * 0.2f)).ToArray(), 16000);
        File.SetLastWriteTimeUtc(wav, DateTime.UtcNow.AddMinutes(1));
        _messages.Clear();
        var changed = CorpusSpec.Load(_spec);
        using var rebuilt = Open(changed, Options());
        Assert.NotEqual(first, rebuilt.Path);
        Assert.Contains(_messages, m => m.Contains("building"));
        AssertBitExact(FeatureCache.Compute(changed), rebuilt);
        Assert.Equal(2, FeatureStore.List(StoreDir).Count);

        // the size cap evicts the least recently used store before building a new one
        File.SetLastAccessTimeUtc(first, DateTime.UtcNow.AddDays(-1));
        var capped = Options(FeaturePrecision.Float16) with { MaxBytes = new FileInfo(rebuilt.Path).Length + FeatureStore.Estimate(changed, FeaturePrecision.Float16) };
        Open(changed, capped).Dispose();
        Assert.False(File.Exists(first));
        Assert.True(File.Exists(rebuilt.Path));
    }

    [Fact]
    public void An_interrupted_build_resumes_after_its_last_whole_block()
    {
        var corpus = CorpusSpec.Load(_spec);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        // stop after the first chunk (16 items with one worker), like a kill between two chunks
        Assert.ThrowsAny<OperationCanceledException>(() => Open(corpus, Options(), p => cts.Cancel(), cts.Token));
        var partial = Assert.Single(FeatureStore.List(StoreDir));
        Assert.True(partial.Partial);
        // and tear the last record, as a kill in the middle of a write does
        using (var f = new FileStream(partial.Path, FileMode.Open)) f.SetLength(f.Length - 100);

        int resumedAt = -1;
        using var store = Open(corpus, Options(), p => resumedAt = resumedAt < 0 ? p.Resumed : resumedAt);
        Assert.Equal(15, resumedAt);
        Assert.Contains(_messages, m => m.Contains("resuming an interrupted build after 15 of 40"));
        AssertBitExact(FeatureCache.Compute(corpus), store);
        Assert.DoesNotContain(FeatureStore.List(StoreDir), f => f.Partial);
    }

    [Fact]
    public void A_corrupt_block_or_truncated_store_is_detected_and_rebuilt_with_a_notice()
    {
        var corpus = CorpusSpec.Load(_spec);
        string path;
        using (var store = Open(corpus, Options())) path = store.Path;

        var bytes = File.ReadAllBytes(path);
        bytes[StoredFeatures.HeaderBytes + StoredFeatures.RecordHeaderBytes + 4 * 400 * 3 + 1] ^= 0x40;   // item 0, frame 3
        File.WriteAllBytes(path, bytes);
        Assert.Contains("item 0", Assert.Throws<StoreCorruptException>(() => { using var s = StoredFeatures.Open(path); s.Verify(); }).Message);
        _messages.Clear();
        using (var rebuilt = Open(corpus, Options()))
            AssertBitExact(FeatureCache.Compute(corpus), rebuilt);
        Assert.Single(_messages, m => m.StartsWith("note: feature store") && m.Contains("corrupt") && m.Contains("fails its checksum"));

        using (var f = new FileStream(path, FileMode.Open)) f.SetLength(f.Length - 10);
        Assert.Throws<StoreCorruptException>(() => StoredFeatures.Open(path));
        _messages.Clear();
        Open(corpus, Options()).Dispose();
        Assert.Single(_messages, m => m.Contains("corrupt") && m.Contains("truncated"));
    }

    [Fact]
    public void Two_builders_at_once_make_one_good_store()
    {
        var corpus = CorpusSpec.Load(_spec);
        var stores = new StoredFeatures[2];
        var messages = new[] { new List<string>(), new List<string>() };
        Parallel.For(0, 2, new ParallelOptions { MaxDegreeOfParallelism = 2 }, i =>
            stores[i] = FeatureStore.Open(corpus, Options(), m => { lock (messages[i]) messages[i].Add(m); }, cancel: TestContext.Current.CancellationToken));
        Assert.Equal(stores[0].Path, stores[1].Path);
        Assert.Equal(1, messages.Count(l => l.Any(m => m.Contains("building"))));   // the other waited and reused it
        var expected = FeatureCache.Compute(corpus);
        foreach (var s in stores) AssertBitExact(expected, s);
    }

    [Fact]
    public void Batches_from_a_store_do_not_copy_the_corpus_into_memory()
    {
        // A test-sized memory budget: filling every batch of an epoch may allocate far less than the features' size
        // (they stay in the mapped file; a batch is the only copy).
        var corpus = CorpusSpec.Load(_spec);
        using var cache = FeatureCache.FromStore(Open(corpus, Options()), corpus.LabelIndices());
        long featureBytes = Enumerable.Range(0, cache.Count).Sum(i => (long)cache.Frames(i) * cache.Bins * 4);
        var items = Enumerable.Range(0, cache.Count).ToArray();
        var stats = cache.Statistics(items);
        var loader = new BatchLoader(cache, items, new BatchOptions(4), stats);
        var batch = loader.CreateBatch();
        var epoch = loader.Epoch(seed: 3);
        loader.Fill(batch, epoch[0]);   // warm up
        long before = GC.GetAllocatedBytesForCurrentThread();
        foreach (var members in epoch) loader.Fill(batch, members);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < featureBytes / 100, $"{allocated} bytes allocated for {featureBytes} bytes of features");

        // and the batches hold the same numbers as from memory
        var memory = new BatchLoader(FeatureCache.Compute(corpus), items, new BatchOptions(4), stats);
        var other = memory.CreateBatch();
        foreach (var members in epoch)
        {
            loader.Fill(batch, members);
            memory.Fill(other, members);
            int used = batch.Count * batch.Frames * batch.Bins;
            Assert.Equal((other.Count, other.Frames), (batch.Count, batch.Frames));
            Assert.True(other.Features.AsSpan(0, used).SequenceEqual(batch.Features.AsSpan(0, used)));
        }
    }
}
