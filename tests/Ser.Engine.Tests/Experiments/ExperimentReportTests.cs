using System.Text.Json;
using Ser.Engine.Experiments;
using Ser.Engine.Metrics;

namespace Ser.Engine.Tests.Experiments;

/// <summary>
/// report.md and report.json of a hand-made two-fold result whose every number was worked out by hand: fold 1 with a
/// reverse direction and calibration, fold 2 without either (a run from before they existed).
/// </summary>
public class ExperimentReportTests
{
    static readonly string[] Labels = ["neutral", "angry"];

    static ConfusionMatrix Matrix(long[][] counts)
    {
        var m = new ConfusionMatrix(Labels);
        for (int a = 0; a < counts.Length; a++)
        for (int p = 0; p < counts[a].Length; p++)
            if (counts[a][p] > 0) m.Add(a, p, counts[a][p]);
        return m;
    }

    internal static ExperimentReport Report(bool withSecondFold = true)
    {
        var fold1 = new FoldResult
        {
            Fold = 1, TestSession = "Ses01", ValidationSpeaker = "S1a", TestSpeaker = "S1b", BestEpoch = 4, BestValidationUA = 0.5,
            Test = Matrix([[3, 1], [1, 1]]),          // WA 4/6, UA (3/4 + 1/2) / 2
            History = [new EpochRecord(1, 1.25, 0.5, 1.5, 0.5, 0.25, 2.0, 1.75, 0.5, 0.5)],
            CheckpointPath = "fold1/best.ser",
            Reverse = new ReverseResult("S1b", "S1a", 3, 0.5, Matrix([[2, 0], [1, 1]])),   // WA 3/4, UA (1 + 1/2) / 2
            // before: confident and right (0.9), then wrong at 0.6; after: right at 0.85 and at 0.55
            Calibration = new CalibrationResult(1.5, Reliability.Of([0.9f, 0.1f, 0.4f, 0.6f], [0, 0]), Reliability.Of([0.85f, 0.15f, 0.55f, 0.45f], [0, 0])),
        };
        var fold2 = new FoldResult
        {
            Fold = 2, TestSession = "Ses02", ValidationSpeaker = "S2a", TestSpeaker = "S2b", BestEpoch = 2, BestValidationUA = 0.25,
            Test = Matrix([[0, 2], [0, 2]]), History = [], CheckpointPath = "fold2/best.ser",
        };
        return new ExperimentReport
        {
            Mode = "variable", Preset = "small", Corpus = "tiny", Device = "cpu (2 threads)", Build = "abc", Labels = Labels,
            Settings = new Dictionary<string, string> { ["mode"] = "variable", ["epochs"] = "3" },
            Folds = withSecondFold ? [fold1, fold2] : [fold2], Seconds = 12.4,
        };
    }

