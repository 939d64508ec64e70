namespace Ser.Engine.Inference;

/// <summary>
/// Speech vs non-speech per 10 ms frame from frame energy, against a noise floor that follows the recording.
/// <para>Floor: the minimum frame energy over the last <see cref="FloorWindowFrames"/> frames (minimum statistics: speech
/// has low-energy gaps, so the minimum over a few seconds tracks the noise, up or down, within that window). For the first
/// <see cref="PriorFrames"/> frames the floor is at most <see cref="PriorFloorDb"/>, so speech from the very first sample is heard as
/// speech rather than learnt as noise. The floor never goes below <see cref="MinFloorDb"/>: digital silence (exact
/// zeros, -100 dB) would otherwise make any dither or click "speech".</para>
/// <para>Hysteresis: a frame opens speech when it is <see cref="OnsetDb"/> above the floor, and keeps it open while
/// <see cref="HoldDb"/> above. Both are relative to the floor, not to the loudest speech, so an utterance 10 dB quieter
/// than the previous one is still detected.</para>
/// Allocation: one array at construction. Deterministic: the same frames give the same decisions whatever the chunking
/// of the audio they came from.
/// </summary>
internal sealed class SpeechDetector
{
    public const int FrameSamples = 160;            // 10 ms at 16 kHz (the front end's hop)
    public const double OnsetDb = 12;
    public const double HoldDb = 6;
    public const double MinFloorDb = -70;           // dBFS (full scale sine = -3 dBFS)
    public const double PriorFloorDb = -60;
    public const int FloorWindowFrames = 300;       // 3 s
    public const int PriorFrames = 100;             // 1 s: how long the prior caps the floor

    readonly float[] _history = new float[FloorWindowFrames];   // [W] frame energies (dB), ring
    long _frames;

    /// <summary>The noise floor (dB) the last frame was judged against.</summary>
    public double FloorDb { get; private set; } = PriorFloorDb;

    /// <summary>10 log10(mean square + 1e-10) of one frame, summed in index order (dBFS).</summary>
    public static float EnergyDb(ReadOnlySpan<float> frame)
    {
        double sum = 0;
        foreach (float v in frame) sum += (double)v * v;
        return (float)(10 * Math.Log10(sum / frame.Length + 1e-10));
    }

    /// <summary>Judges the next frame (energy in dB): speech or not, given whether speech is currently open.</summary>
    public bool IsSpeech(float energyDb, bool open)
    {
        _history[(int)(_frames % FloorWindowFrames)] = energyDb;
        _frames++;
        int n = (int)Math.Min(_frames, FloorWindowFrames);
        float min = float.PositiveInfinity;
        for (int i = 0; i < n; i++) min = Math.Min(min, _history[i]);
        double floor = _frames < PriorFrames ? Math.Min(min, PriorFloorDb) : min;
        FloorDb = Math.Max(floor, MinFloorDb);
        return energyDb > FloorDb + (open ? HoldDb : OnsetDb);
    }
}
