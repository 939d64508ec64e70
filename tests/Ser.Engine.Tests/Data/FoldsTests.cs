using Ser.Engine.Data;
using Ser.Engine.Data.Synthetic;

namespace Ser.Engine.Tests.Data;

public sealed class FoldsTests
{
    [Fact]
    public void Leave_one_session_out_partitions_without_speaker_leakage()
    {
        var corpus = new Corpus("synthetic", SyntheticCorpus.Create(100, seed: 4));
        var folds = Folds.LeaveOneSessionOut(corpus);
        Assert.Equal(5, folds.Count);
        var testedOnce = new int[corpus.Count];
        foreach (var fold in folds)
        {
            var all = fold.Train.Concat(fold.Validation).Concat(fold.Test).Order().ToArray();
            Assert.Equal(Enumerable.Range(0, corpus.Count), all);   // a partition of the corpus
            Assert.All(fold.Train, i => Assert.NotEqual(fold.HeldOutSession, corpus[i].Session));
            Assert.All(fold.Validation.Concat(fold.Test), i => Assert.Equal(fold.HeldOutSession, corpus[i].Session));

            var train = fold.Train.Select(i => corpus[i].Speaker).ToHashSet();
            var val = fold.Validation.Select(i => corpus[i].Speaker).ToHashSet();
            var test = fold.Test.Select(i => corpus[i].Speaker).ToHashSet();
            Assert.Empty(train.Intersect(val));
            Assert.Empty(train.Intersect(test));
            Assert.Empty(val.Intersect(test));
            Assert.Single(val);
            Assert.Single(test);
            // Odd folds test the female speaker, even folds the male.
            Assert.Equal(fold.Number % 2 == 1 ? 'F' : 'M', corpus[fold.Test[0]].Gender);
            Assert.Equal($"Ses{fold.Number:D2}", fold.HeldOutSession);
            foreach (int i in fold.Test) testedOnce[i]++;
        }
        Assert.Equal(folds.Sum(f => f.Test.Length), testedOnce.Sum());
        Assert.All(testedOnce, n => Assert.InRange(n, 0, 1));
    }

    [Fact]
    public void Sessions_of_unknown_gender_split_speakers_by_id()
    {
        Utterance U(string speaker, string session) => new($"{speaker}_{session}_{Guid.NewGuid():N}", null!, "neutral", speaker, session, '?', 1);
        var corpus = new Corpus("t", [U("a", "S1"), U("b", "S1"), U("c", "S1"), U("d", "S2"), U("e", "S2")]);
        var folds = Folds.LeaveOneSessionOut(corpus);
        Assert.Equal(["a", "b"], folds[0].TestSpeakers);       // fold 1 (odd): first half, rounded up
        Assert.Equal(["c"], folds[0].ValidationSpeakers);
        Assert.Equal(["e"], folds[1].TestSpeakers);            // fold 2 (even): second half
        Assert.Equal(["d"], folds[1].ValidationSpeakers);
    }

    [Fact]
    public void Gender_decides_only_when_every_held_out_speaker_is_one_of_each_gender()
    {
        Utterance U(string speaker, string session, char gender) => new($"{speaker}_{session}", null!, "neutral", speaker, session, gender, 1);
        // S1: the man's id sorts first, so the gender rule (odd fold tests the woman) and the id rule (first half) differ.
        // S2: two women, S3: a woman, an unknown and a man, S4: two men: none is one of each gender, so both fall back to the id rule.
        var corpus = new Corpus("t", [U("a", "S1", 'M'), U("b", "S1", 'F'), U("c", "S2", 'F'), U("d", "S2", 'F'),
                                      U("e", "S3", 'F'), U("f", "S3", '?'), U("g", "S3", 'M'), U("h", "S4", 'M'), U("i", "S4", 'M')]);
        var folds = Folds.LeaveOneSessionOut(corpus);
        Assert.Equal(["b"], folds[0].TestSpeakers);            // fold 1 (odd): the woman, although "a" sorts first
        Assert.Equal(["d"], folds[1].TestSpeakers);            // fold 2 (even), two women: the second half by id
        Assert.Equal(["e", "f"], folds[2].TestSpeakers);       // fold 3 (odd), F + ? + M: the first half by id, rounded up
        Assert.Equal(["g"], folds[2].ValidationSpeakers);
        Assert.Equal(["i"], folds[3].TestSpeakers);            // fold 4 (even), two men: the second half by id, not both men
        Assert.Contains("at least 2 sessions", Assert.Throws<SerException>(() => Folds.LeaveOneSessionOut(new Corpus("one", [U("a", "S1", 'M'), U("b", "S1", 'F')]))).Message);
    }

    [Fact]
    public void A_session_with_one_speaker_is_an_error()
    {
        var corpus = new Corpus("t", [new("x", null!, "sad", "a", "S1", 'F', 1), new("y", null!, "sad", "b", "S2", 'M', 1)]);
        Assert.Contains("S1 has 1 speaker", Assert.Throws<SerException>(() => Folds.LeaveOneSessionOut(corpus)).Message);
    }
}
