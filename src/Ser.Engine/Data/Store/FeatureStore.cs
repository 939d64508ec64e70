using System.Diagnostics;
using System.Globalization;
using Ser.Engine.Features;

namespace Ser.Engine.Data.Store;

/// <summary>Where stores live and how they are built.</summary>
public sealed record FeatureStoreOptions
{
    public const string DirectoryVariable = "SER_FEATURE_CACHE", MaxSizeVariable = "SER_FEATURE_CACHE_MAX_GB";
    public const double DefaultMaxGigabytes = 100;

    /// <summary>The store folder; null: <see cref="DirectoryVariable"/>, else ~/.cache/ser/features.</summary>
    public string? Directory { get; init; }
    public FeaturePrecision Precision { get; init; } = FeaturePrecision.Float32;
    /// <summary>Size cap of the folder; 0: <see cref="MaxSizeVariable"/> (GB), else <see cref="DefaultMaxGigabytes"/>.
    /// Building a store first evicts the least recently used others until the new one fits.</summary>
    public long MaxBytes { get; init; }
    /// <summary>Utterances computed in parallel while building; -1 = all cores.</summary>
    public int MaxParallelism { get; init; } = -1;

    public string ResolvedDirectory =>
        Directory ?? (Environment.GetEnvironmentVariable(DirectoryVariable) is { Length: > 0 } env
            ? env
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "ser", "features"));

    public long ResolvedMaxBytes
    {
        get
        {
            if (MaxBytes > 0) return MaxBytes;
            string? env = Environment.GetEnvironmentVariable(MaxSizeVariable);
            if (string.IsNullOrEmpty(env)) return (long)(DefaultMaxGigabytes * (1L << 30));
            return double.TryParse(env, NumberStyles.Float, CultureInfo.InvariantCulture, out double gb) && gb > 0
                ? (long)(gb * (1L << 30))
                : throw new SerException($"{MaxSizeVariable}: expected a positive number of GB (got '{env}')");
        }
    }
}

/// <summary>Progress of a store build: items done of total (the first <paramref name="Resumed"/> came from an interrupted build).</summary>
public sealed record StoreBuildProgress(int Done, int Total, int Resumed, TimeSpan Elapsed)
{
    public TimeSpan? Eta => Done > Resumed ? Elapsed * ((double)(Total - Done) / (Done - Resumed)) : null;
}

/// <summary>One store file in a store folder (for <c>sertool features info</c>).</summary>
public sealed record StoreFileInfo(string Path, long Bytes, DateTime LastUsedUtc, bool Partial);

/// <summary>
/// A folder of feature stores (<see cref="StoredFeatures"/>), one file per corpus and front end, named by its
/// <see cref="FeatureStoreKey"/>: KEY.serfeat (finished, immutable), KEY.partial (a build in progress or interrupted),
/// KEY.lock (held while building, so a second process waits and then reuses the first one's store instead of writing
/// the same file). A finished store is checked on every open (header, index, every block's checksum); a corrupt one is
/// deleted and rebuilt with a one-line notice.
/// </summary>
public static class FeatureStore
{
    public const string Extension = ".serfeat", PartialExtension = ".partial", LockExtension = ".lock";

    /// <summary>
    /// The corpus's features: from a store when <paramref name="options"/> is given (reused if it exists, else built),
    /// else computed in memory as before. <paramref name="message"/> gets one-line notices (what happened, build progress
    /// with ETA); a cancel request stops a build between chunks, leaving a partial file the next call resumes.
    /// </summary>
    public static FeatureCache Load(Corpus corpus, FeatureStoreOptions? options, Action<string>? message = null, CancellationToken cancel = default)
    {
        var clock = Stopwatch.StartNew();
        FeatureCache cache;
        if (options is null)
        {
            message?.Invoke($"computing spectrograms of {corpus.Count} utterances ({corpus.TotalSeconds / 60:F1} min of audio) in memory...");
            cache = FeatureCache.Compute(corpus);
        }
        else
        {
            var shown = Stopwatch.StartNew();
            void Show(StoreBuildProgress p)
            {
                if (p.Done < p.Total && shown.Elapsed.TotalSeconds < 10) return;   // a line every 10 s, and the last
                shown.Restart();
                message?.Invoke(Describe(p));
            }
            var store = Open(corpus, options, message, Show, cancel);
            cache = FeatureCache.FromStore(store, corpus.LabelIndices());
        }
        long frames = 0;
        for (int i = 0; i < cache.Count; i++) frames += cache.Frames(i);
        message?.Invoke(string.Create(CultureInfo.InvariantCulture,
            $"spectrograms: {cache.Count} utterances, {frames} frames x {cache.Bins} bins in {clock.Elapsed.TotalSeconds:F1} s ({cache.Source})"));
        return cache;
    }

