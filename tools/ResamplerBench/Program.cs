// Ser's Resampler vs NAudio's WdlResampler on the criteria of tests/Ser.Engine.Tests/Audio/ResamplerTests.cs
// (level within 0.01 dB and residual < -70 dB for passband tones, >= 60 dB suppression above the new Nyquist,
// upsampling images), then speed: 60 s of noise per conversion, single thread, the candidates interleaved
// round-robin in one process so machine noise hits them alike; median of the rounds, and the ratio.
using System.Diagnostics;
using static Ser.Engine.Tests.Audio.SignalFit;
using NAudio.Dsp;
using Ser.Engine.Audio;

var candidates = new (string Name, Func<float[], int, int, float[]> Run)[]
{
    ("Ser polyphase (Kaiser sinc, 90 dB design)", (x, f, t) => Resampler.Resample(x, f, t, 1)),
    ("NAudio WDL default (as WdlResamplingSampleProvider: linear interp + 2 IIR passes)", (x, f, t) => Wdl(x, f, t, sinc: false)),
    ("NAudio WDL sinc (64 taps, 32x interp)", (x, f, t) => Wdl(x, f, t, sinc: true)),
};

Console.WriteLine($"# Resampler: Ser vs NAudio WDL ({DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, .NET {Environment.Version})");
Console.WriteLine();
Console.WriteLine("Command: `dotnet run -c Release --project tools/ResamplerBench > bench/results/resampler-vs-naudio-wdl.md`");
Console.WriteLine();
Console.WriteLine("Criteria of ResamplerTests: passband tone level error |dB| <= 0.01 and residual < -70 dB; stopband suppression > 60 dB; upsampling image residual < -70 dB.");
Console.WriteLine();
(int From, double Hz)[] passband = [(44100, 1000), (8000, 1000), (8000, 3500), (48000, 7000), (22050, 440), (22051, 1000), (11025, 2500)];
double[] stopband = [10000, 8100, 8500, 15000];
foreach (var c in candidates)
{
    Console.WriteLine($"## {c.Name}");
    Console.WriteLine();
    Console.WriteLine("| test | value | passes |");
    Console.WriteLine("|---|---|---|");
    int pass = 0, total = 0;
    foreach (var (from, hz) in passband)
    {
        var y = c.Run(Tone(hz, from, 0.5), from, 16000);
        var (amp, res) = FitTone(y, hz, 16000);
        double levelDb = 20 * Math.Log10(amp / 0.5);
        bool ok = Math.Abs(levelDb) <= 0.01 && res < -70;
        pass += ok ? 1 : 0; total++;
        Console.WriteLine($"| passband {from}->16000, {hz} Hz | level {levelDb:F4} dB, residual {res:F1} dB | {(ok ? "yes" : "NO")} |");
    }
    foreach (double hz in stopband)
    {
        var x = Tone(hz, 48000, 0.5);
        var y = c.Run(x, 48000, 16000);
        double db = 20 * Math.Log10(MiddleRms(y) / MiddleRms(x));
        bool ok = db < -60;
        pass += ok ? 1 : 0; total++;
        Console.WriteLine($"| stopband 48000->16000, {hz} Hz | {-db:F1} dB suppressed | {(ok ? "yes" : "NO")} |");
    }
    {
        var y = c.Run(Tone(3000, 8000, 0.5), 8000, 16000);
        var (amp, res) = FitTone(y, 3000, 16000);
        bool ok = amp is >= 0.499 and <= 0.501 && res < -70;
        pass += ok ? 1 : 0; total++;
        Console.WriteLine($"| image 8000->16000, 3000 Hz | amplitude {amp:F4}, residual {res:F1} dB | {(ok ? "yes" : "NO")} |");
    }
    Console.WriteLine();
    Console.WriteLine($"Passes {pass} of {total}.");
    Console.WriteLine();
}

Console.WriteLine("## Speed (60 s of white noise, one thread, median of 7 interleaved rounds; ratio = time / Ser's time)");
Console.WriteLine();
Console.WriteLine("| conversion | " + string.Join(" | ", candidates.Select(c => c.Name)) + " |");
Console.WriteLine("|---|" + string.Concat(candidates.Select(_ => "---|")));
var rng = new Random(1);
foreach (int from in new[] { 44100, 48000, 8000, 22050 })
{
    var x = new float[from * 60];
    for (int i = 0; i < x.Length; i++) x[i] = rng.NextSingle() - 0.5f;
    var times = candidates.Select(_ => new List<double>()).ToArray();
    foreach (var c in candidates) c.Run(x[..from], from, 16000);   // warm up (filter tables, JIT)
    for (int round = 0; round < 7; round++)
        for (int k = 0; k < candidates.Length; k++)
        {
            var sw = Stopwatch.StartNew();
            candidates[k].Run(x, from, 16000);
            times[k].Add(sw.Elapsed.TotalMilliseconds);
        }
    double[] med = times.Select(t => t.Order().ElementAt(t.Count / 2)).ToArray();
    Console.WriteLine($"| {from}->16000 | " + string.Join(" | ", med.Select(m => $"{m:F1} ms ({m / med[0]:F2}x)")) + " |");
}

static float[] Wdl(float[] x, int from, int to, bool sinc)
{
    var r = new WdlResampler();
    if (sinc) r.SetMode(true, 0, true, 64, 32);
    else { r.SetMode(true, 2, false); r.SetFilterParms(); }
    r.SetFeedMode(true);
    r.SetRates(from, to);
    int want = (int)Math.Ceiling(x.Length * (double)to / from);
    var output = new List<float>(want + 4096);
    var block = new float[8192];
    // Feed the input, then zeros to flush the filter's delay; the output is the same length as Ser's.
    int pos = 0, pad = from;   // one second of zeros is far more than any delay
    while (output.Count < want + 2048 && (pos < x.Length || pad > 0))
    {
        int n = 4096;
        int need = r.ResamplePrepare(n, 1, out Span<float> inbuf);
        for (int i = 0; i < need; i++)
        {
            if (pos < x.Length) inbuf[i] = x[pos++];
            else { inbuf[i] = 0; pad--; }
        }
        int got = r.ResampleOut(block, need, block.Length, 1);
        output.AddRange(block.AsSpan(0, got));
    }
    var y = output.ToArray();
    return y.Length > want ? y[..want] : y;
}

