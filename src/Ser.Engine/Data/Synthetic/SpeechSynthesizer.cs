namespace Ser.Engine.Data.Synthetic;

/// <summary>Everything needed to render one synthetic utterance; rendering is a pure function of this.</summary>
internal sealed record UtterancePlan(
    string Id,
    string Label,
    SpeakerVoice Voice,
    SessionChannel Channel,
    int Samples,              // length at 16 kHz
    double SpanStart,         // emotional span [SpanStart, SpanEnd) in seconds (empty for neutral)
    double SpanEnd,
    double Intensity,         // strength of the emotion inside the span, 0..1
    double PitchOffsetSt,     // this utterance's own deviations from the speaker's neutral voice
    double GainOffsetDb,
    double RateScale,
    Rng Random);              // the utterance's own random stream (copied, so rendering twice gives the same audio)

/// <summary>
/// A small formant synthesiser (Klatt-style cascade) that turns an <see cref="UtterancePlan"/> into 16 kHz PCM.
///
/// Signal path per sample:
///   glottal source  — KLGLOTT88 flow pulse g(x) = 27/4·x²(1−x) over the open phase x ∈ [0,1) (open quotient OQ of
///                     the period), zero when closed; its first difference models lip radiation. Jitter perturbs each
///                     period's length, shimmer its amplitude. A one-pole low-pass (coefficient "tilt") steepens the
///                     spectrum; aspiration noise, gated by the glottal flow, adds breathiness.
///   vocal tract     — five cascaded two-pole resonators (F1–F3 from a vowel table scaled by the speaker's vocal-tract
///                     factor, F4/F5 fixed), unity gain at DC, coefficients updated every 5 ms and interpolated between
///                     vowel targets (coarticulation).
///   consonants      — fricatives: noise through two band-pass biquads (centre 2.6–5.5 kHz); plosives: silence then a short burst.
///   room/channel    — low-passed background noise at the session's level, then the session's first-order channel tilt.
///
/// Timeline: lead silence, then phrases of 2–8 syllables separated by pauses, then trailing silence. A syllable is an
/// optional consonant (fricative, plosive, or nasal murmur) and a vowel; its length follows the local speaking rate.
/// Pitch follows per-syllable targets (speaker level + sd·N(0,1), stressed syllables higher, a declining line per phrase,
/// a final fall) joined by cosine interpolation. Emotion parameters are evaluated at each time from the emotional-span
/// weight, so outside the span the utterance is rendered with the speaker's neutral voice.
/// </summary>
internal static class SpeechSynthesizer
{
    const int Fs = 16000;
    const int Block = 80;                 // control rate: 5 ms
    const double OutputScale = 2.2;       // neutral utterances average about −29 dBFS RMS (pauses included); loud angry spans may clip at ±1, as real recordings do

    // Peterson & Barney (1952) adult male averages, F1–F3 in Hz: i ɪ ɛ æ ɑ ɔ ʊ u ʌ ɝ.
    static readonly double[,] Vowels =
    {
        { 270, 2290, 3010 }, { 390, 1990, 2550 }, { 530, 1840, 2480 }, { 660, 1720, 2410 }, { 730, 1090, 2440 },
        { 570, 840, 2410 }, { 440, 1020, 2240 }, { 300, 870, 2240 }, { 640, 1190, 2390 }, { 490, 1350, 1690 },
    };
    const double F4 = 3400, F5 = 4300;
    static readonly double[] Bandwidths = [60, 90, 150, 200, 250];
    static readonly double[] Murmur = [280, 1300, 2300];   // nasal-like voiced consonant

    enum Kind { Vowel, Murmur, Fricative, Burst }

    readonly record struct Segment(Kind Kind, int Start, int End, int Vowel, double Stress, double NoiseHz);
    readonly record struct PitchAnchor(double Time, double Semitones);