    [Fact]
    public void Markdown_holds_every_table_with_its_numbers()
    {
        string expected = """
            # Ser experiment: variable-length, preset `small`

            Corpus `tiny`, device cpu (2 threads), 2 fold(s), 12 s, build abc.

            | setting | value |
            |---|---|
            | mode | variable |
            | epochs | 3 |

            ## Results (Table 1 layout)

            | fold | test session | validation speaker | test speaker | best epoch | validation UA | test WA | test UA |
            |---|---|---|---|---|---|---|---|
            | 1 | Ses01 | S1a | S1b | 4 | 50.00% | 66.67% | 62.50% |
            | 2 | Ses02 | S2a | S2b | 2 | 25.00% | 50.00% | 50.00% |
            | **pooled** | | | | | | **60.00%** | **62.50%** |

            ### Reverse direction: the test speaker selects the epoch, the validation speaker is tested

            Same training runs; each direction's selection never looks at the speaker it tests.

            | fold | selecting speaker | tested speaker | best epoch | selecting UA | tested WA | tested UA |
            |---|---|---|---|---|---|---|
            | 1 | S1b | S1a | 3 | 50.00% | 75.00% | 75.00% |
            | **pooled, every speaker tested once** | | | | | **64.29%** | **64.58%** |

            ## Calibration: temperature fitted on the validation speaker, measured on the test speaker

            Probabilities are softmax(logits / T) at every door. NLL: mean −ln p(true class); ECE: expected calibration error over 15 confidence bins. Lower is better for both.

            | fold | T | test NLL, T = 1 | test NLL, T | test ECE, T = 1 | test ECE, T |
            |---|---|---|---|---|---|
            | 1 | 1.500 | 0.511 | 0.380 | 35.00% | 30.00% |
            | **pooled** | | **0.511** | **0.380** | **35.00%** | **30.00%** |

            ## Pooled confusion matrix (rows actual, columns predicted, percent)

            | Actual \ Predict | Neutral | Angry | n |
            |---|---|---|---|
            | Neutral | 50.00% | 50.00% | 6 |
            | Angry | 25.00% | 75.00% | 4 |

            ### Fold 1 (test speaker S1b)

            | Actual \ Predict | Neutral | Angry | n |
            |---|---|---|---|
            | Neutral | 75.00% | 25.00% | 4 |
            | Angry | 50.00% | 50.00% | 2 |

            ### Fold 2 (test speaker S2b)

            | Actual \ Predict | Neutral | Angry | n |
            |---|---|---|---|
            | Neutral | 0.00% | 100.00% | 2 |
            | Angry | 0.00% | 100.00% | 2 |

            """;
        Assert.Equal(expected.ReplaceLineEndings("\n"), Report().ToMarkdown().ReplaceLineEndings("\n"));
    }

