namespace Ser.Engine.Data;

/// <summary>
/// Sessions for corpora that have none (RAVDESS, CREMA-D, EmoDB, manifests without a session column), so the paper's
/// leave-one-session-out protocol applies unchanged. Speakers are dealt to <see cref="Count"/> pseudo-sessions "S1".."S5"
/// deterministically: females sorted by id are dealt round robin S1, S2, …, S5, S1, …; then males the same way starting
/// again at S1; then speakers of unknown gender likewise. Every session thus gets both genders whenever the corpus has at
/// least five speakers of each (EmoDB's 5+5 gives exactly one female and one male per session, like IEMOCAP), and no
/// speaker is ever in two sessions.
/// </summary>
public static class PseudoSessions
{
    public const int Count = 5;

    public static string Name(int index) => $"S{index + 1}";

    /// <summary>Speaker id → session name, for the given speakers and their genders.</summary>
    public static IReadOnlyDictionary<string, string> Assign(IEnumerable<(string Speaker, char Gender)> speakers)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        var distinct = speakers.DistinctBy(s => s.Speaker).ToArray();
        foreach (char gender in new[] { 'F', 'M', '?' })
        {
            var group = distinct.Where(s => Normal(s.Gender) == gender).Select(s => s.Speaker).Order(StringComparer.Ordinal);
            int k = 0;
            foreach (string speaker in group)
                map[speaker] = Name(k++ % Count);
        }
        return map;
    }

    /// <summary>Returns the utterances with <see cref="Utterance.Session"/> set from <see cref="Assign"/>.</summary>
    public static List<Utterance> Apply(IEnumerable<Utterance> utterances)
    {
        var list = utterances.ToList();
        var map = Assign(list.Select(u => (u.Speaker, u.Gender)));
        return list.Select(u => u with { Session = map[u.Speaker] }).ToList();
    }

    static char Normal(char g) => g is 'F' or 'M' ? g : '?';
}
