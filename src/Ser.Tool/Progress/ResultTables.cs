using System.Globalization;
using Ser.Engine.Experiments;
using Ser.Engine.Metrics;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Ser.Tool.Progress;

/// <summary>Console tables of results, in the paper's layouts (Table 1: WA/UA; Tables 2-3: confusion in percent).</summary>
internal static class ResultTables
{
    /// <summary>Per-fold and pooled test WA/UA.</summary>
    public static Table Summary(ExperimentReport report)
    {
        var table = new Table().Title($"{report.Mode}-length, preset {report.Preset}: test results");
        foreach (string c in new[] { "fold", "test session", "validation", "test speaker", "best epoch", "val UA", "test WA", "test UA" })
            table.AddColumn(c);
        foreach (var f in report.Folds)
            table.AddRow(Cells(Int(f.Fold), f.TestSession, f.ValidationSpeaker, f.TestSpeaker, Int(f.BestEpoch), Pct(f.BestValidationUA),
                Pct(f.Test.WeightedAccuracy), Pct(f.Test.UnweightedAccuracy)));
        var pooled = report.Pooled;
        table.AddRow(Cells(report.Folds.Count == 1 ? "fold only" : "pooled", "", "", "", "", "",
            Pct(pooled.WeightedAccuracy), Pct(pooled.UnweightedAccuracy)));
        return table;
    }

    /// <summary>Rows actual, columns predicted, percent of the row, with the row's count.</summary>
    public static Table Confusion(ConfusionMatrix m, string title)
    {
        var table = new Table().Title(title);
        table.AddColumn("Actual \\ Predict");
        foreach (var l in m.Labels) table.AddColumn(new TableColumn(Title(l)).RightAligned());
        table.AddColumn(new TableColumn("n").RightAligned());
        var pct = m.RowPercent();
        for (int a = 0; a < m.ClassCount; a++)
        {
            var row = new List<string> { Title(m.Labels[a]) };
            for (int p = 0; p < m.ClassCount; p++) row.Add(pct[a, p].ToString("F2", CultureInfo.InvariantCulture) + "%");
            row.Add(Int(m.ActualCount(a)));
            table.AddRow(Cells([.. row]));
        }
        return table;
    }

    public static string Pct(double x) => double.IsNaN(x) ? "-" : (100 * x).ToString("F2", CultureInfo.InvariantCulture) + "%";

    static string Int(long v) => v.ToString(CultureInfo.InvariantCulture);

    static string Title(string s) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..];

    // Text cells, not markup: names may contain '[' which Spectre would parse.
    public static IRenderable[] Cells(params string[] values) => values.Select(v => (IRenderable)new Text(v)).ToArray();
}
