using System.Diagnostics;
using System.Globalization;
using Ser.Engine.Checkpoints;
using Ser.Engine.Features;
using Ser.Engine.Inference;
using Ser.Engine.Models;
using Ser.Engine.Training;

// LibserBench DIR: writes DIR/small.ser and DIR/paper.ser (random weights: timing only), then prints, one thread each,
//   classify <preset> <seconds> <median ms> <min ms>   EmotionRecognizer.Predict (the engine's own path, JIT)
//   forward  <preset> <seconds> <median ms> <min ms>   Executor.Predict alone (features already computed)
//   stream   <preset> rtf <x> eos_latency_ms <median> <max> push_bytes <bytes per push>
// Timings from this machine only; see bench/libser/README.md for how to read them.
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
string dir = args.Length > 0 ? args[0] : "out/libser-bench";
int reps = args.Length > 1 ? int.Parse(args[1]) : 5;
Directory.CreateDirectory(dir);
{
    // 10 minutes of 2 s bursts and 1 s gaps, for `sertool timeline` (bounded memory on a long file)
    var longAudio = Signal(600 * 16000, 3);
    for (int i = 0; i < longAudio.Length; i++) if (i / 16000 % 3 == 2) longAudio[i] = 0;
    Ser.Engine.Audio.WavWriter.WriteMono16(Path.Combine(dir, "long.wav"), longAudio, 16000);
}
foreach (var (name, config) in new[] { ("small", ModelConfig.Small), ("paper", ModelConfig.Paper) })
{
    string path = Path.Combine(dir, name + ".ser");
    using (var ex = Executor.Create(config, new ExecutorOptions { Training = false, MaxBatch = 1, MaxFrames = 100, Threads = 1 }))
    {
        ex.InitializeParameters(1, InitMode.AllPathsLive);
        var stats = new FeatureStats(Enumerable.Repeat(-50f, 400).ToArray(), Enumerable.Repeat(12f, 400).ToArray());
        Checkpoint.Save(path, ex, ["neutral", "angry", "happy", "sad"], stats);
    }
    using var recognizer = EmotionRecognizer.Load(path, new EmotionRecognizerOptions { ThreadsPerPrediction = 1, MaxConcurrency = 1 });
    foreach (int seconds in new[] { 1, 5, 20 })
    {
        var pcm = Signal(seconds * 16000, 1);
        recognizer.Predict(pcm, 16000);                     // warm-up (executor growth, JIT)
        var t = Time(reps, () => recognizer.Predict(pcm, 16000));
        Console.WriteLine($"classify {name} {seconds} {t.Median:F2} {t.Min:F2}");
        int frames = FrontEnd.FrameCount(pcm.Length);
        var features = FrontEnd.Compute(pcm);
        recognizer.Stats.Normalize(features);
        using var ex = Checkpoint.Load(path).CreateExecutor(new ExecutorOptions { Training = false, MaxBatch = 1, MaxFrames = frames, Threads = 1 });
        var probs = new float[4];
        ex.Predict(features, frames, probs);
        t = Time(reps, () => ex.Predict(features, frames, probs));
        Console.WriteLine($"forward {name} {seconds} {t.Median:F2} {t.Min:F2}");
    }

    // Stream: 60 s of 2 s bursts and 1 s gaps pushed in 10 ms chunks, polled after each push.
    var audio = Signal(60 * 16000, 2);
    for (int i = 0; i < audio.Length; i++) if (i / 16000 % 3 == 2) audio[i] = 0;
    using var stream = new EmotionStream(recognizer);
    var buffer = new EmotionSegment[16];
    var latencies = new List<double>();
    long pushBytes = 0, pushes = 0;
    var total = Stopwatch.StartNew();
    for (int i = 0; i < audio.Length; i += 160)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        stream.Push(audio.AsSpan(i, 160));
        if (i >= 16000 * 10) { pushBytes += GC.GetAllocatedBytesForCurrentThread() - before; pushes++; }   // steady state
        var poll = Stopwatch.StartNew();
        int n = stream.Poll(buffer);
        if (n > 0 && buffer[..n].ToArray().Any(s => s.IsFinal)) latencies.Add(poll.Elapsed.TotalMilliseconds);
    }
    stream.Flush();
    stream.Poll(buffer);
    double rtf = total.Elapsed.TotalSeconds / 60;
    latencies.Sort();
    Console.WriteLine($"stream {name} rtf {rtf:F5} eos_latency_ms {(latencies.Count > 0 ? latencies[latencies.Count / 2] : double.NaN):F2} {(latencies.Count > 0 ? latencies[^1] : double.NaN):F2} push_bytes {(double)pushBytes / Math.Max(1, pushes):F1}");
}

static (double Median, double Min) Time(int reps, Action a)
{
    var ms = new double[reps];
    for (int r = 0; r < reps; r++)
    {
        var sw = Stopwatch.StartNew();
        a();
        ms[r] = sw.Elapsed.TotalMilliseconds;
    }
    Array.Sort(ms);
    return (ms[reps / 2], ms[0]);
}

static float[] Signal(int n, int seed)
{
    var r = new Random(seed);
    var x = new float[n];
    double phase = 0;
    for (int i = 0; i < n; i++)
    {
        phase += 2 * Math.PI * 150 * (1 + 0.2 * Math.Sin(2 * Math.PI * 0.7 * i / 16000)) / 16000;
        x[i] = (float)((0.6 + 0.4 * Math.Sin(2 * Math.PI * 3.1 * i / 16000)) * (0.3 * Math.Sin(phase) + 0.15 * Math.Sin(2 * phase)) + 0.01 * (r.NextDouble() - 0.5));
    }
    return x;
}
