using System.Globalization;

namespace Ser.Engine.Data.Corpora;

/// <summary>
/// CREMA-D: "1001_DFA_ANG_XX.wav" = speaker_sentence_emotion_level, emotions ANG, DIS, FEA, HAP, NEU, SAD.
/// The speaker is the actor number ("1001"). File names carry no gender: if VideoDemographics.csv (ActorID,Age,Sex,…)
/// is found in the folder or its parent, genders come from its Sex column, otherwise they are '?'.
/// Pseudo-sessions (<see cref="PseudoSessions"/>).
/// </summary>
public static class CremaDCorpus
{
    static readonly Dictionary<string, string> Names = new(StringComparer.Ordinal)
    {
        ["ANG"] = Emotions.Angry, ["DIS"] = "disgust", ["FEA"] = "fear",
        ["HAP"] = Emotions.Happy, ["NEU"] = Emotions.Neutral, ["SAD"] = Emotions.Sad,
    };

    public static List<Utterance> Load(string root, bool others = false)
    {
        string[] wavs = CorpusFiles.Wavs("cremad", root);
        var genders = ReadDemographics(root);
        var list = new List<Utterance>();
        foreach (string path in wavs)
        {
            string[] f = Path.GetFileNameWithoutExtension(path).Split('_');
            if (f.Length != 4 || !f[0].All(char.IsAsciiDigit) || !Names.TryGetValue(f[2].ToUpperInvariant(), out string? label))
                continue;
            if (!Emotions.IsFour(label) && !others)
                continue;
            list.Add(CorpusFiles.Make(path, label, f[0], genders.GetValueOrDefault(f[0], '?')));
        }
        return CorpusFiles.Finish("cremad", list);
    }

    static Dictionary<string, char> ReadDemographics(string root)
    {
        var map = new Dictionary<string, char>(StringComparer.Ordinal);
        string? file = new[] { root, Path.GetDirectoryName(Path.GetFullPath(root).TrimEnd(Path.DirectorySeparatorChar)) }
            .Where(d => d is not null)
            .Select(d => Path.Combine(d!, "VideoDemographics.csv"))
            .FirstOrDefault(File.Exists);
        if (file is null)
            return map;
        string[] lines = File.ReadAllLines(file);
        if (lines.Length == 0)
            return map;
        string[] header = lines[0].Split(',').Select(h => h.Trim().Trim('"')).ToArray();
        int id = Array.FindIndex(header, h => h.Equals("ActorID", StringComparison.OrdinalIgnoreCase));
        int sex = Array.FindIndex(header, h => h.Equals("Sex", StringComparison.OrdinalIgnoreCase));
        if (id < 0 || sex < 0)
            throw new SerException($"{file}: expected ActorID and Sex columns");
        foreach (string line in lines.Skip(1))
        {
            string[] f = line.Split(',').Select(x => x.Trim().Trim('"')).ToArray();
            if (f.Length <= Math.Max(id, sex) || f[id].Length == 0)
                continue;
            map[f[id].ToString(CultureInfo.InvariantCulture)] = f[sex].StartsWith("F", StringComparison.OrdinalIgnoreCase) ? 'F'
                : f[sex].StartsWith("M", StringComparison.OrdinalIgnoreCase) ? 'M' : '?';
        }
        return map;
    }
}
