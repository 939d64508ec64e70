using Ser.Engine.Data;
using Ser.Engine.Data.Corpora;

namespace Ser.Engine.Tests.Data;

public sealed class IemocapCorpusTests : IDisposable
{
    readonly TempDir _dir = new();
    string Root => _dir["IEMOCAP_full_release"];

    public IemocapCorpusTests()
    {
        // Session 1: an improvised dialog (both speakers), a scripted one.
        Dialog(1, "Ses01F_impro01",
            ("Ses01F_impro01_F000", "neu", 1.0, 3.5),
            ("Ses01F_impro01_M000", "ang", 4.0, 6.25),
            ("Ses01F_impro01_F001", "exc", 7.0, 9.0),
            ("Ses01F_impro01_M001", "fru", 9.0, 10.0),
            ("Ses01F_impro01_F002", "xxx", 10.0, 11.0));
        Dialog(1, "Ses01F_script01_1",
            ("Ses01F_script01_1_F000", "sad", 0.5, 2.5),
            ("Ses01F_script01_1_M000", "hap", 3.0, 4.0));
        // Session 3: a dialog name with a suffix, recorded with the male as the dialog's lead.
        Dialog(3, "Ses03M_impro05a",
            ("Ses03M_impro05a_M000", "hap", 0.0, 1.5),
            ("Ses03M_impro05a_F000", "sad", 2.0, 5.0));
    }

    public void Dispose() => _dir.Dispose();

    void Dialog(int session, string dialog, params (string Id, string Label, double Start, double End)[] utterances)
    {
        string s = Path.Combine(Root, $"Session{session}");
        var lines = new List<string> { "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", "" };
        foreach (var u in utterances)
        {
            lines.Add(FormattableString.Invariant($"[{u.Start:F4} - {u.End:F4}]\t{u.Id}\t{u.Label}\t[2.5000, 2.5000, 2.5000]"));
            lines.Add("C-E1:\tNeutral;\t()");          // per-annotator lines are skipped
            lines.Add("A-E2:\tval 3; act 2; dom  2;\t()");
            lines.Add("");
            TinyWav.Write(Path.Combine(s, "sentences", "wav", dialog, u.Id + ".wav"), 0.05);
        }
        Directory.CreateDirectory(Path.Combine(s, "dialog", "EmoEvaluation", "Categorical"));
        File.WriteAllLines(Path.Combine(s, "dialog", "EmoEvaluation", dialog + ".txt"), lines);
    }

    [Fact]
    public void Default_keeps_improvised_four_class_utterances_with_speakers_and_durations()
    {
        var list = IemocapCorpus.Load(Root, new IemocapOptions());
        Assert.Equal(["Ses01F_impro01_F000", "Ses01F_impro01_M000", "Ses03M_impro05a_F000", "Ses03M_impro05a_M000"], list.Select(u => u.Id));

        var m = list.Single(u => u.Id == "Ses01F_impro01_M000");
        Assert.Equal(("angry", "Ses01M", "Ses01", 'M'), (m.Label, m.Speaker, m.Session, m.Gender));
        Assert.Equal(2.25, m.DurationSeconds, 6);

        var f = list.Single(u => u.Id == "Ses03M_impro05a_F000");
        Assert.Equal(("sad", "Ses03F", "Ses03", 'F'), (f.Label, f.Speaker, f.Session, f.Gender));
        Assert.EndsWith(Path.Combine("Session3", "sentences", "wav", "Ses03M_impro05a", "Ses03M_impro05a_F000.wav"), f.Audio.Describe());
    }

    [Fact]
    public void Options_merge_excited_include_scripted_and_keep_others()
    {
        var merged = IemocapCorpus.Load(Root, new IemocapOptions(MergeExcited: true));
        Assert.Equal("happy", merged.Single(u => u.Id == "Ses01F_impro01_F001").Label);

        var scripted = IemocapCorpus.Load(Root, new IemocapOptions(Scripted: true));
        Assert.Contains(scripted, u => u.Id == "Ses01F_script01_1_F000" && u.Label == "sad");
        Assert.Equal(6, scripted.Count);

        var others = IemocapCorpus.Load(Root, new IemocapOptions(Others: true));
        Assert.Contains(others, u => u.Id == "Ses01F_impro01_F001" && u.Label == "excited");
        Assert.Contains(others, u => u.Id == "Ses01F_impro01_M001" && u.Label == "frustration");
        Assert.DoesNotContain(others, u => u.Id == "Ses01F_impro01_F002");   // xxx: no majority, never kept
    }

    [Fact]
    public void Root_may_be_the_folder_holding_the_release()
    {
        Assert.Equal(4, IemocapCorpus.Load(_dir.Path, new IemocapOptions()).Count);
    }

    [Theory]
    [InlineData("Ses01F_impro01", true)]
    [InlineData("Ses03M_impro05a", true)]
    [InlineData("Ses05M_impro08", true)]
    [InlineData("Ses01F_script01_1", false)]
    [InlineData("Ses02M_script03_2", false)]
    public void Improvised_dialogs_are_recognised_by_token(string dialog, bool improvised) =>
        Assert.Equal(improvised, IemocapCorpus.IsImprovised(dialog));

    [Fact]
    public void Missing_audio_and_bad_lines_are_one_line_errors()
    {
        File.Delete(Path.Combine(Root, "Session1", "sentences", "wav", "Ses01F_impro01", "Ses01F_impro01_M000.wav"));
        var e = Assert.Throws<SerException>(() => IemocapCorpus.Load(Root, new IemocapOptions()));
        Assert.Contains("Ses01F_impro01_M000.wav", e.Message);
        Assert.DoesNotContain('\n', e.Message);

        File.AppendAllText(Path.Combine(Root, "Session3", "dialog", "EmoEvaluation", "Ses03M_impro05a.txt"), "[oops]\tSes03M_impro05a_F009\tneu\t[1,1,1]\n");
        TinyWav.Write(Path.Combine(Root, "Session1", "sentences", "wav", "Ses01F_impro01", "Ses01F_impro01_M000.wav"), 0.05);
        e = Assert.Throws<SerException>(() => IemocapCorpus.Load(Root, new IemocapOptions()));
        Assert.Contains("Ses03M_impro05a.txt", e.Message);
        Assert.Contains("bad time span", e.Message);
    }

    [Fact]
    public void Missing_folder_is_an_error()
    {
        var e = Assert.Throws<SerException>(() => IemocapCorpus.Load(_dir["nope"], new IemocapOptions()));
        Assert.Contains("not found", e.Message);
        Directory.CreateDirectory(_dir["empty"]);
        e = Assert.Throws<SerException>(() => IemocapCorpus.Load(_dir["empty"], new IemocapOptions()));
        Assert.Contains("Session", e.Message);
    }
}
