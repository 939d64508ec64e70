using Ser.Engine.Data;
using Ser.Engine.Data.Corpora;

namespace Ser.Engine.Tests.Data;

public sealed class ManifestAndSpecTests : IDisposable
{
    readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    string Manifest(params string[] lines)
    {
        string file = _dir["m/list.csv"];
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        File.WriteAllLines(file, lines);
        return file;
    }

    [Fact]
    public void Manifest_without_header_resolves_relative_paths_and_assigns_pseudo_sessions()
    {
        TinyWav.Write(_dir["m/audio/a.wav"], 0.5);
        TinyWav.Write(_dir["m/audio/b.wav"], 0.25);
        TinyWav.Write(_dir["m/audio/c.wav"], 0.25);
        string file = Manifest("audio/a.wav,neu,spk1", "audio/b.wav,Anger,spk2", "audio/c.wav,surprise,spk2", "");

        var list = ManifestCorpus.Load(file);
        Assert.Equal(2, list.Count);   // "surprise" dropped without others
        Assert.Equal(("audio/a", "neutral", "spk1", '?'), (list[0].Id, list[0].Label, list[0].Speaker, list[0].Gender));
        Assert.Equal("angry", list[1].Label);
        Assert.Equal(0.5, list[0].DurationSeconds, 6);
        Assert.Equal(Path.GetFullPath(_dir["m/audio/a.wav"]), list[0].Audio.Describe());
        Assert.All(list, u => Assert.StartsWith("S", u.Session));
        Assert.Contains(ManifestCorpus.Load(file, others: true), u => u.Label == "surprise");
    }

    [Fact]
    public void Manifest_header_names_columns_in_any_order_with_quotes()
    {
        TinyWav.Write(_dir["m/x, y.wav"], 0.1);
        string file = Manifest("speaker,label,path,session,gender", "Ses01F,sad,\"x, y.wav\",Ses01,F");
        var u = Assert.Single(ManifestCorpus.Load(file));
        Assert.Equal(("x, y", "sad", "Ses01F", "Ses01", 'F'), (u.Id, u.Label, u.Speaker, u.Session, u.Gender));
    }

    [Fact]
    public void Manifest_errors_name_the_line()
    {
        string file = Manifest("path,label,speaker", "missing.wav,neu,s1");
        var e = Assert.Throws<SerException>(() => ManifestCorpus.Load(file));
        Assert.Contains("list.csv:2", e.Message);
        Assert.Contains("not found", e.Message);

        file = Manifest("only-a-path.wav");
        Assert.Contains("expected path,label,speaker", Assert.Throws<SerException>(() => ManifestCorpus.Load(file)).Message);
    }

    [Fact]
    public void Manifest_round_trips_through_write()
    {
        TinyWav.Write(_dir["r/u1.wav"], 0.2);
        TinyWav.Write(_dir["r/u2.wav"], 0.2);
        var a = new Utterance("u1", null!, "happy", "Ses02F", "Ses02", 'F', 0.2);
        var b = new Utterance("u2", null!, "sad", "Ses02M", "Ses02", 'M', 0.2);
        ManifestCorpus.Write(_dir["r/manifest.csv"], [("u1.wav", a), ("u2.wav", b)]);
        var back = ManifestCorpus.Load(_dir["r/manifest.csv"]);
        Assert.Equal([("u1", "happy", "Ses02F", "Ses02", 'F'), ("u2", "sad", "Ses02M", "Ses02", 'M')],
            back.Select(u => (u.Id, u.Label, u.Speaker, u.Session, u.Gender)));
    }

    [Fact]
    public void Spec_loads_synthetic_by_default_and_with_options()
    {
        var corpus = CorpusSpec.Load(null);
        Assert.Equal(600, corpus.Count);
        Assert.Equal(["neutral", "angry", "happy", "sad"], corpus.Classes);
        var small = CorpusSpec.Load("synthetic:utterances=40,seed=3");
        Assert.Equal(40, small.Count);
        Assert.Equal("synthetic:utterances=40,seed=3", small.Name);
    }

    [Fact]
    public void Spec_passes_options_to_loaders()
    {
        string root = _dir["ravdess"];
        TinyWav.Write(Path.Combine(root, "03-01-02-01-01-01-02.wav"), 0.1);   // calm
        TinyWav.Write(Path.Combine(root, "03-01-03-01-01-01-02.wav"), 0.1);   // happy
        Assert.Equal(1, CorpusSpec.Load($"ravdess:{root}").Count);
        Assert.Equal(2, CorpusSpec.Load($"ravdess:{root}?calm=neutral").Count);
        var all = CorpusSpec.Load($"ravdess:{root}?others=1");
        Assert.Equal(["neutral", "angry", "happy", "sad", "calm"], all.Classes);
    }

    [Theory]
    [InlineData("nonsense:/x", "unknown kind 'nonsense'")]
    [InlineData("iemocap:", "missing path")]
    [InlineData("iemocap:/no/such/folder", "not found")]
    [InlineData("emodb:/no/such/folder", "not found")]
    [InlineData("manifest:/no/such.csv", "not found")]
    [InlineData("synthetic:utterances=abc", "utterances must be")]
    [InlineData("synthetic:utterances=3", "at least")]
    [InlineData("synthetic:speakers=3", "unknown option 'speakers'")]
    [InlineData("iemocap:/tmp?exc=sad", "exc must be")]
    [InlineData("cremad:/tmp?others=maybe", "others must be 1 or 0")]
    public void Bad_specs_are_one_line_errors(string spec, string expected)
    {
        var e = Assert.Throws<SerException>(() => CorpusSpec.Load(spec));
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Empty_corpus_is_an_error()
    {
        Directory.CreateDirectory(_dir["empty"]);
        var e = Assert.Throws<SerException>(() => CorpusSpec.Load($"emodb:{_dir["empty"]}"));
        Assert.Contains("no utterances", e.Message);
    }
}
