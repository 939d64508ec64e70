namespace Ser.Engine.Data;

/// <summary>Where an utterance's audio comes from: a file, or generated in memory.</summary>
public interface IAudioSource
{
    /// <summary>16 kHz mono PCM in [-1, 1].</summary>
    float[] Load();
    /// <summary>A human-readable origin (a path, or "synthetic:…").</summary>
    string Describe();
}

/// <summary>One labelled utterance of a corpus.</summary>
public sealed record Utterance(
    string Id,
    IAudioSource Audio,
    string Label,
    string Speaker,
    string Session,
    char Gender,          // 'F', 'M' or '?'
    double DurationSeconds);
