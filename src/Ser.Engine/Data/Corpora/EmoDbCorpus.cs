namespace Ser.Engine.Data.Corpora;

/// <summary>
/// EmoDB (Berlin): "03a01Fa.wav" = speaker (chars 0-1), text (2-4), emotion letter (5), version (6).
/// W anger, L boredom, E disgust, A fear (Angst), F happiness (Freude), T sadness (Trauer), N neutral.
/// Speaker genders are fixed by the corpus documentation; its ten speakers (5 F, 5 M) give exactly one female and one
/// male per pseudo-session (<see cref="PseudoSessions"/>).
/// </summary>
public static class EmoDbCorpus
{
    static readonly Dictionary<string, char> Genders = new(StringComparer.Ordinal)
    {
        ["03"] = 'M', ["08"] = 'F', ["09"] = 'F', ["10"] = 'M', ["11"] = 'M',
        ["12"] = 'M', ["13"] = 'F', ["14"] = 'F', ["15"] = 'M', ["16"] = 'F',
    };

    static readonly Dictionary<char, string> Names = new()
    {
        ['W'] = Emotions.Angry, ['L'] = "boredom", ['E'] = "disgust", ['A'] = "fear",
        ['F'] = Emotions.Happy, ['T'] = Emotions.Sad, ['N'] = Emotions.Neutral,
    };

    public static List<Utterance> Load(string root, bool others = false)
    {
        var list = new List<Utterance>();
        foreach (string path in CorpusFiles.Wavs("emodb", root))
        {
            string name = Path.GetFileNameWithoutExtension(path);
            if (name.Length < 6 || !char.IsAsciiDigit(name[0]) || !char.IsAsciiDigit(name[1])
                || !Names.TryGetValue(name[5], out string? label))
                continue;
            if (!Emotions.IsFour(label) && !others)
                continue;
            string speaker = name[..2];
            list.Add(CorpusFiles.Make(path, label, speaker, Genders.GetValueOrDefault(speaker, '?')));
        }
        return CorpusFiles.Finish("emodb", list);
    }
}