    public static float[] Render(UtterancePlan plan)
    {
        var rng = plan.Random;   // a copy: the plan's stream is never advanced
        int n = plan.Samples;
        var voice = plan.Voice;
        var neutral = EmotionProfile.Neutral;
        var emotion = EmotionProfile.For(plan.Label);

        // Emotion weight at time t: intensity inside the span, raised-cosine ramps of 150 ms at its edges.
        double Weight(double t)
        {
            if (plan.SpanEnd <= plan.SpanStart) return 0;
            const double ramp = 0.15;
            double w = Math.Min(Ramp((t - plan.SpanStart) / ramp), Ramp((plan.SpanEnd - t) / ramp));
            return plan.Intensity * w;
        }
        EmotionProfile ProfileAt(double t) => Weight(t) is var w && w > 0 ? emotion.At(w) : neutral;

        // ---- 1. timeline of segments and pitch anchors ----
        var segments = new List<Segment>();
        var anchors = new List<PitchAnchor>();
        double duration = n / (double)Fs;
        double time = rng.Uniform(0.08, 0.30);
        double end = duration - rng.Uniform(0.08, 0.25);
        while (time < end - 0.15)
        {
            int syllables = 2 + rng.Next(7);
            double phraseStart = time;
            for (int s = 0; s < syllables && time < end - 0.1; s++)
            {
                var p = ProfileAt(time);
                double rate = voice.SyllablesPerSecond * plan.RateScale * p.RateScale;
                double length = rng.Uniform(0.75, 1.3) / rate;
                double stress = rng.NextDouble() < 0.3 ? 1.0 : 0.0;
                double t0 = time;
                double onset = 0;
                double choice = rng.NextDouble();
                if (choice < 0.35)
                {
                    onset = length * rng.Uniform(0.25, 0.4);
                    double[] fricatives = [2600, 3300, 4200, 5500];   // ʃ, ç, f-ish, s
                    segments.Add(new Segment(Kind.Fricative, Samples(t0), Samples(t0 + onset), 0, stress, fricatives[rng.Next(4)]));
                }
                else if (choice < 0.65)
                {
                    onset = length * rng.Uniform(0.15, 0.25);     // closure (silence) then a 15–25 ms burst
                    double burst = rng.Uniform(0.015, 0.025);
                    segments.Add(new Segment(Kind.Burst, Samples(t0 + onset - burst), Samples(t0 + onset), 0, stress, rng.Uniform(1500, 4000)));
                }
                else if (choice < 0.85)
                {
                    onset = length * rng.Uniform(0.2, 0.3);
                    segments.Add(new Segment(Kind.Murmur, Samples(t0), Samples(t0 + onset), 0, stress, 0));
                }
                int vowel = rng.Next(Vowels.GetLength(0));
                double v0 = t0 + onset, v1 = Math.Min(t0 + length, end);
                segments.Add(new Segment(Kind.Vowel, Samples(v0), Samples(v1), vowel, stress, 0));

                // Pitch target at the vowel's centre: level + excursion, accent on stressed syllables,
                // declination of ~2 semitones per second of phrase, a final fall on the phrase's last syllable.
                double centre = 0.5 * (v0 + v1);
                double range = voice.RangeSt * p.RangeScale;
                double target = plan.PitchOffsetSt + p.PitchSt + range * (0.7 * rng.Gaussian() + 1.2 * stress)
                                - 2.0 * (centre - phraseStart);
                if (s == syllables - 1 || time + length >= end - 0.1)
                    target -= range * rng.Uniform(0.5, 1.5);
                anchors.Add(new PitchAnchor(centre, target));
                time += length;
            }
            time += rng.Uniform(0.12, 0.45) * ProfileAt(time).PauseScale;
        }

        // ---- 2. control tracks at the block rate ----
        int blocks = n / Block + 2;
        var f0 = new double[blocks];          // Hz
        var voiced = new double[blocks];      // voicing amplitude (linear)
        var noise = new double[blocks];       // consonant noise amplitude (linear)
        var noiseHz = new double[blocks];     // consonant noise centre
        var formants = new double[blocks, 5]; // Hz
        var oq = new double[blocks];
        var tilt = new double[blocks];
        var breath = new double[blocks];
        var jitter = new double[blocks];
        var gain = new double[blocks];        // linear level (speaker + utterance + emotion)

        for (int b = 0; b < blocks; b++)
        {
            double t = b * Block / (double)Fs;
            var p = ProfileAt(t);
            f0[b] = voice.F0Hz * Math.Pow(2, PitchAt(anchors, t) / 12.0);
            oq[b] = Math.Clamp(voice.OpenQuotient + p.OpenQuotientDelta, 0.3, 0.9);
            tilt[b] = Math.Clamp(voice.Tilt + p.TiltDelta, 0.0, 0.9);
            breath[b] = voice.Breathiness * p.BreathScale;
            jitter[b] = p.JitterScale;
            gain[b] = Math.Pow(10, (voice.GainDb + plan.GainOffsetDb + p.EnergyDb) / 20.0);
        }

        // Formants: targets at vowel centres, linear between them (coarticulation); murmurs pull towards a nasal shape.
        var vowelTargets = segments.Where(s => s.Kind == Kind.Vowel)
            .Select(s => (Centre: (s.Start + s.End) / 2.0 / Block, s.Vowel)).ToArray();
        for (int b = 0, k = 0; b < blocks; b++)
        {
            while (k + 1 < vowelTargets.Length && vowelTargets[k + 1].Centre <= b) k++;
            double a = 0;
            int v0 = vowelTargets.Length > 0 ? vowelTargets[k].Vowel : 4, v1 = v0;
            if (vowelTargets.Length > 0 && k + 1 < vowelTargets.Length && b > vowelTargets[k].Centre)
            {
                v1 = vowelTargets[k + 1].Vowel;
                a = (b - vowelTargets[k].Centre) / (vowelTargets[k + 1].Centre - vowelTargets[k].Centre);
            }
            var p = ProfileAt(b * Block / (double)Fs);
            for (int f = 0; f < 3; f++)
            {
                double hz = (1 - a) * Vowels[v0, f] + a * Vowels[v1, f];
                formants[b, f] = hz * voice.FormantScale * (f == 0 ? p.F1Scale : f == 1 ? p.F2Scale : 1.0);
            }
            formants[b, 3] = F4 * voice.FormantScale;
            formants[b, 4] = F5 * voice.FormantScale;
        }

        foreach (var s in segments)
        {
            double attack = s.Kind == Kind.Burst ? 0.004 : 0.025, release = s.Kind == Kind.Burst ? 0.015 : 0.03;
            double len = (s.End - s.Start) / (double)Fs;
            for (int b = s.Start / Block; b <= s.End / Block && b < blocks; b++)
            {
                double u = (b * Block - s.Start) / (double)Fs;
                if (u < 0 || u > len) continue;
                double env = Math.Min(Ramp(u / attack), Ramp((len - u) / release));
                switch (s.Kind)
                {
                    case Kind.Vowel:
                        voiced[b] = Math.Max(voiced[b], env * (1 + 0.4 * s.Stress));
                        break;
                    case Kind.Murmur:
                        voiced[b] = Math.Max(voiced[b], 0.35 * env);
                        for (int f = 0; f < 3; f++) formants[b, f] = Murmur[f] * voice.FormantScale;
                        break;
                    default:
                        noise[b] = Math.Max(noise[b], env * (s.Kind == Kind.Burst ? 0.1 : 0.08) * (1 + 0.3 * s.Stress));
                        noiseHz[b] = s.NoiseHz;
                        break;
                }
            }
        }

        // ---- 3. sample loop ----
        var pcm = new float[n];
        var tract = new Resonator[5];
        var fricative = new BandPass();
        var fricative2 = new BandPass();   // two in cascade: fricatives have little energy below 2 kHz
        double phase = 0, periodScale = 1, ampScale = 1, gPrev = 0, tiltState = 0, roomState = 0, channelPrev = 0;
        double noiseLevel = Math.Pow(10, plan.Channel.NoiseDbFs / 20.0) * Math.Sqrt(3) * 2.3;   // ≈ requested RMS after the low-pass
        for (int b = 0; b * Block < n; b++)
        {
            for (int f = 0; f < 5; f++)
                tract[f].Set(formants[b, f], Bandwidths[f] * (f == 0 ? 1 + 2 * breath[b] : 1), Fs);
            fricative.Set(noiseHz[b] > 0 ? noiseHz[b] : 3000, 2.5, Fs);
            fricative2.Set(noiseHz[b] > 0 ? noiseHz[b] : 3000, 2.5, Fs);
            int stop = Math.Min(n, (b + 1) * Block);
            for (int i = b * Block; i < stop; i++)
            {
                double a = (i - b * Block) / (double)Block;   // linear interpolation inside the block
                double hz = (1 - a) * f0[b] + a * f0[b + 1];
                double amp = (1 - a) * voiced[b] + a * voiced[b + 1];
                double nAmp = (1 - a) * noise[b] + a * noise[b + 1];
                double level = (1 - a) * gain[b] + a * gain[b + 1];

                phase += hz * periodScale / Fs;
                if (phase >= 1)
                {
                    phase -= 1;
                    periodScale = 1 + voice.Jitter * jitter[b] * rng.Gaussian();
                    ampScale = 1 + voice.Shimmer * jitter[b] * rng.Gaussian();
                }
                double x = phase / oq[b];
                double g = x < 1 ? 6.75 * x * x * (1 - x) : 0;          // KLGLOTT88 flow, peak 1
                double source = (g - gPrev) * ampScale * (Fs / (8 * hz + 1)) * 0.02;   // radiation; roughly f0-independent level
                gPrev = g;
                source += breath[b] * rng.NoiseSample() * (0.25 + g) * 0.08;
                tiltState = (1 - tilt[b]) * source + tilt[b] * tiltState;
                double y = amp * tiltState;
                for (int f = 0; f < 5; f++) y = tract[f].Step(y);
                y += nAmp * fricative2.Step(fricative.Step(rng.NoiseSample()));
                y *= level * OutputScale;

                roomState = 0.75 * roomState + 0.25 * rng.NoiseSample();
                y += noiseLevel * roomState;
                double shaped = y + plan.Channel.ChannelTilt * channelPrev;
                channelPrev = y;
                pcm[i] = (float)Math.Clamp(shaped, -1.0, 1.0);
            }
        }
        return pcm;
    }