    /// <summary>Opens the corpus's store in the options' folder, building (or finishing) it first if needed.</summary>
    public static StoredFeatures Open(Corpus corpus, FeatureStoreOptions options, Action<string>? message = null,
        Action<StoreBuildProgress>? progress = null, CancellationToken cancel = default)
    {
        string dir = options.ResolvedDirectory;
        Directory.CreateDirectory(dir);
        var key = FeatureStoreKey.For(corpus, options.Precision);
        string final = Path.Combine(dir, key.Name + Extension);
        if (TryOpen(final, key, message) is { } existing)
        {
            message?.Invoke($"feature store: reusing {final} ({Gigabytes(existing.FileBytes)}), no spectrograms computed");
            return existing;
        }
        using (var lockFile = Lock(Path.Combine(dir, key.Name + LockExtension), message, cancel))
        {
            if (TryOpen(final, key, message) is { } built)   // another process finished it while we waited
                return built;
            Evict(dir, Estimate(corpus, options.Precision), options.ResolvedMaxBytes, key.Name, message);
            string partial = Path.Combine(dir, key.Name + PartialExtension);
            message?.Invoke($"feature store: building {final} ({corpus.Count} utterances, about {Gigabytes(Estimate(corpus, options.Precision))})");
            Build(corpus, key, options, partial, progress, message, cancel);
            File.Move(partial, final, overwrite: true);
        }
        return StoredFeatures.Open(final);
    }

    /// <summary>The corpus's store if one exists and is intact (verified), else null; never builds.</summary>
    public static StoredFeatures? OpenExisting(Corpus corpus, FeatureStoreOptions options, Action<string>? message = null)
    {
        var key = FeatureStoreKey.For(corpus, options.Precision);
        return TryOpen(Path.Combine(options.ResolvedDirectory, key.Name + Extension), key, message);
    }

    // A verified store, or null when there is none or it was corrupt (then deleted, with a notice).
    static StoredFeatures? TryOpen(string path, FeatureStoreKey key, Action<string>? message)
    {
        if (!File.Exists(path)) return null;
        StoredFeatures? store = null;
        try
        {
            store = StoredFeatures.Open(path);
            if (!store.Header.Key.AsSpan().SequenceEqual(key.Hash)) throw new StoreCorruptException("its key does not match its name");
            store.Verify();
            File.SetLastAccessTimeUtc(path, DateTime.UtcNow);   // least recently used goes first
            return store;
        }
        catch (StoreCorruptException e)
        {
            store?.Dispose();
            message?.Invoke($"note: feature store {path} is corrupt ({e.Message}); rebuilding it");
            File.Delete(path);
            return null;
        }
    }

