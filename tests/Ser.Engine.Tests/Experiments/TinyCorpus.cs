using Ser.Engine.Audio;
using Ser.Engine.Models;

namespace Ser.Engine.Tests.Experiments;

/// <summary>
/// A corpus small enough for Debug-build training tests: a manifest of short 16 kHz WAVs, 5 (or fewer) sessions x 2 speakers
/// (F, M) x one utterance per class, 0.3 to 0.8 s long and three of 3.2 s (fixed-length mode cuts those in two), with a
/// class-dependent pitch and level so there is something to learn. Plus a tiny model config (Debug builds run the
/// engine's kernels unoptimised; the presets are too slow there).
/// </summary>
internal static class TinyCorpus
{
    public static readonly string[] Classes = ["neutral", "angry", "happy", "sad"];

    public static readonly ModelConfig Model = new()
    {
        Channels = [2, 2, 2],
        Kernels = [[3, 3], [3, 3], [3, 3]],
        Hidden = 3,
        Dense = 4,
        Dropout = 0.2,
    };

    /// <summary>Writes the WAVs and manifest.csv into <paramref name="dir"/>; returns the corpus spec.</summary>
    /// <param name="perClass">Utterances per class and speaker (default one each; uneven counts make UA differ from WA).</param>
    public static string Write(string dir, int sessions = 5, int[]? perClass = null)
    {
        Directory.CreateDirectory(dir);
        var lines = new List<string> { "path,label,speaker,session,gender" };
        int n = 0;
        for (int s = 1; s <= sessions; s++)
            foreach (char g in "FM")
                for (int c = 0; c < 4; c++)
                for (int copy = 0; copy < (perClass?[c] ?? 1); copy++, n++)
                {
                    string speaker = $"Ses0{s}{g}";
                    string file = copy == 0 ? $"{speaker}_{c}.wav" : $"{speaker}_{c}_{copy}.wav";
                    double seconds = n % 17 == 5 ? 3.2 : 0.3 + 0.1 * (n % 6);     // 0.3..0.8 s, and three of 3.2 s
                    WavWriter.WriteMono16(Path.Combine(dir, file), Tone(n, c, g == 'F' ? 210 : 120, seconds), 16000);
                    lines.Add($"{file},{Classes[c]},{speaker},Ses0{s},{g}");
                }
        string manifest = Path.Combine(dir, "manifest.csv");
        File.WriteAllLines(manifest, lines);
        return "manifest:" + manifest;
    }

    static float[] Tone(int seed, int cls, double f0, double seconds)
    {
        var r = new Random(seed);
        double pitch = f0 * Math.Pow(2, new[] { 0, 4, 6, -3.5 }[cls] / 12.0);
        double gain = new[] { 0.2, 0.5, 0.35, 0.08 }[cls];
        var x = new float[(int)(seconds * 16000)];
        double phase = 0;
        for (int i = 0; i < x.Length; i++)
        {
            phase += 2 * Math.PI * pitch * (1 + 0.05 * Math.Sin(2 * Math.PI * 3 * i / 16000.0)) / 16000;
            x[i] = (float)(gain * (Math.Sin(phase) + 0.5 * Math.Sin(2 * phase) + 0.25 * Math.Sin(3 * phase)) / 1.75 + 0.005 * (r.NextDouble() - 0.5));
        }
        return x;
    }
}