    static int Samples(double seconds) => (int)(seconds * Fs);

    /// <summary>0 below 0, raised-cosine rise over [0, 1], 1 above.</summary>
    static double Ramp(double u) => u <= 0 ? 0 : u >= 1 ? 1 : 0.5 - 0.5 * Math.Cos(Math.PI * u);

    static double PitchAt(List<PitchAnchor> anchors, double t)
    {
        if (anchors.Count == 0) return 0;
        if (t <= anchors[0].Time) return anchors[0].Semitones;
        if (t >= anchors[^1].Time) return anchors[^1].Semitones;
        int hi = anchors.FindIndex(a => a.Time > t);
        var (p, q) = (anchors[hi - 1], anchors[hi]);
        double u = (t - p.Time) / (q.Time - p.Time);
        return p.Semitones + (q.Semitones - p.Semitones) * Ramp(u);
    }

    /// <summary>Klatt's digital resonator, unity gain at DC: y = A·x + B·y₁ + C·y₂.</summary>
    struct Resonator
    {
        double _a, _b, _c, _y1, _y2;

        public void Set(double hz, double bandwidth, int fs)
        {
            double r = Math.Exp(-Math.PI * bandwidth / fs);
            _c = -r * r;
            _b = 2 * r * Math.Cos(2 * Math.PI * Math.Min(hz, 0.45 * fs) / fs);
            _a = 1 - _b - _c;
        }

        public double Step(double x)
        {
            double y = _a * x + _b * _y1 + _c * _y2;
            _y2 = _y1;
            _y1 = y;
            return y;
        }
    }

    /// <summary>Band-pass biquad with 0 dB peak gain (the audio-EQ-cookbook form), for fricative noise.</summary>
    sealed class BandPass
    {
        double _b0, _a1, _a2, _x1, _x2, _y1, _y2;

        public void Set(double hz, double q, int fs)
        {
            double w = 2 * Math.PI * Math.Min(hz, 0.45 * fs) / fs;
            double alpha = Math.Sin(w) / (2 * q);
            double a0 = 1 + alpha;
            _b0 = alpha / a0;
            _a1 = -2 * Math.Cos(w) / a0;
            _a2 = (1 - alpha) / a0;
        }

        public double Step(double x)
        {
            double y = _b0 * (x - _x2) - _a1 * _y1 - _a2 * _y2;
            _x2 = _x1; _x1 = x;
            _y2 = _y1; _y1 = y;
            return y;
        }
    }
}