    static void Build(Corpus corpus, FeatureStoreKey key, FeatureStoreOptions options, string partial, Action<StoreBuildProgress>? progress,
        Action<string>? message, CancellationToken cancel)
    {
        int n = corpus.Count;
        var header = new StoreHeader(options.Precision, FrontEnd.Bins, n, key.Hash);
        using var writer = StoreWriter.CreateOrResume(partial, header);
        int resumed = writer.Done;
        if (resumed > 0) message?.Invoke($"feature store: resuming an interrupted build after {resumed} of {n} utterances");
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = options.MaxParallelism };
        int workers = options.MaxParallelism > 0 ? options.MaxParallelism : Environment.ProcessorCount;
        int chunk = Math.Max(16, 8 * workers);   // items computed together, then appended in order (bounded memory)
        var clock = Stopwatch.StartNew();
        for (int at = resumed; at < n; at += chunk)
        {
            cancel.ThrowIfCancellationRequested();
            int m = Math.Min(chunk, n - at);
            var features = new float[m][];   // [m][T_i * F]
            Parallel.For(0, m, parallel, i => features[i] = FeatureCache.ComputeOne(corpus[at + i].Audio.Load()));
            foreach (var f in features) writer.Append(f);
            writer.Flush();
            progress?.Invoke(new StoreBuildProgress(at + m, n, resumed, clock.Elapsed));
        }
        var speakers = corpus.Speakers.ToArray();
        var speakerIndex = speakers.Select((s, i) => (s, i)).ToDictionary(p => p.s, p => p.i);
        writer.Finish(corpus.LabelIndices(), corpus.Utterances.Select(u => speakerIndex[u.Speaker]).ToArray(),
            new StoreMetadata(key.Description, corpus.Classes.ToArray(), speakers, corpus.Utterances.Select(u => u.Id).ToArray()));
    }

    // Waits for the build lock (an exclusive open; the OS drops it if the holder dies).
    static FileStream Lock(string path, Action<string>? message, CancellationToken cancel)
    {
        bool told = false;
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (File.Exists(path))
            {
                if (!told) message?.Invoke($"feature store: waiting for another process to finish this store ({path})");
                told = true;
                cancel.WaitHandle.WaitOne(500);
                cancel.ThrowIfCancellationRequested();
            }
        }
    }

    /// <summary>Bytes a store of the corpus will take (frames from the durations).</summary>
    public static long Estimate(Corpus corpus, FeaturePrecision precision)
    {
        long bytes = StoredFeatures.HeaderBytes;
        foreach (var u in corpus.Utterances)
            bytes += StoredFeatures.RecordHeaderBytes + StoredFeatures.EntryBytes +
                     ((long)FrontEnd.FrameCount((int)Math.Round(u.DurationSeconds * FrontEnd.SampleRate)) * FrontEnd.Bins * (int)precision + 15) / 16 * 16;
        return bytes;
    }

    // Deletes the least recently used stores (not `keep`) until `needed` more bytes fit under the cap.
    static void Evict(string dir, long needed, long cap, string keep, Action<string>? message)
    {
        var files = List(dir).Where(f => Path.GetFileNameWithoutExtension(f.Path) != keep).OrderBy(f => f.LastUsedUtc).ToList();
        long total = files.Sum(f => f.Bytes);
        foreach (var f in files)
        {
            if (total + needed <= cap) break;
            File.Delete(f.Path);
            total -= f.Bytes;
            message?.Invoke($"feature store: removed {Path.GetFileName(f.Path)} ({Gigabytes(f.Bytes)}, least recently used) to stay under the {Gigabytes(cap)} cap");
        }
    }

    /// <summary>The store files (finished and partial) in a folder.</summary>
    public static IReadOnlyList<StoreFileInfo> List(string dir)
    {
        if (!Directory.Exists(dir)) return [];
        return new DirectoryInfo(dir).EnumerateFiles()
            .Where(f => f.Extension is Extension or PartialExtension)
            .Select(f => new StoreFileInfo(f.FullName, f.Length, f.Extension == PartialExtension ? f.LastWriteTimeUtc : f.LastAccessTimeUtc,
                f.Extension == PartialExtension))
            .OrderBy(f => f.Path, StringComparer.Ordinal).ToList();
    }

    /// <summary>Deletes every store, partial build and lock file in the folder; returns the bytes freed.</summary>
    public static long Clear(string dir)
    {
        long freed = 0;
        foreach (var f in List(dir))
        {
            File.Delete(f.Path);
            freed += f.Bytes;
        }
        if (Directory.Exists(dir))
            foreach (var l in Directory.EnumerateFiles(dir, "*" + LockExtension)) File.Delete(l);
        return freed;
    }

    public static string Describe(StoreBuildProgress p)
    {
        string eta = p.Eta is { } e && p.Done < p.Total ? string.Create(CultureInfo.InvariantCulture, $", ETA {e.TotalSeconds:F0} s") : "";
        return string.Create(CultureInfo.InvariantCulture,
            $"feature store: {p.Done}/{p.Total} utterances ({100.0 * p.Done / p.Total:F0}%), {p.Elapsed.TotalSeconds:F0} s{eta}");
    }

    public static string Gigabytes(long bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 30):F2} GB");
}
