namespace Ser.Engine.Data.Synthetic;

/// <summary>
/// One synthetic speaker's neutral voice. Values are drawn per speaker (see <see cref="SyntheticCorpus"/>) with spreads
/// chosen to overlap the emotion effects of <see cref="EmotionProfile"/>: a high-pitched, loud male speaking neutrally
/// resembles a low, soft one speaking angrily, so the task needs more than a loudness or pitch threshold.
/// </summary>
internal sealed record SpeakerVoice(
    string Id,
    char Gender,
    string Session,
    double F0Hz,              // median pitch: F ~210 Hz, M ~120 Hz, sd 2 semitones within a gender
    double RangeSt,           // pitch excursion scale of syllable targets, semitones (~2.2)
    double FormantScale,      // vocal-tract length: F ~1.15, M ~1.0 (sd 0.04)
    double SyllablesPerSecond,// ~4.2 syllables/s, sd ~12%
    double GainDb,            // recording level / loudness, sd 2.5 dB
    double OpenQuotient,      // glottal open fraction of the period, ~0.6 (F a little higher)
    double Tilt,              // one-pole low-pass coefficient on the source: more = steeper spectral tilt (~0.25)
    double Breathiness,       // aspiration noise relative to voicing (~0.15; F a little higher)
    double Jitter,            // sd of period-to-period pitch perturbation (fraction, ~0.01)
    double Shimmer);          // sd of period-to-period amplitude perturbation (fraction, ~0.06)

/// <summary>
/// A session's recording conditions, shared by its two speakers: background noise level and a mild channel tilt
/// (first-order FIR 1 + c·z⁻¹). Sessions differ, as real recording sessions do, so a held-out session is a mild domain shift.
/// </summary>
internal sealed record SessionChannel(double NoiseDbFs, double ChannelTilt);

/// <summary>
/// How an emotion shifts prosody and voice quality at full strength, relative to the speaker's neutral voice.
/// Directions follow the speech literature (high arousal: higher, wider pitch, louder, faster, pressed voice with a
/// flatter spectrum; sadness: lower, narrower, softer, slower, breathy with a steeper tilt). Applied with a weight
/// w = intensity × (1 inside the emotional span, 0 outside, raised-cosine edges), so only part of an utterance carries it.
/// </summary>
internal readonly record struct EmotionProfile(
    double PitchSt,           // added to the pitch level, semitones
    double RangeScale,        // multiplies the pitch excursion
    double EnergyDb,          // added to the level
    double RateScale,         // multiplies the syllable rate
    double OpenQuotientDelta, // added to the open quotient (negative = pressed)
    double TiltDelta,         // added to the source low-pass coefficient (negative = brighter)
    double BreathScale,       // multiplies aspiration noise
    double JitterScale,       // multiplies jitter and shimmer
    double PauseScale,        // multiplies pause lengths
    double F1Scale,           // multiplies F1 (open mouth when aroused)
    double F2Scale)           // multiplies F2 (spread lips when smiling)
{
    public static readonly EmotionProfile Neutral = new(0, 1, 0, 1, 0, 0, 1, 1, 1, 1, 1);
    public static readonly EmotionProfile Angry = new(+4.0, 1.5, +10.0, 1.15, -0.18, -0.22, 0.5, 1.3, 0.8, 1.10, 1.00);
    public static readonly EmotionProfile Happy = new(+6.0, 2.0, +6.0, 1.10, -0.06, -0.10, 1.0, 1.0, 0.9, 1.06, 1.08);
    public static readonly EmotionProfile Sad = new(-3.5, 0.5, -8.0, 0.78, +0.15, +0.28, 2.5, 1.6, 1.6, 0.95, 0.96);

    public static EmotionProfile For(string label) => label switch
    {
        Emotions.Angry => Angry,
        Emotions.Happy => Happy,
        Emotions.Sad => Sad,
        _ => Neutral,
    };

    /// <summary>The neutral profile moved a fraction w ∈ [0, 1] of the way to this one (scales interpolate geometrically).</summary>
    public EmotionProfile At(double w) => new(
        w * PitchSt, Math.Pow(RangeScale, w), w * EnergyDb, Math.Pow(RateScale, w), w * OpenQuotientDelta, w * TiltDelta,
        Math.Pow(BreathScale, w), Math.Pow(JitterScale, w), Math.Pow(PauseScale, w), Math.Pow(F1Scale, w), Math.Pow(F2Scale, w));
}
