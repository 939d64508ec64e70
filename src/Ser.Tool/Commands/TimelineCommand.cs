using System.Globalization;
using System.Text;
using System.Text.Json;
using CommandLine;
using ScottPlot;
using Ser.Engine;
using Ser.Engine.Audio;
using Ser.Engine.Inference;
using Ser.Tool.Plots;
using Ser.Tool.Progress;
using Spectre.Console;

namespace Ser.Tool.Commands;

/// <summary>
/// `sertool timeline --model M FILE.wav`: emotion over time in a long recording, through <see cref="EmotionStream"/> (the
/// same segmentation and model path as the C ABI's ser_stream). The file is read a second at a time and pushed, so an
/// hour-long recording takes memory for one block, one open segment and the results, not the whole file.
/// Output: a table of final segments, or --json (stdout holds only {"segments":[...]}) or --csv; --out t.png draws the
/// waveform with coloured segment bands and each class's probability per segment.
/// </summary>
[Verb("timeline", HelpText = "Emotion over time in a long recording: speech segments, each classified whole.")]
internal sealed class TimelineCommand : ICommand
{
    [Option("model", HelpText = ModelChoice.HelpText)]
    public string? ModelOption { get; set; }

    string Model => _model ??= ModelChoice.Resolve(ModelOption);
    string? _model;

    [Value(0, MetaName = "FILE.wav", Required = true, HelpText = "WAV (PCM/float), AIFF, MP3 or Ogg Vorbis file, 8-192 kHz, any channel count (channels are averaged).")]
    public string Input { get; set; } = "";

    [Option("json", HelpText = "Print {\"segments\":[{\"start\",\"end\",\"label\",\"probabilities\"}]} (final segments only).")]
    public bool Json { get; set; }

    [Option("csv", HelpText = "Print CSV: start,end,label,then one probability column per class.")]
    public bool Csv { get; set; }

    [Option("out", HelpText = "Also draw the timeline to this PNG.")]
    public string? Out { get; set; }

    [Option("min-silence", Default = 0.4, HelpText = "A segment ends at a silence at least this long (s).")]
    public double MinSilence { get; set; } = 0.4;

    [Option("min-segment", Default = 0.3, HelpText = "Segments with less speech are dropped (s).")]
    public double MinSegment { get; set; } = 0.3;

    [Option("max-segment", Default = 15.0, HelpText = "Longer speech is cut near this length at its quietest point (s).")]
    public double MaxSegment { get; set; } = 15;

    [Option("threads", Default = 1, HelpText = "CPU threads per segment's inference (0 = all cores).")]
    public int Threads { get; set; } = 1;

    [Option("width", Default = 1600, HelpText = "PNG width in pixels.")]
    public int Width { get; set; } = 1600;

    [Option("height", Default = 600, HelpText = "PNG height in pixels.")]
    public int Height { get; set; } = 600;

    public int Run()
    {
        if (Json && Csv) throw new SerException("timeline: give --json or --csv, not both");
        if (Threads < 0) throw new SerException($"--threads must be 0 (all cores) or positive (got {Threads})");
        using var recognizer = EmotionRecognizer.Load(Model, new EmotionRecognizerOptions { ThreadsPerPrediction = Threads, MaxConcurrency = 1 });
        using var wav = WavReader.OpenBlocks(Input);
        if (wav.SampleRate < EmotionStreamOptions.MinSampleRate || wav.SampleRate > EmotionStreamOptions.MaxSampleRate)
            throw new SerException($"{Input}: sample rate {wav.SampleRate} Hz is outside {EmotionStreamOptions.MinSampleRate}..{EmotionStreamOptions.MaxSampleRate}");
        EmotionStream stream;
        try
        {
            stream = new EmotionStream(recognizer, new EmotionStreamOptions
            {
                SampleRate = wav.SampleRate,
                MinSilenceSeconds = MinSilence,
                MinSegmentSeconds = MinSegment,
                MaxSegmentSeconds = MaxSegment,
            });
        }
        catch (ArgumentException e)
        {
            throw new SerException(e.Message.Replace("min_silence_s", "--min-silence").Replace("max_segment_s", "--max-segment")
                .Replace("min_segment_s", "--min-segment"));
        }

        var envelope = Out is null ? null : new Envelope(Math.Clamp(Width, 100, 20000), wav.Frames);
        var segments = new List<EmotionSegment>();
        var polled = new EmotionSegment[64];
        var block = new float[wav.SampleRate];               // one second
        using (stream)
        {
            for (int n; (n = wav.ReadMono(block)) > 0;)
            {
                envelope?.Add(block.AsSpan(0, n));
                stream.Push(block.AsSpan(0, n));
                Collect();
            }
            stream.Flush();
            Collect();
        }

        var labels = recognizer.Labels;
        if (Json) WriteJson(segments, labels);
        else if (Csv) WriteCsv(segments, labels);
        else WriteTable(segments, labels, wav.DurationSeconds);
        if (Out is not null)
        {
            PlotFiles.SavePng(Draw(segments, labels, envelope!, wav.DurationSeconds, Path.GetFileName(Input)), Out, Width, Height);
            Console.Error.WriteLine($"{Out}: {segments.Count} segments over {wav.DurationSeconds:F1} s");
        }
        return 0;

        void Collect()
        {
            for (int n; (n = stream.Poll(polled)) > 0;)
                for (int i = 0; i < n; i++)
                    if (polled[i].IsFinal) segments.Add(polled[i]);
        }
    }

