using System.Globalization;

namespace Ser.Engine.Data.Corpora;

/// <summary>Which IEMOCAP utterances to keep. The defaults are the paper's: improvised dialogs, neu/ang/hap/sad.</summary>
/// <param name="MergeExcited">Count "exc" (excited) as happy, as many later papers do.</param>
/// <param name="Scripted">Also include the scripted dialogs.</param>
/// <param name="Others">Keep the other agreed labels (frustration, surprise, …) under their own names.</param>
public sealed record IemocapOptions(bool MergeExcited = false, bool Scripted = false, bool Others = false);

/// <summary>
/// IEMOCAP_full_release: audio at SessionN/sentences/wav/&lt;dialog&gt;/&lt;utt&gt;.wav, labels in
/// SessionN/dialog/EmoEvaluation/&lt;dialog&gt;.txt. Only lines starting with '[' are the agreed labels:
/// "[start - end]\tutt_id\tlabel\t[v, a, d]"; the per-annotator lines in between are skipped. "xxx" (no majority) is
/// always dropped. Sessions are "Ses01".."Ses05"; the speaker is the session plus the first letter of the utterance id's
/// last '_' token (Ses01F_impro01_M003 → "Ses01M", male: in each dialog both actors speak). Durations come from the
/// label line's [start - end], so no audio is opened while listing.
/// </summary>
public static class IemocapCorpus
{
    static readonly Dictionary<string, string> Names = new(StringComparer.Ordinal)
    {
        ["neu"] = Emotions.Neutral, ["ang"] = Emotions.Angry, ["hap"] = Emotions.Happy, ["sad"] = Emotions.Sad,
        ["exc"] = "excited", ["fru"] = "frustration", ["sur"] = "surprise", ["fea"] = "fear",
        ["dis"] = "disgust", ["oth"] = "other",
    };

    public static List<Utterance> Load(string root, IemocapOptions options)
    {
        root = ResolveRoot(root);
        var sessionDirs = Directory.GetDirectories(root, "Session*")
            .Select(d => (Dir: d, Number: SessionNumber(Path.GetFileName(d))))
            .Where(s => s.Number > 0)
            .OrderBy(s => s.Number)
            .ToArray();
        if (sessionDirs.Length == 0)
            throw new SerException($"iemocap: no Session1..Session5 folders in {root}");

        var result = new List<Utterance>();
        foreach (var (dir, number) in sessionDirs)
        {
            string session = $"Ses{number:D2}";
            string labelsDir = Path.Combine(dir, "dialog", "EmoEvaluation");
            if (!Directory.Exists(labelsDir))
                throw new SerException($"iemocap: missing label folder {labelsDir}");
            foreach (string file in Directory.GetFiles(labelsDir, "*.txt").Order(StringComparer.Ordinal))
            {
                string dialog = Path.GetFileNameWithoutExtension(file);
                if (dialog.StartsWith('.'))
                    continue;   // macOS resource forks ("._Ses01F_impro01.txt")
                if (!options.Scripted && !IsImprovised(dialog))
                    continue;
                ReadLabelFile(file, dir, dialog, session, options, result);
            }
        }
        return result.OrderBy(u => u.Id, StringComparer.Ordinal).ToList();
    }

    /// <summary>Improvised dialogs have a '_' token starting with "impro" (Ses01F_impro01, Ses03M_impro05a).</summary>
    public static bool IsImprovised(string dialog) =>
        dialog.Split('_').Any(t => t.StartsWith("impro", StringComparison.OrdinalIgnoreCase));

    static void ReadLabelFile(string file, string sessionDir, string dialog, string session, IemocapOptions options, List<Utterance> result)
    {
        int lineNumber = 0;
        foreach (string line in File.ReadLines(file))
        {
            lineNumber++;
            if (!line.StartsWith('['))
                continue;
            string[] fields = line.Split('\t');
            if (fields.Length < 3)
                throw new SerException($"{file}:{lineNumber}: expected '[start - end]<TAB>utterance<TAB>label', got '{line.Trim()}'");
            (double start, double end) = ParseSpan(fields[0], file, lineNumber);
            string id = fields[1].Trim();
            string? label = MapLabel(fields[2].Trim(), options);
            if (label is null)
                continue;

            string lastToken = id[(id.LastIndexOf('_') + 1)..];
            char gender = lastToken.Length > 0 ? char.ToUpperInvariant(lastToken[0]) : '?';
            if (gender is not ('F' or 'M'))
                throw new SerException($"{file}:{lineNumber}: cannot tell the speaker of utterance '{id}' (last '_' token should start with F or M)");

            string wav = Path.Combine(sessionDir, "sentences", "wav", dialog, id + ".wav");
            if (!File.Exists(wav))
                throw new SerException($"iemocap: missing audio {wav} (labelled in {file}:{lineNumber})");
            result.Add(new Utterance(id, new FileAudioSource(wav), label, session + gender, session, gender, end - start));
        }
    }

    static string? MapLabel(string raw, IemocapOptions options)
    {
        if (raw == "exc" && options.MergeExcited)
            return Emotions.Happy;
        if (!Names.TryGetValue(raw, out string? name))
            return null;   // "xxx": no majority
        return Emotions.IsFour(name) || options.Others ? name : null;
    }

    static (double Start, double End) ParseSpan(string field, string file, int lineNumber)
    {
        // "[6.2901 - 8.2357]"
        string inner = field.Trim().TrimStart('[').TrimEnd(']');
        string[] parts = inner.Split('-', StringSplitOptions.TrimEntries);
        if (parts.Length == 2
            && double.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out double start)
            && double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out double end)
            && end > start)
            return (start, end);
        throw new SerException($"{file}:{lineNumber}: bad time span '{field.Trim()}' (expected '[start - end]')");
    }

    static int SessionNumber(string name) =>
        name.StartsWith("Session", StringComparison.Ordinal) && int.TryParse(name["Session".Length..], out int n) && n > 0 ? n : 0;

    // Accept the folder that holds IEMOCAP_full_release as well as the release folder itself.
    static string ResolveRoot(string root)
    {
        if (!Directory.Exists(root))
            throw new SerException($"iemocap: folder not found: {root}");
        string inner = Path.Combine(root, "IEMOCAP_full_release");
        return Directory.GetDirectories(root, "Session*").Length == 0 && Directory.Exists(inner) ? inner : root;
    }
}
