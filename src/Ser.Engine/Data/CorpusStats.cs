namespace Ser.Engine.Data;

/// <summary>Counts and durations of a corpus, per class, per speaker and per session.</summary>
public sealed record CorpusStats(
    string Name,
    int Utterances,
    double TotalSeconds,
    IReadOnlyList<string> Classes,
    IReadOnlyList<CorpusStats.Group> PerClass,
    IReadOnlyList<CorpusStats.Group> PerSpeaker,
    IReadOnlyList<CorpusStats.Group> PerSession)
{
    /// <summary>
    /// One row: a class, speaker or session; <see cref="ByClass"/> is aligned with <see cref="Classes"/>.
    /// Speakers have a Gender and Session; sessions list their Speakers.
    /// </summary>
    public sealed record Group(string Key, int Count, double Seconds, int[] ByClass, char Gender, string Session, IReadOnlyList<string> Speakers);

    public static CorpusStats Of(Corpus corpus)
    {
        Group Make(string key, IEnumerable<Utterance> group, char gender = '?', string session = "", IReadOnlyList<string>? speakers = null)
        {
            var list = group.ToList();
            var byClass = new int[corpus.Classes.Count];
            foreach (var u in list) byClass[corpus.ClassIndex(u.Label)]++;
            return new Group(key, list.Count, list.Sum(u => u.DurationSeconds), byClass, gender, session, speakers ?? []);
        }

        var u = corpus.Utterances;
        var perClass = corpus.Classes.Select(c => Make(c, u.Where(x => x.Label == c))).ToArray();
        var perSpeaker = u.GroupBy(x => x.Speaker).OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => Make(g.Key, g, g.First().Gender, g.First().Session)).ToArray();
        var perSession = u.GroupBy(x => x.Session).OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => Make(g.Key, g, speakers: g.Select(x => x.Speaker).Distinct().Order(StringComparer.Ordinal).ToArray())).ToArray();
        return new CorpusStats(corpus.Name, corpus.Count, corpus.TotalSeconds, corpus.Classes, perClass, perSpeaker, perSession);
    }
}
