namespace Ser.Engine.Data;

/// <summary>
/// Label names shared by every loader. The four classes of the paper come first, in the model's output order
/// (neutral, angry, happy, sad); labels a loader keeps beyond these (when asked to) sort after them.
/// </summary>
public static class Emotions
{
    public const string Neutral = "neutral";
    public const string Angry = "angry";
    public const string Happy = "happy";
    public const string Sad = "sad";

    /// <summary>The paper's classes, index = model output.</summary>
    public static IReadOnlyList<string> Four { get; } = [Neutral, Angry, Happy, Sad];

    public static bool IsFour(string label) => label is Neutral or Angry or Happy or Sad;

    /// <summary>The class list of a label set: the four first (always, so indices are stable), then any others sorted.</summary>
    public static IReadOnlyList<string> ClassesOf(IEnumerable<string> labels) =>
        [.. Four, .. labels.Where(l => !IsFour(l)).Distinct().Order(StringComparer.Ordinal)];

    /// <summary>
    /// A free-form label (a manifest's) as a class name: common spellings of the four map to their names
    /// ("neu", "Neutral" → "neutral"; "ang", "anger" → "angry"; "hap", "happiness", "joy" → "happy"; "sadness" → "sad");
    /// anything else is kept, trimmed and lower-cased.
    /// </summary>
    public static string Normalize(string raw)
    {
        string s = raw.Trim().ToLowerInvariant();
        return s switch
        {
            "neu" or "neutral" => Neutral,
            "ang" or "anger" or "angry" => Angry,
            "hap" or "happy" or "happiness" or "joy" => Happy,
            "sad" or "sadness" => Sad,
            _ => s,
        };
    }
}
