namespace Ser.Engine.Data.Corpora;

/// <param name="CalmAsNeutral">Count "calm" as neutral (some papers do); otherwise calm is dropped or kept as "calm".</param>
/// <param name="Others">Keep calm, fear, disgust, surprise under their own names.</param>
public sealed record RavdessOptions(bool CalmAsNeutral = false, bool Others = false);

/// <summary>
/// RAVDESS audio: "03-01-05-01-02-01-12.wav" = modality-channel-emotion-intensity-statement-repetition-actor.
/// Only speech (channel 01) is read; song (02) is skipped. Emotion 01 neutral, 02 calm, 03 happy, 04 sad, 05 angry,
/// 06 fear, 07 disgust, 08 surprise. Speaker "Actor12"; odd actors are male, even female. Pseudo-sessions
/// (<see cref="PseudoSessions"/>). Files whose names do not follow the pattern are ignored.
/// </summary>
public static class RavdessCorpus
{
    static readonly string[] EmotionNames = ["neutral", "calm", "happy", "sad", "angry", "fear", "disgust", "surprise"];

    public static List<Utterance> Load(string root, RavdessOptions options)
    {
        var list = new List<Utterance>();
        foreach (string path in CorpusFiles.Wavs("ravdess", root))
        {
            string[] f = Path.GetFileNameWithoutExtension(path).Split('-');
            if (f.Length != 7 || f.Any(x => x.Length != 2 || !x.All(char.IsAsciiDigit)))
                continue;
            if (f[1] != "01")
                continue;   // song
            int emotion = int.Parse(f[2]);
            int actor = int.Parse(f[6]);
            if (emotion < 1 || emotion > EmotionNames.Length || actor < 1)
                continue;
            string label = EmotionNames[emotion - 1];
            if (label == "calm" && options.CalmAsNeutral)
                label = Emotions.Neutral;
            if (!Emotions.IsFour(label) && !options.Others)
                continue;
            list.Add(CorpusFiles.Make(path, label, $"Actor{actor:D2}", actor % 2 == 1 ? 'M' : 'F'));
        }
        return CorpusFiles.Finish("ravdess", list);
    }
}
