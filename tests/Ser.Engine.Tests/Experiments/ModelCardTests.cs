using Ser.Engine.Data;
using Ser.Engine.Experiments;
using Ser.Engine.Metrics;
using Ser.Engine.Models;

namespace Ser.Engine.Tests.Experiments;

/// <summary>The model card: what Create takes from the run, its markdown as a whole, and its JSON (model.ser's metadata).</summary>
public sealed class ModelCardTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("ser-card-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    static FoldResult Fold(int fold, long[][] counts, double validationUA, CalibrationResult? calibration)
    {
        var m = new ConfusionMatrix(TinyCorpus.Classes);
        for (int a = 0; a < counts.Length; a++)
        for (int p = 0; p < counts[a].Length; p++)
            if (counts[a][p] > 0) m.Add(a, p, counts[a][p]);
        return new FoldResult
        {
            Fold = fold, TestSession = $"Ses0{fold}", ValidationSpeaker = $"Ses0{fold}F", TestSpeaker = $"Ses0{fold}M", BestEpoch = fold + 2,
            BestValidationUA = validationUA, Test = m, History = [], CheckpointPath = $"fold{fold}/best.ser", Calibration = calibration,
        };
    }

    [Fact]
    public void Create_takes_every_fact_from_the_run_and_the_corpus()
    {
        var corpus = CorpusSpec.Load(TinyCorpus.Write(Path.Combine(_dir, "corpus"), sessions: 2, perClass: [2, 1, 1, 1]));
        var calibrated = Fold(1, [[1, 1, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], 0.75,
            new CalibrationResult(1.25, new Reliability(), new Reliability()));
        var plain = Fold(2, [[2, 0, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]], 0.5, null);
        var report = new ExperimentReport
        {
            Mode = "fixed", Preset = "tiny", Corpus = corpus.Name, Device = "cpu (1 threads)", Build = "commit b", Labels = TinyCorpus.Classes,
            Settings = new Dictionary<string, string>(), Folds = [calibrated, plain], Seconds = 90,
        };
        var settings = new TrainingSettings
        {
            Corpus = "manifest:x.csv", Preset = "tiny", CustomModel = TinyCorpus.Model, Mode = LengthMode.Fixed, Split = FixedSplit.Equal, Folds = [1, 2],
        };
        var card = ModelCard.Create(report, corpus, settings, calibrated, new DateTime(2026, 12, 2, 15, 4, 59, DateTimeKind.Utc));

        Assert.Equal(TinyCorpus.Classes, card.Labels);
        Assert.Equal(("manifest:x.csv", corpus.Name, false, corpus.Count), (card.Corpus, card.CorpusName, card.Synthetic, card.Utterances));
        Assert.Equal(corpus.TotalSeconds / 3600, card.Hours, 1e-12);
        Assert.Equal(new[] { "Ses01F", "Ses01M", "Ses02F", "Ses02M" }, card.Counts.Keys);
        Assert.All(card.Counts.Values, row => Assert.Equal(new[] { 2, 1, 1, 1 }, row));
        Assert.Equal("leave one session out: 2 of 2 fold(s) run; per fold one held-out speaker selects the epoch (best validation UA after " +
                     "the warm-up) and calibrates, the other is tested", card.Protocol);
        Assert.Equal("fixed-length (equal, 3 s pieces, posteriors averaged)", card.Mode);
        Assert.Equal(new[] { new ModelCard.CardFold(1, "Ses01F", "Ses01M", 3, 0.8, 0.875, 1.25), new ModelCard.CardFold(2, "Ses02F", "Ses02M", 4, 0.4, 0.25, 1) },
            card.Folds);
        Assert.Equal(1, card.ModelFold);
        Assert.Equal(0.6, card.PooledWA, 1e-15);   // 6 of the 10 pooled test utterances right
        Assert.Equal(new long[][] { [3, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1], [0, 0, 1, 1] }, card.PooledConfusion);
        Assert.Equal((3.0 / 4 + 1.0 / 2 + 1.0 / 2 + 1.0 / 2) / 4, card.PooledUA, 1e-15);
        Assert.Equal(1.25, card.Temperature);
        Assert.Equal("log power spectrogram, 40 ms Hamming window, 10 ms hop, 1600-point DFT, 400 bins (0-3990 Hz), dB, normalised per bin " +
                     "with the training split's mean and std", card.FrontEndDescription);
        Assert.Equal((16000, "tiny"), (card.SampleRate, card.Preset));
        var config = TinyCorpus.Model with { Classes = 4 };
        Assert.Equal(CrnnParameters.Of(config).Sum(p => p.Shape.Aggregate(1L, (n, d) => n * d)), card.Parameters);
        Assert.Equal(config.ToString(), card.Config);
        Assert.Equal((90.0, "commit b", "2026-12-02 15:04 UTC"), (card.TrainingSeconds, card.Build, card.CreatedUtc));
        Assert.StartsWith("cpu (1 threads); ", card.Hardware);
        Assert.Contains($", {Environment.ProcessorCount} logical cores, ", card.Hardware);

        // the model's own fold without calibration: T = 1; variable mode and a synthetic corpus say so
        var other = ModelCard.Create(report, corpus, settings with { Mode = LengthMode.Variable, Corpus = "Synthetic:utterances=60" }, plain, DateTime.UnixEpoch);
        Assert.Equal((1.0, 2, "variable-length (whole utterances)", true), (other.Temperature, other.ModelFold, other.Mode, other.Synthetic));
    }

    static ModelCard Card => new()
    {
        Labels = ["calm", "loud"], Corpus = "manifest:c.csv", CorpusName = "c", Synthetic = false, Utterances = 7, Hours = 0.0125,
        Counts = new SortedDictionary<string, int[]> { ["A"] = [3, 1], ["B"] = [1, 2] }, Protocol = "leave one session out: p",
        Mode = "variable-length (whole utterances)",
        Folds = [new ModelCard.CardFold(1, "A", "B", 4, 2.0 / 3, 0.75, 1.23456), new ModelCard.CardFold(2, "B", "A", 2, 0.5, double.NaN, 1)],
        ModelFold = 2, PooledWA = 0.5, PooledUA = 0.625, PooledConfusion = [[2, 2], [1, 2]], Temperature = 0.8, FrontEndDescription = "fe",
        SampleRate = 16000, Preset = "small", Parameters = 12345, Config = "cfg", TrainingSeconds = 150, Hardware = "hw", Build = "",
        CreatedUtc = "2026-12-02 15:04 UTC",
    };

    [Fact]
    public void Markdown_holds_every_fact_with_its_number()
    {
        string expected = """
            # Model card: Ser CRNN, variable-length (whole utterances), preset `small`, trained on `manifest:c.csv`

            ## Intended use and limits

            - It knows only these classes: calm, loud. Every input gets one of them, including speech that expresses none (or is not speech at all).
            - Scores were measured on 2 held-out speaker(s) of c; other speakers, languages, microphones, rooms and acted-versus-natural emotion can score much lower.
            - Probabilities are temperature-calibrated on one held-out speaker: they are rough confidences, not guarantees.
            - Not for decisions about people (hiring, health, policing, surveillance, insurance): recognised emotion is an inference from the voice, not a fact about the person.

            ## Model

            - Labels, in output order: 0 `calm`, 1 `loud`
            - Preset `small`, 12,345 parameters: cfg
            - Input: 16000 Hz mono; front end: fe
            - Probabilities: softmax(logits / T), T = 0.8
            - This file is fold 2's model (the fold with the best validation UA)

            ## Data

            Corpus `manifest:c.csv` (c): 7 utterances, 0.01 h.

            | speaker | calm | loud | total |
            |---|---|---|---|
            | A | 3 | 1 | 4 |
            | B | 1 | 2 | 3 |
            | **all** | 4 | 3 | 7 |

            ## Protocol and results

            leave one session out: p.

            | fold | validation speaker | test speaker | best epoch | test WA | test UA | T |
            |---|---|---|---|---|---|---|
            | 1 | A | B | 4 | 66.67% | 75.00% | 1.235 |
            | 2 | B | A | 2 | 50.00% | – | 1 |
            | **pooled** | | | | **50.00%** | **62.50%** | |

            Pooled test confusion (counts; rows actual, columns predicted):

            | actual \ predicted | calm | loud |
            |---|---|---|
            | calm | 2 | 2 |
            | loud | 1 | 2 |

            ## Training

            - Time: 2.5 min on hw
            - Build: unknown; created 2026-12-02 15:04 UTC
            - Full settings, per-epoch curves and calibration: report.md and report.json in the run folder

            """;
        Assert.Equal(expected.ReplaceLineEndings("\n"), Card.ToMarkdown().ReplaceLineEndings("\n"));
        string synthetic = (Card with { Synthetic = true, Build = "commit z" }).ToMarkdown();
        Assert.Contains("- **This model was trained on Ser's synthetic corpus** (generated voiced sounds with emotion-like prosody, not speech). " +
                        "It does not recognise emotion in real speech. Use it to try the pipeline, the inference doors and the tools, never to " +
                        "judge a recording.\n", synthetic.ReplaceLineEndings("\n"));
        Assert.Contains("- Build: commit z; created", synthetic);
    }

    [Fact]
    public void Json_round_trips_and_anything_else_reads_as_no_card()
    {
        var back = ModelCard.FromJson(Card.ToJson())!;
        Assert.Equal(Card.ToMarkdown(), back.ToMarkdown());   // every field the markdown shows, NaN included
        Assert.Equal((Card.Hours, Card.Synthetic, Card.ModelFold), (back.Hours, back.Synthetic, back.ModelFold));
        Assert.Contains("\"model_fold\":2", Card.ToJson());
        Assert.Null(ModelCard.FromJson(null));
        Assert.Null(ModelCard.FromJson("  "));
        Assert.Null(ModelCard.FromJson("{not json"));
    }

    [Fact]
    public void The_processor_is_named_as_the_system_names_it()
    {
        string name = ModelCard.ProcessorName();
        Assert.False(string.IsNullOrWhiteSpace(name));
        if (File.Exists("/proc/cpuinfo"))
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            if (line is not null) Assert.Equal(line[(line.IndexOf(':') + 1)..].Trim(), name);
        }
    }
}
