using System.Globalization;
using Ser.Engine.Data.Corpora;
using Ser.Engine.Data.Synthetic;

namespace Ser.Engine.Data;

/// <summary>
/// Loads a corpus from a one-string spec, as given on the command line:
/// <code>
///   synthetic                               the embedded synthetic corpus (the default): 600 utterances, seed 1
///   synthetic:utterances=2280,seed=7        its options ("," or "&amp;" between them)
///   synthetic:utterances=2280,span=1        emotion throughout each emotional utterance (default: a span of 30-60%)
///   iemocap:PATH[?exc=happy&amp;scripted=1&amp;others=1]   IEMOCAP_full_release (or the folder holding it)
///   ravdess:PATH[?calm=neutral&amp;others=1]
///   cremad:PATH[?others=1]
///   emodb:PATH[?others=1]
///   manifest:FILE.csv[?others=1]             path,label,speaker[,session[,gender]]
/// </code>
/// Options follow the path after '?', separated by '&amp;' (a path containing '?' cannot be given).
/// Flags take 1/0/true/false. iemocap: exc=happy counts "excited" as happy; scripted=1 adds scripted dialogs.
/// ravdess: calm=neutral counts "calm" as neutral. others=1 (all file corpora) keeps labels beyond the four classes
/// under their own names. Every problem (bad spec, missing folder, empty corpus) is a one-line <see cref="SerException"/>.
/// </summary>
public static class CorpusSpec
{
    public const string Default = "synthetic";

    public static readonly IReadOnlyList<string> Kinds = ["synthetic", "iemocap", "ravdess", "cremad", "emodb", "manifest"];

    public static Corpus Load(string? spec)
    {
        spec = string.IsNullOrWhiteSpace(spec) ? Default : spec.Trim();
        int colon = spec.IndexOf(':');
        string kind = (colon < 0 ? spec : spec[..colon]).ToLowerInvariant();
        string rest = colon < 0 ? "" : spec[(colon + 1)..];

        List<Utterance> utterances;
        if (kind == "synthetic")
        {
            var o = Options.Parse(spec, kind, rest.TrimStart('?'), ["utterances", "seed", "span"]);
            utterances = SyntheticCorpus.Create(o.Int("utterances", SyntheticCorpus.DefaultUtterances), o.Int("seed", SyntheticCorpus.DefaultSeed),
                o.Number("span"));
        }
        else
        {
            if (!Kinds.Contains(kind))
                throw new SerException($"corpus spec '{spec}': unknown kind '{kind}' (expected one of: {string.Join(", ", Kinds)})");
            int question = rest.IndexOf('?');
            string path = question < 0 ? rest : rest[..question];
            string query = question < 0 ? "" : rest[(question + 1)..];
            if (path.Length == 0)
                throw new SerException($"corpus spec '{spec}': missing path (write {kind}:PATH)");
            path = ExpandHome(path);
            utterances = kind switch
            {
                "iemocap" => LoadIemocap(spec, path, query),
                "ravdess" => LoadRavdess(spec, path, query),
                "cremad" => CremaDCorpus.Load(path, Options.Parse(spec, kind, query, ["others"]).Flag("others")),
                "emodb" => EmoDbCorpus.Load(path, Options.Parse(spec, kind, query, ["others"]).Flag("others")),
                _ => ManifestCorpus.Load(path, Options.Parse(spec, kind, query, ["others"]).Flag("others")),
            };
        }
        if (utterances.Count == 0)
            throw new SerException($"corpus '{spec}': no utterances with a usable label found");
        return new Corpus(spec, utterances);
    }

    static List<Utterance> LoadIemocap(string spec, string path, string query)
    {
        var o = Options.Parse(spec, "iemocap", query, ["exc", "scripted", "others"]);
        string exc = o.Text("exc", "none").ToLowerInvariant();
        if (exc is not ("happy" or "none"))
            throw new SerException($"corpus spec '{spec}': exc must be 'happy' or 'none' (got '{exc}')");
        return IemocapCorpus.Load(path, new IemocapOptions(exc == "happy", o.Flag("scripted"), o.Flag("others")));
    }

    static List<Utterance> LoadRavdess(string spec, string path, string query)
    {
        var o = Options.Parse(spec, "ravdess", query, ["calm", "others"]);
        string calm = o.Text("calm", "none").ToLowerInvariant();
        if (calm is not ("neutral" or "none"))
            throw new SerException($"corpus spec '{spec}': calm must be 'neutral' or 'none' (got '{calm}')");
        return RavdessCorpus.Load(path, new RavdessOptions(calm == "neutral", o.Flag("others")));
    }

    static string ExpandHome(string path) =>
        path.StartsWith("~/", StringComparison.Ordinal)
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), path[2..])
            : path;

    /// <summary>key=value options of one spec, checked against the kind's known keys.</summary>
    sealed class Options
    {
        readonly string _spec;
        readonly Dictionary<string, string> _values;

        Options(string spec, Dictionary<string, string> values) { _spec = spec; _values = values; }

        public static Options Parse(string spec, string kind, string text, string[] known)
        {
            var values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (string part in text.Split(['&', ','], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                int eq = part.IndexOf('=');
                string key = eq < 0 ? part : part[..eq].Trim();
                string value = eq < 0 ? "1" : part[(eq + 1)..].Trim();   // a bare flag means on
                if (!known.Contains(key, StringComparer.OrdinalIgnoreCase))
                    throw new SerException($"corpus spec '{spec}': unknown option '{key}' for {kind} (known: {string.Join(", ", known)})");
                values[key] = value;
            }
            return new Options(spec, values);
        }

        public string Text(string key, string fallback) => _values.GetValueOrDefault(key, fallback);

        public int Int(string key, int fallback)
        {
            if (!_values.TryGetValue(key, out string? v))
                return fallback;
            return int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) && n >= 0
                ? n
                : throw new SerException($"corpus spec '{_spec}': {key} must be a non-negative integer (got '{v}')");
        }

        /// <summary>A number option, or null when absent.</summary>
        public double? Number(string key)
        {
            if (!_values.TryGetValue(key, out string? v)) return null;
            return double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double x) && double.IsFinite(x)
                ? x
                : throw new SerException($"corpus spec '{_spec}': {key} must be a number (got '{v}')");
        }

        public bool Flag(string key)
        {
            if (!_values.TryGetValue(key, out string? v))
                return false;
            return v.ToLowerInvariant() switch
            {
                "1" or "true" or "yes" or "on" => true,
                "0" or "false" or "no" or "off" => false,
                _ => throw new SerException($"corpus spec '{_spec}': {key} must be 1 or 0 (got '{v}')"),
            };
        }
    }
}
