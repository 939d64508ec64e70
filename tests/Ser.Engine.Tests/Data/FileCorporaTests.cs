using Ser.Engine.Data;
using Ser.Engine.Data.Corpora;

namespace Ser.Engine.Tests.Data;

public sealed class FileCorporaTests : IDisposable
{
    readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Ravdess_reads_emotion_actor_and_gender_from_names()
    {
        string root = _dir["ravdess"];
        TinyWav.Write(Path.Combine(root, "Actor_01", "03-01-05-01-02-01-01.wav"), 0.5);   // angry, actor 1 (M)
        TinyWav.Write(Path.Combine(root, "Actor_12", "03-01-04-02-01-02-12.wav"), 0.25);  // sad, actor 12 (F)
        TinyWav.Write(Path.Combine(root, "Actor_12", "03-01-01-01-01-01-12.wav"), 0.25);  // neutral
        TinyWav.Write(Path.Combine(root, "Actor_12", "03-01-02-01-01-01-12.wav"), 0.25);  // calm
        TinyWav.Write(Path.Combine(root, "Actor_12", "03-01-06-01-01-01-12.wav"), 0.25);  // fear
        TinyWav.Write(Path.Combine(root, "Actor_12", "03-02-03-01-01-01-12.wav"), 0.25);  // song: skipped
        TinyWav.Write(Path.Combine(root, "Actor_12", "readme.wav"), 0.25);                // not the pattern

        var list = RavdessCorpus.Load(root, new RavdessOptions());
        Assert.Equal(3, list.Count);
        var angry = list.Single(u => u.Label == "angry");
        Assert.Equal(("03-01-05-01-02-01-01", "Actor01", 'M'), (angry.Id, angry.Speaker, angry.Gender));
        Assert.Equal(0.5, angry.DurationSeconds, 6);
        Assert.All(list.Where(u => u.Speaker == "Actor12"), u => Assert.Equal('F', u.Gender));
        Assert.All(list, u => Assert.StartsWith("S", u.Session));

        Assert.Equal(2, RavdessCorpus.Load(root, new RavdessOptions(CalmAsNeutral: true)).Count(u => u.Label == "neutral"));
        var others = RavdessCorpus.Load(root, new RavdessOptions(Others: true));
        Assert.Contains(others, u => u.Label == "calm");
        Assert.Contains(others, u => u.Label == "fear");
    }

    [Fact]
    public void CremaD_reads_names_and_optional_demographics()
    {
        string root = _dir["crema"];
        TinyWav.Write(Path.Combine(root, "AudioWAV", "1001_DFA_ANG_XX.wav"), 0.3);
        TinyWav.Write(Path.Combine(root, "AudioWAV", "1002_IEO_HAP_HI.wav"), 0.3);
        TinyWav.Write(Path.Combine(root, "AudioWAV", "1002_IEO_DIS_LO.wav"), 0.3);
        TinyWav.Write(Path.Combine(root, "AudioWAV", "1003_TIE_NEU_XX.wav"), 0.3);

        var list = CremaDCorpus.Load(Path.Combine(root, "AudioWAV"));
        Assert.Equal(["1001_DFA_ANG_XX", "1002_IEO_HAP_HI", "1003_TIE_NEU_XX"], list.Select(u => u.Id));
        Assert.Equal(["angry", "happy", "neutral"], list.Select(u => u.Label));
        Assert.All(list, u => Assert.Equal('?', u.Gender));
        var others = CremaDCorpus.Load(Path.Combine(root, "AudioWAV"), others: true);
        Assert.Equal(4, others.Count);
        Assert.Contains(others, u => u.Label == "disgust");

        File.WriteAllLines(Path.Combine(root, "VideoDemographics.csv"),
            ["ActorID,Age,Sex,Race,Ethnicity", "1001,51,Male,Caucasian,Not Hispanic", "1002,21,Female,Caucasian,Not Hispanic"]);
        list = CremaDCorpus.Load(Path.Combine(root, "AudioWAV"));
        Assert.Equal(['M', 'F', '?'], list.Select(u => u.Gender));
    }

    [Fact]
    public void EmoDb_reads_speaker_emotion_letter_and_known_genders()
    {
        string root = _dir["emodb"];
        TinyWav.Write(Path.Combine(root, "wav", "03a01Wa.wav"), 0.2);   // 03 male, anger
        TinyWav.Write(Path.Combine(root, "wav", "08b02Ta.wav"), 0.2);   // 08 female, sadness
        TinyWav.Write(Path.Combine(root, "wav", "16a05Fc.wav"), 0.2);   // 16 female, happiness
        TinyWav.Write(Path.Combine(root, "wav", "10a07Nb.wav"), 0.2);   // 10 male, neutral
        TinyWav.Write(Path.Combine(root, "wav", "11b03Lb.wav"), 0.2);   // boredom: dropped by default

        var list = EmoDbCorpus.Load(root);
        Assert.Equal(4, list.Count);
        Assert.Equal(("angry", "03", 'M'), (list[0].Label, list[0].Speaker, list[0].Gender));
        Assert.Equal(("sad", "08", 'F'), (list[1].Label, list[1].Speaker, list[1].Gender));
        Assert.Equal(("neutral", 'M'), (list[2].Label, list[2].Gender));
        Assert.Equal(("happy", 'F'), (list[3].Label, list[3].Gender));
        Assert.Contains(EmoDbCorpus.Load(root, others: true), u => u.Label == "boredom");
    }

    [Fact]
    public void Pseudo_sessions_deal_each_gender_round_robin()
    {
        var speakers = Enumerable.Range(1, 12).Select(i => ($"A{i:D2}", i % 2 == 1 ? 'M' : 'F')).ToArray();
        var map = PseudoSessions.Assign(speakers);
        // Females A02, A04, … dealt S1..S5, S1; males A01, A03, … likewise.
        Assert.Equal("S1", map["A02"]);
        Assert.Equal("S5", map["A10"]);
        Assert.Equal("S1", map["A12"]);
        Assert.Equal("S1", map["A01"]);
        Assert.Equal("S2", map["A03"]);
        foreach (var session in map.Values.Distinct())
        {
            var inSession = speakers.Where(s => map[s.Item1] == session).ToArray();
            Assert.Contains(inSession, s => s.Item2 == 'F');
            Assert.Contains(inSession, s => s.Item2 == 'M');
        }
        Assert.Equal(5, map.Values.Distinct().Count());
    }

    [Fact]
    public void Wav_probe_reads_durations_without_decoding()
    {
        TinyWav.Write(_dir["a.wav"], 1.5, sampleRate: 8000, channels: 2);
        Assert.Equal(1.5, WavProbe.DurationSeconds(_dir["a.wav"]), 6);
        File.WriteAllText(_dir["b.wav"], "not a wav");
        Assert.Contains("not a RIFF", Assert.Throws<SerException>(() => WavProbe.DurationSeconds(_dir["b.wav"])).Message);
    }
}
