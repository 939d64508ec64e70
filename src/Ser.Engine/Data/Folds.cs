namespace Ser.Engine.Data;

/// <summary>
/// One leave-one-session-out fold. Lists hold indices into the corpus, in corpus order.
/// </summary>
public sealed record Fold(
    int Number,                               // 1-based
    string HeldOutSession,
    IReadOnlyList<string> ValidationSpeakers,
    IReadOnlyList<string> TestSpeakers,
    int[] Train,
    int[] Validation,
    int[] Test);

/// <summary>The paper's protocol: train on four sessions; in the fifth, one speaker validates and the other tests.</summary>
public static class Folds
{
    /// <summary>
    /// One fold per session (sorted by name; fold k holds out the k-th). Train = every other session.
    /// Which held-out speaker tests: in odd folds (1, 3, 5) the female speaker(s), in even folds (2, 4) the male(s);
    /// the rest of the session validates. So over IEMOCAP's five folds three women and two men are tested.
    /// Sessions whose speakers are not one of each gender (pseudo-sessions with unknown genders, or several speakers)
    /// fall back to: speakers sorted by id, first half (rounded up) tests in odd folds, second half in even folds.
    /// Every held-out session needs at least two speakers.
    /// </summary>
    public static IReadOnlyList<Fold> LeaveOneSessionOut(Corpus corpus)
    {
        var sessions = corpus.Sessions;
        if (sessions.Count < 2)
            throw new SerException($"corpus {corpus.Name}: leave-one-session-out needs at least 2 sessions (has {sessions.Count})");
        var folds = new List<Fold>();
        for (int k = 0; k < sessions.Count; k++)
        {
            string held = sessions[k];
            bool odd = k % 2 == 0;   // fold number k+1 is odd
            var speakers = corpus.Utterances.Where(u => u.Session == held)
                .Select(u => (u.Speaker, u.Gender)).Distinct().OrderBy(s => s.Speaker, StringComparer.Ordinal).ToArray();
            if (speakers.Length < 2)
                throw new SerException($"corpus {corpus.Name}: session {held} has {speakers.Length} speaker(s); a fold needs one to validate and one to test");

            string[] test;
            var female = speakers.Where(s => s.Gender == 'F').Select(s => s.Speaker).ToArray();
            var male = speakers.Where(s => s.Gender == 'M').Select(s => s.Speaker).ToArray();
            if (female.Length > 0 && male.Length > 0 && female.Length + male.Length == speakers.Length)
                test = odd ? female : male;
            else
            {
                int half = (speakers.Length + 1) / 2;
                test = (odd ? speakers.Take(half) : speakers.Skip(half)).Select(s => s.Speaker).ToArray();
            }
            var validation = speakers.Select(s => s.Speaker).Except(test).ToArray();

            var train = new List<int>();
            var val = new List<int>();
            var tst = new List<int>();
            for (int i = 0; i < corpus.Count; i++)
            {
                var u = corpus[i];
                if (u.Session != held) train.Add(i);
                else if (test.Contains(u.Speaker)) tst.Add(i);
                else val.Add(i);
            }
            folds.Add(new Fold(k + 1, held, validation, test, train.ToArray(), val.ToArray(), tst.ToArray()));
        }
        return folds;
    }
}
