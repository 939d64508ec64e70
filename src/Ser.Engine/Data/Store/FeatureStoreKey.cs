using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Ser.Engine.Data.Synthetic;
using Ser.Engine.Features;

namespace Ser.Engine.Data.Store;

/// <summary>
/// What a store's contents depend on, hashed (SHA-256): the store format, the front end's parameters, the precision, and
/// the corpus — every utterance's id, label, speaker and audio source: for a file its path, size and modification time;
/// for a synthetic utterance the corpus spec and the generator version. A change to any of them gives another key, so a
/// changed corpus or front end is rebuilt and an unchanged one reused.
/// </summary>
public sealed record FeatureStoreKey(byte[] Hash, string Description)
{
    /// <summary>Bump when the front end's output changes without a change to the parameters below.</summary>
    public const int FrontEndVersion = 1;

    /// <summary>The file name stem: the first 16 hex digits of the hash.</summary>
    public string Name => Convert.ToHexStringLower(Hash)[..16];

    public static FeatureStoreKey For(Corpus corpus, FeaturePrecision precision)
    {
        string frontEnd = string.Create(CultureInfo.InvariantCulture,
            $"front end v{FrontEndVersion}: {FrontEnd.SampleRate} Hz, window {FrontEnd.WindowLength}, hop {FrontEnd.Hop}, DFT {FrontEnd.DftSize}, " +
            $"{FrontEnd.Bins} bins, floor {FrontEnd.FloorPower}, raw dB");
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Add(string s) => sha.AppendData(Encoding.UTF8.GetBytes(s + "\n"));
        Add($"ser feature store v{StoredFeatures.FormatVersion}");
        Add(frontEnd);
        Add($"precision {precision}");
        Add($"corpus {corpus.Name}");
        Add($"synthetic generator v{SyntheticCorpus.GeneratorVersion}");
        foreach (var u in corpus.Utterances)
        {
            string source = u.Audio is FileAudioSource file ? FileIdentity(file.Path) : u.Audio.Describe();
            Add(string.Create(CultureInfo.InvariantCulture, $"{u.Id}|{u.Label}|{u.Speaker}|{u.DurationSeconds:R}|{source}"));
        }
        string description = $"{corpus.Name} ({corpus.Count} utterances); {frontEnd}; {(precision == FeaturePrecision.Float16 ? "float16" : "float32")}";
        return new FeatureStoreKey(sha.GetHashAndReset(), description);
    }

    static string FileIdentity(string path)
    {
        var info = new FileInfo(path);
        return info.Exists
            ? string.Create(CultureInfo.InvariantCulture, $"{Path.GetFullPath(path)}|{info.Length}|{info.LastWriteTimeUtc.Ticks}")
            : $"{Path.GetFullPath(path)}|missing";
    }
}
