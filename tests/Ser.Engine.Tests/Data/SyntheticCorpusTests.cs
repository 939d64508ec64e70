using Ser.Engine.Data;
using Ser.Engine.Data.Synthetic;

namespace Ser.Engine.Tests.Data;

public sealed class SyntheticCorpusTests
{
    [Fact]
    public void Default_corpus_is_iemocap_shaped()
    {
        var list = SyntheticCorpus.Create();
        Assert.Equal(600, list.Count);
        Assert.Equal(["Ses01", "Ses02", "Ses03", "Ses04", "Ses05"], list.Select(u => u.Session).Distinct().Order());
        foreach (var session in list.GroupBy(u => u.Session))
            Assert.Equal([(session.Key + "F", 'F'), (session.Key + "M", 'M')], session.Select(u => (u.Speaker, u.Gender)).Distinct().Order());

        var counts = list.GroupBy(u => u.Label).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(288, counts["neutral"]);   // 48%
        Assert.Equal(162, counts["sad"]);       // 27%
        Assert.Equal(78, counts["angry"]);      // 13%
        Assert.Equal(72, counts["happy"]);      // 12%
        // Every speaker has every class.
        Assert.All(list.GroupBy(u => u.Speaker), g => Assert.Equal(4, g.Select(u => u.Label).Distinct().Count()));

        var seconds = list.Select(u => u.DurationSeconds).Order().ToArray();
        Assert.InRange(seconds[0], 1.0, 1.5);
        Assert.InRange(seconds[^1], 8.0, 12.0);
        Assert.InRange(seconds[seconds.Length / 2], 3.0, 4.0);    // median ~3.5 s
        Assert.True(seconds.Average() > seconds[seconds.Length / 2]);   // right tail
        Assert.Equal(list.Count, list.Select(u => u.Id).Distinct().Count());
    }

    [Fact]
    public void Audio_is_deterministic_lazy_and_matches_duration()
    {
        var a = SyntheticCorpus.Create(20, seed: 5);
        var b = SyntheticCorpus.Create(20, seed: 5);
        var c = SyntheticCorpus.Create(20, seed: 6);
        var x = a[3].Audio.Load();
        Assert.Equal(x, a[3].Audio.Load());                 // rendering twice gives the same audio
        Assert.Equal(x, b[3].Audio.Load());                 // same seed, same corpus
        Assert.NotEqual(x, c[3].Audio.Load());                // another seed, other audio
        Assert.Equal((int)Math.Round(a[3].DurationSeconds * 16000), x.Length);
        Assert.All(x, v => Assert.InRange(v, -1f, 1f));
        Assert.StartsWith("synthetic:seed=5/", a[3].Audio.Describe());
    }

    [Fact]
    public void Emotions_change_the_signal_in_the_expected_directions()
    {
        // Loudness averaged over many utterances: angry > neutral > sad (the span carries +10 / -8 dB).
        var list = SyntheticCorpus.Create(120, seed: 2);
        double Level(string label) => list.Where(u => u.Label == label).Take(8)
            .Average(u => { var x = u.Audio.Load(); return 10 * Math.Log10(x.Average(v => (double)v * v) + 1e-12); });
        double angry = Level("angry"), neutral = Level("neutral"), sad = Level("sad");
        Assert.True(angry > neutral + 2, $"angry {angry:F1} dB vs neutral {neutral:F1} dB");
        Assert.True(neutral > sad, $"neutral {neutral:F1} dB vs sad {sad:F1} dB");
    }

    [Fact]
    public void Speech_has_pauses_and_voicing()
    {
        var x = SyntheticCorpus.Create(20, seed: 1)[0].Audio.Load();
        // 10 ms frame energies: some near the noise floor (pauses), most well above it (speech).
        var frames = Enumerable.Range(0, x.Length / 160)
            .Select(t => 10 * Math.Log10(x.AsSpan(t * 160, 160).ToArray().Average(v => (double)v * v) + 1e-12)).Order().ToArray();
        double floor = frames[frames.Length / 20], loud = frames[frames.Length * 9 / 10];
        Assert.True(loud - floor > 25, $"dynamic range {loud - floor:F1} dB");
        Assert.InRange(floor, -80, -45);
    }
}