    [Fact]
    public void Without_reverse_directions_or_calibration_their_sections_are_left_out()
    {
        var report = Report(withSecondFold: false);
        string markdown = report.ToMarkdown();
        Assert.DoesNotContain("Reverse direction", markdown);
        Assert.DoesNotContain("## Calibration", markdown);
        Assert.Contains("Corpus `tiny`, device cpu (2 threads), 1 fold(s), 12 s, build abc.", markdown);
        Assert.Contains("Corpus `tiny`, device cpu (2 threads), 1 fold(s), 12 s.", (new ExperimentReport
        {
            Mode = report.Mode, Preset = report.Preset, Corpus = report.Corpus, Device = report.Device, Labels = Labels,
            Settings = report.Settings, Folds = report.Folds, Seconds = report.Seconds,
        }).ToMarkdown());   // no build recorded: no "build" clause
        Assert.Null(report.PooledCalibration);
        using var doc = JsonDocument.Parse(report.ToJson());
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("pooled_calibration").ValueKind);
        Assert.Equal(4, doc.RootElement.GetProperty("pooled_both_directions").GetProperty("n").GetInt64());   // the one direction
    }

    /// <summary>A number that does not exist (no validation utterance scored; a calibration over no utterances) reads "–",
    /// not "NaN%"; a class named "" keeps an empty heading.</summary>
    [Fact]
    public void Missing_numbers_are_dashes_and_the_json_is_indented()
    {
        var labels = new[] { "", "angry" };
        var test = new ConfusionMatrix(labels);
        test.Add(1, 1);
        var report = new ExperimentReport
        {
            Mode = "variable", Preset = "small", Corpus = "tiny", Device = "cpu", Labels = labels, Settings = new Dictionary<string, string>(),
            Seconds = 1,
            Folds = [new FoldResult
            {
                Fold = 1, TestSession = "S", ValidationSpeaker = "a", TestSpeaker = "b", BestEpoch = 0, BestValidationUA = double.NaN, Test = test,
                History = [], CheckpointPath = "fold1/best.ser", Calibration = new CalibrationResult(1, new Reliability(), new Reliability()),
            }],
        };
        string markdown = report.ToMarkdown();
        Assert.Contains("| 1 | S | a | b | 0 | – | 100.00% | 100.00% |", markdown);
        Assert.Contains("| 1 | 1.000 | – | – | – | – |", markdown);
        Assert.Contains("| Actual \\ Predict |  | Angry | n |", markdown);
        string json = report.ToJson();
        Assert.StartsWith("{\n  \"mode\": \"variable\",", json.ReplaceLineEndings("\n"));   // report.json is read by people too
    }

    [Fact]
    public void Json_holds_the_same_numbers_under_snake_case_names()
    {
        using var doc = JsonDocument.Parse(Report().ToJson());
        var root = doc.RootElement;
        Assert.Equal(("variable", "small", "tiny", "cpu (2 threads)", "abc"), (root.GetProperty("mode").GetString(), root.GetProperty("preset").GetString(),
            root.GetProperty("corpus").GetString(), root.GetProperty("device").GetString(), root.GetProperty("build").GetString()));
        Assert.Equal(Labels, root.GetProperty("labels").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("3", root.GetProperty("settings").GetProperty("epochs").GetString());
        Assert.Equal(12.4, root.GetProperty("seconds").GetDouble());

        var pooled = root.GetProperty("pooled");
        Assert.Equal((0.6, 0.625, 10L), (pooled.GetProperty("wa").GetDouble(), pooled.GetProperty("ua").GetDouble(), pooled.GetProperty("n").GetInt64()));
        Assert.Equal("[[3,3],[1,3]]", pooled.GetProperty("confusion_counts").GetRawText().Replace(" ", "").ReplaceLineEndings(""));
        var both = root.GetProperty("pooled_both_directions");
        Assert.Equal(14, both.GetProperty("n").GetInt64());
        Assert.Equal(9.0 / 14, both.GetProperty("wa").GetDouble(), 1e-15);
        Assert.Equal((5.0 / 8 + 4.0 / 6) / 2, both.GetProperty("ua").GetDouble(), 1e-15);
        var calibration = root.GetProperty("pooled_calibration");
        Assert.Equal(2, calibration.GetProperty("before").GetProperty("n").GetInt64());
        Assert.Equal(-(Math.Log(0.9f) + Math.Log(0.4f)) / 2, calibration.GetProperty("before").GetProperty("nll").GetDouble(), 1e-6);
        Assert.Equal(0.3, calibration.GetProperty("after").GetProperty("ece").GetDouble(), 1e-6);
        Assert.Equal(2, calibration.GetProperty("after").GetProperty("bins").GetProperty("counts").EnumerateArray().Sum(e => e.GetInt64()));

        var folds = root.GetProperty("folds").EnumerateArray().ToList();
        Assert.Equal(2, folds.Count);
        var f1 = folds[0];
        Assert.Equal((1, "Ses01", "S1a", "S1b", 4, 0.5, "fold1/best.ser"), (f1.GetProperty("fold").GetInt32(), f1.GetProperty("test_session").GetString(),
            f1.GetProperty("validation_speaker").GetString(), f1.GetProperty("test_speaker").GetString(), f1.GetProperty("best_epoch").GetInt32(),
            f1.GetProperty("best_validation_ua").GetDouble(), f1.GetProperty("checkpoint").GetString()));
        Assert.Equal(6, f1.GetProperty("test").GetProperty("n").GetInt64());
        var reverse = f1.GetProperty("reverse");
        Assert.Equal(("S1b", "S1a", 3, 0.5, 0.75), (reverse.GetProperty("selector").GetString(), reverse.GetProperty("tested").GetString(),
            reverse.GetProperty("best_epoch").GetInt32(), reverse.GetProperty("selector_ua").GetDouble(), reverse.GetProperty("test").GetProperty("ua").GetDouble()));
        Assert.Equal(1.5, f1.GetProperty("calibration").GetProperty("temperature").GetDouble());
        var epoch = Assert.Single(f1.GetProperty("history").EnumerateArray());
        Assert.Equal((1, 1.25, 0.25, 1.75), (epoch.GetProperty("epoch").GetInt32(), epoch.GetProperty("train_loss").GetDouble(),
            epoch.GetProperty("validation_wa").GetDouble(),
            epoch.GetProperty("test_loss").GetDouble()));
        Assert.Equal(JsonValueKind.Null, folds[1].GetProperty("reverse").ValueKind);
        Assert.Equal(JsonValueKind.Null, folds[1].GetProperty("calibration").ValueKind);
    }
}