    static string Seconds(double s) => s.ToString("0.00", CultureInfo.InvariantCulture);

    static void WriteTable(List<EmotionSegment> segments, IReadOnlyList<string> labels, double duration)
    {
        var table = new Table();
        table.AddColumn(new TableColumn("start").RightAligned());
        table.AddColumn(new TableColumn("end").RightAligned());
        table.AddColumn("emotion");
        foreach (var l in labels) table.AddColumn(new TableColumn(l).RightAligned());
        foreach (var s in segments)
            table.AddRow(ResultTables.Cells([Seconds(s.StartSeconds), Seconds(s.EndSeconds), labels[s.Label],
                .. labels.Select((_, k) => s.Probability(k).ToString("F3", CultureInfo.InvariantCulture))]));
        var console = ToolConsole.Create();
        console.Write(table);
        console.WriteLine($"{segments.Count} segments, {segments.Sum(s => s.EndSeconds - s.StartSeconds):F1} s of speech in {duration:F1} s");
    }

    static void WriteCsv(List<EmotionSegment> segments, IReadOnlyList<string> labels)
    {
        var sb = new StringBuilder();
        sb.Append("start,end,label");
        foreach (var l in labels) sb.Append(',').Append(l);
        sb.AppendLine();
        foreach (var s in segments)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{s.StartSeconds:R},{s.EndSeconds:R},{labels[s.Label]}");
            for (int k = 0; k < labels.Count; k++) sb.Append(CultureInfo.InvariantCulture, $",{s.Probability(k):R}");
            sb.AppendLine();
        }
        Console.Out.Write(sb.ToString());
    }

    static void WriteJson(List<EmotionSegment> segments, IReadOnlyList<string> labels)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteStartArray("segments");
            foreach (var s in segments)
            {
                w.WriteStartObject();
                w.WriteNumber("start", s.StartSeconds);
                w.WriteNumber("end", s.EndSeconds);
                w.WriteString("label", labels[s.Label]);
                w.WriteStartObject("probabilities");
                for (int k = 0; k < labels.Count; k++) w.WriteNumber(labels[k], s.Probability(k));
                w.WriteEndObject();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        Console.Out.WriteLine(Encoding.UTF8.GetString(buffer.ToArray()));
    }

    /// <summary>Min/max of the waveform per image column, gathered while the file streams past.</summary>
    sealed class Envelope(int columns, long frames)
    {
        public readonly double[] Min = new double[columns], Max = new double[columns];
        long _frame;

        public void Add(ReadOnlySpan<float> x)
        {
            foreach (float v in x)
            {
                int c = (int)Math.Min(Min.Length - 1, _frame++ * Min.Length / Math.Max(1, frames));
                Min[c] = Math.Min(Min[c], v);
                Max[c] = Math.Max(Max[c], v);
            }
        }
    }

    static Plot Draw(List<EmotionSegment> segments, IReadOnlyList<string> labels, Envelope envelope, double duration, string title)
    {
        var palette = new ScottPlot.Palettes.Category10();
        var plot = new Plot();
        // Waveform in the lower band (y -1..0), probabilities in the upper (0..1).
        double peak = Math.Max(1e-6, Math.Max(envelope.Max.Max(), -envelope.Min.Min()));
        var xs = Enumerable.Range(0, envelope.Min.Length).Select(c => (c + 0.5) * duration / envelope.Min.Length).ToArray();
        var fill = plot.Add.FillY(xs, envelope.Min.Select(v => -0.5 + 0.48 * v / peak).ToArray(), envelope.Max.Select(v => -0.5 + 0.48 * v / peak).ToArray());
        fill.FillStyle.Color = Colors.Gray.WithAlpha(0.8);
        fill.LineStyle.Width = 0;
        foreach (var s in segments)
        {
            var span = plot.Add.HorizontalSpan(s.StartSeconds, s.EndSeconds);
            span.FillStyle.Color = palette.GetColor(s.Label).WithAlpha(0.25);
            span.LineStyle.Width = 0;
        }
        for (int k = 0; k < labels.Count; k++)
        {
            var px = new List<double>();
            var py = new List<double>();
            foreach (var s in segments)
            {
                px.Add(s.StartSeconds); py.Add(s.Probability(k));
                px.Add(s.EndSeconds); py.Add(s.Probability(k));
                px.Add(s.EndSeconds); py.Add(double.NaN);    // a gap between segments
            }
            if (px.Count == 0) continue;
            var line = plot.Add.ScatterLine(px.ToArray(), py.ToArray());
            line.Color = palette.GetColor(k);
            line.LineWidth = 2;
            line.LegendText = labels[k];
        }
        plot.ShowLegend(Alignment.UpperRight);
        plot.Title(title);
        plot.XLabel("Time (s)");
        plot.YLabel("probability (top) / waveform (bottom)");
        plot.Axes.SetLimits(0, Math.Max(duration, 0.01), -1, 1.05);
        return plot;
    }
}
