namespace Ser.Engine.Data.Corpora;

/// <summary>Shared file-walking for the file-name-labelled corpora.</summary>
internal static class CorpusFiles
{
    static readonly EnumerationOptions Recursive = new()
    {
        RecurseSubdirectories = true,
        MatchCasing = MatchCasing.CaseInsensitive,
        IgnoreInaccessible = true,
    };

    /// <summary>Every *.wav under root (recursively), sorted by path, skipping hidden files ("._x.wav").</summary>
    public static string[] Wavs(string kind, string root)
    {
        if (!Directory.Exists(root))
            throw new SerException($"{kind}: folder not found: {root}");
        return Directory.EnumerateFiles(root, "*.wav", Recursive)
            .Where(f => !Path.GetFileName(f).StartsWith('.'))
            .Order(StringComparer.Ordinal)
            .ToArray();
    }

    public static Utterance Make(string path, string label, string speaker, char gender) =>
        new(Path.GetFileNameWithoutExtension(path), new FileAudioSource(path), label, speaker, "", gender, WavProbe.DurationSeconds(path));

    /// <summary>Sorts by id and assigns pseudo-sessions; ids must be unique.</summary>
    public static List<Utterance> Finish(string kind, List<Utterance> list)
    {
        var duplicate = list.GroupBy(u => u.Id).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new SerException($"{kind}: utterance id '{duplicate.Key}' appears more than once (copies of the same file?)");
        return PseudoSessions.Apply(list).OrderBy(u => u.Id, StringComparer.Ordinal).ToList();
    }
}
