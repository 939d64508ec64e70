using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Ser.Engine.Audio;
using Ser.Engine.Features;

namespace Ser.Engine.Inference;

/// <summary>How an <see cref="EmotionStream"/> cuts its audio into utterances (the C ABI's ser_stream_params).</summary>
public sealed record EmotionStreamOptions
{
    public const int MinSampleRate = 8000;
    public const int MaxSampleRate = 192000;
    /// <summary>Rate of the pushed samples (8000..192000 Hz); resampled to 16 kHz inside, continuously across pushes.</summary>
    public int SampleRate { get; init; } = 16000;
    /// <summary>A segment ends at a silence at least this long.</summary>
    public double MinSilenceSeconds { get; init; } = 0.4;
    /// <summary>Segments with less speech than this are dropped (clicks, coughs).</summary>
    public double MinSegmentSeconds { get; init; } = 0.3;
    /// <summary>An utterance longer than this is cut near this length at its quietest frame (1..600 s).</summary>
    public double MaxSegmentSeconds { get; init; } = 15;
    /// <summary>While a segment is open, a partial result every this many seconds of it (0 = none).</summary>
    public double PartialEverySeconds { get; init; }

    internal void Validate()
    {
        if (SampleRate < MinSampleRate || SampleRate > MaxSampleRate)
            throw new ArgumentException($"sample rate {SampleRate} Hz is outside {MinSampleRate}..{MaxSampleRate}");
        if (!(MinSilenceSeconds >= 0.05 && MinSilenceSeconds <= 10))
            throw new ArgumentException($"min_silence_s must be in [0.05, 10] (got {MinSilenceSeconds})");
        if (!(MaxSegmentSeconds >= 1 && MaxSegmentSeconds <= 600))
            throw new ArgumentException($"max_segment_s must be in [1, 600] (got {MaxSegmentSeconds})");
        if (!(MinSegmentSeconds >= 0 && MinSegmentSeconds <= MaxSegmentSeconds))
            throw new ArgumentException($"min_segment_s must be in [0, max_segment_s] (got {MinSegmentSeconds})");
        if (!(PartialEverySeconds >= 0 && PartialEverySeconds <= 600))
            throw new ArgumentException($"partial_every_s must be in [0, 600] (got {PartialEverySeconds})");
    }
}

/// <summary>Up to <see cref="EmotionSegment.MaxClasses"/> class probabilities, stored inline (no allocation).</summary>
[InlineArray(EmotionSegment.MaxClasses)]
public struct SegmentProbabilities
{
    float _element0;
}

/// <summary>
/// One segment's result. Laid out exactly as ser.h's ser_segment (double, double, int, int, float[16]), so the C ABI
/// hands the caller's buffer to <see cref="EmotionStream.Poll"/> as it is.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct EmotionSegment : IEquatable<EmotionSegment>
{
    public const int MaxClasses = 16;
    double _start;
    double _end;
    int _label;
    int _isFinal;
    SegmentProbabilities _probabilities;

    internal EmotionSegment(double start, double end, int label, bool isFinal, ReadOnlySpan<float> probabilities)
    {
        _start = start;
        _end = end;
        _label = label;
        _isFinal = isFinal ? 1 : 0;
        probabilities.CopyTo(_probabilities);
    }

    /// <summary>First speech (minus a margin of at most 0.05 s), in seconds of the stream's input.</summary>
    public readonly double StartSeconds => _start;
    /// <summary>Last speech (plus at most 0.05 s); for a partial result, the audio heard so far.</summary>
    public readonly double EndSeconds => _end;
    /// <summary>Index of the most probable class (see <see cref="EmotionStream.Labels"/>).</summary>
    public readonly int Label => _label;
    /// <summary>False for a partial result of a segment still open.</summary>
    public readonly bool IsFinal => _isFinal != 0;
    /// <summary>Probability of class <paramref name="k"/> (0 beyond the model's classes).</summary>
    public readonly float Probability(int k) => _probabilities[k];

    /// <summary>Bit-for-bit equality of every field (an inline array has no built-in Equals).</summary>
    public readonly bool Equals(EmotionSegment other)
    {
        if (BitConverter.DoubleToInt64Bits(_start) != BitConverter.DoubleToInt64Bits(other._start)
            || BitConverter.DoubleToInt64Bits(_end) != BitConverter.DoubleToInt64Bits(other._end)
            || _label != other._label || _isFinal != other._isFinal) return false;
        for (int k = 0; k < MaxClasses; k++)
            if (BitConverter.SingleToInt32Bits(_probabilities[k]) != BitConverter.SingleToInt32Bits(other._probabilities[k])) return false;
        return true;
    }

    public override readonly bool Equals(object? obj) => obj is EmotionSegment other && Equals(other);
    public override readonly int GetHashCode() => HashCode.Combine(_start, _end, _label, _isFinal, _probabilities[0]);
    public static bool operator ==(EmotionSegment a, EmotionSegment b) => a.Equals(b);
    public static bool operator !=(EmotionSegment a, EmotionSegment b) => !a.Equals(b);
    public override readonly string ToString() =>
        FormattableString.Invariant($"[{_start:F2}, {_end:F2}] label {_label}{(_isFinal != 0 ? "" : " (partial)")}");
}

/// <summary>
/// Emotion over time from audio pushed in chunks of any size: speech is segmented (adaptive-floor energy detector with
/// hysteresis), each segment is classified whole by the <see cref="EmotionRecognizer"/>, as the model was trained, and
/// its result comes out of <see cref="Poll"/>. The C ABI's ser_stream and `sertool timeline` both wrap this class.
/// <code>
/// using var stream = new EmotionStream(recognizer, new EmotionStreamOptions { SampleRate = 48000 });
/// stream.Push(chunk);                       // copies, never runs the model
/// int n = stream.Poll(segments);            // segments and model run here, on the caller's thread
/// stream.Flush(); n = stream.Poll(segments); // end of input: the last segment's final result
/// </code>
/// <para>Where inference runs: on <see cref="Poll"/> and <see cref="Flush"/>, on the calling thread. Push only copies, so
/// an audio callback never waits on the model; the application decides which of its threads pays for inference (game
/// engines own their threads); and there is no hidden worker to start, stop or race with. Audio pushed waits, unprocessed,
/// until the next Poll or Flush, so poll regularly.</para>
/// <para>Determinism: resampling (<see cref="StreamingResampler"/>), detection and segmentation work on absolute sample
/// and frame positions, so pushing the same audio in 1-sample or 1-second chunks, polling in between or not, gives
/// bit-identical segments. A 16 kHz stream's final segment has exactly the probabilities of
/// <see cref="EmotionRecognizer.Predict"/> on the same samples (the same front end and model path).</para>
/// <para>Memory: bounded by MaxSegmentSeconds (the open segment's audio, its spectrogram and frame energies are buffers
/// sized at construction), plus the audio pushed and not yet polled. Steady state (push, poll) allocates nothing.</para>
/// <para>One thread at a time per stream; many streams may share one recognizer.</para>
/// </summary>
public sealed class EmotionStream : IDisposable
{
    const int Hop = SpeechDetector.FrameSamples;    // 160: one detector frame = one front-end hop
    const int MarginFrames = 5;                     // 50 ms of audio kept either side of the speech
    const int InputBlock = 4800;                    // input samples resampled and segmented per step (bounds buffers)
    const double CutSearchFraction = 0.7;           // a long segment is cut at its quietest frame in the last 30%

    readonly EmotionRecognizer _recognizer;
    readonly EmotionStreamOptions _options;
    readonly StreamingResampler _resampler;
    readonly SpeechDetector _detector = new();
    readonly int _minSilenceFrames, _minSegmentFrames, _maxSegmentFrames, _partialFrames;

    float[] _pending = new float[16000];             // pushed, not yet processed input samples
    int _pendingCount;
    readonly float[] _resampled;                     // one step's 16 kHz output
    readonly float[] _audio;                         // 16 kHz samples from absolute sample _audioStart
    readonly float[] _energy;                        // [frames] dB of each frame from frame _audioStart / Hop
    long _audioStart;                                // absolute 16 kHz sample index of _audio[0] (a multiple of Hop)
    int _audioCount;
    long _frame;                                     // frames judged so far
    readonly float[] _features;                      // [T, F] one segment's spectrogram (scratch)
    readonly float[] _posterior = new float[EmotionSegment.MaxClasses];

    bool _open;                                      // a segment is open
    long _segStart, _firstSpeech, _lastSpeech, _lastPartial, _previousEnd;   // frames
    int _silenceRun;

    EmotionSegment[] _ready = new EmotionSegment[64];  // results not yet polled (ring)
    int _readyHead, _readyCount;
    bool _flushed, _disposed;

    public EmotionStream(EmotionRecognizer recognizer, EmotionStreamOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(recognizer);
        options ??= new EmotionStreamOptions();
        options.Validate();
        if (recognizer.Labels.Count > EmotionSegment.MaxClasses)
            throw new SerException($"a stream reports at most {EmotionSegment.MaxClasses} classes, the model has {recognizer.Labels.Count}");
        _recognizer = recognizer;
        _options = options;
        _resampler = new StreamingResampler(options.SampleRate, FrontEnd.SampleRate);
        _minSilenceFrames = Math.Max(1, (int)Math.Round(options.MinSilenceSeconds * 100));
        _minSegmentFrames = (int)Math.Round(options.MinSegmentSeconds * 100);
        _maxSegmentFrames = Math.Max(2, (int)Math.Round(options.MaxSegmentSeconds * 100));
        _partialFrames = (int)Math.Round(options.PartialEverySeconds * 100);

        // Frames held at most: an open segment (up to max) plus its trailing silence, margins, and one step's frames.
        int stepSamples = _resampler.MaxOutputFor(InputBlock) + _resampler.MaxFinishOutput + Hop;
        int heldFrames = _maxSegmentFrames + _minSilenceFrames + 2 * MarginFrames + 4 + stepSamples / Hop + 1;
        _resampled = new float[stepSamples];
        _audio = new float[heldFrames * Hop + stepSamples];
        _energy = new float[heldFrames + stepSamples / Hop + 1];
        int segmentFrames = _maxSegmentFrames + _minSilenceFrames + 2 * MarginFrames + 4;
        _features = new float[FrontEnd.FrameCount(segmentFrames * Hop) * recognizer.Config.Bins];
    }

    public EmotionStreamOptions Options => _options;
    /// <summary>Class names, in the order of <see cref="EmotionSegment.Probability"/>.</summary>
    public IReadOnlyList<string> Labels => _recognizer.Labels;
    /// <summary>Seconds of input pushed so far.</summary>
    public double SecondsPushed { get; private set; }
    /// <summary>Results waiting for <see cref="Poll"/>.</summary>
    public int ReadyCount => _readyCount;

    /// <summary>Copies mono samples in [-1, 1] at the stream's rate. Never runs the model. NaN or infinity is refused.</summary>
    public void Push(ReadOnlySpan<float> samples)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_flushed) throw new InvalidOperationException("the stream was flushed (end of input); create a new stream");
        foreach (float v in samples)
            if (!float.IsFinite(v)) throw new ArgumentException("samples hold NaN or infinity", nameof(samples));
        if (_pendingCount + samples.Length > _pending.Length)
            Array.Resize(ref _pending, Math.Max(2 * _pending.Length, _pendingCount + samples.Length));
        samples.CopyTo(_pending.AsSpan(_pendingCount));
        _pendingCount += samples.Length;
        SecondsPushed += (double)samples.Length / _options.SampleRate;
    }

    /// <summary>
    /// Processes the audio pushed since the last call (segmentation and inference, on this thread) and moves up to
    /// segments.Length ready results, oldest first, into <paramref name="segments"/>; returns how many. The rest wait
    /// for the next poll.
    /// </summary>
    public int Poll(Span<EmotionSegment> segments)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Process();
        int n = Math.Min(segments.Length, _readyCount);
        for (int i = 0; i < n; i++)
        {
            segments[i] = _ready[_readyHead];
            _readyHead = (_readyHead + 1) % _ready.Length;
        }
        _readyCount -= n;
        return n;
    }

    /// <summary>End of input: everything pushed is processed and the open segment finalised; the next polls return every
    /// remaining result. Further pushes are refused.</summary>
    public void Flush()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_flushed) return;
        Process();
        _flushed = true;
        int n = _resampler.Finish(_resampled);
        Segment(_resampled.AsSpan(0, n));
        if (_open) Close(Math.Min(_lastSpeech + 1 + MarginFrames, _frame));
    }

    void Process()
    {
        if (_flushed) return;
        int done = 0;
        while (done < _pendingCount)
        {
            int take = Math.Min(InputBlock, _pendingCount - done);
            int n = _resampler.Push(_pending.AsSpan(done, take), _resampled);
            Segment(_resampled.AsSpan(0, n));
            done += take;
        }
        _pendingCount = 0;
    }

    /// <summary>Appends 16 kHz samples, judges every complete frame, opens, cuts and closes segments.</summary>
    void Segment(ReadOnlySpan<float> pcm)
    {
        Compact();
        pcm.CopyTo(_audio.AsSpan(_audioCount));
        _audioCount += pcm.Length;
        while ((_frame + 1) * Hop <= _audioStart + _audioCount)
        {
            long f = _frame;
            float e = SpeechDetector.EnergyDb(_audio.AsSpan((int)(f * Hop - _audioStart), Hop));
            _energy[(int)(f - _audioStart / Hop)] = e;
            bool speech = _detector.IsSpeech(e, _open);
            _frame++;
            if (!_open)
            {
                if (!speech) continue;
                _open = true;
                _segStart = Math.Max(Math.Max(f - MarginFrames, _previousEnd), _audioStart / Hop);
                _firstSpeech = _lastSpeech = f;
                _lastPartial = _segStart;
                _silenceRun = 0;
                continue;
            }
            if (speech)
            {
                _lastSpeech = f;
                _silenceRun = 0;
            }
            else
            {
                _silenceRun++;
            }
            if (_silenceRun >= _minSilenceFrames)
            {
                Close(Math.Min(_lastSpeech + 1 + MarginFrames, _frame));
            }
            else if (_frame - _segStart >= _maxSegmentFrames)
            {
                // Cut at the quietest frame of the last 30% (the latest one on ties): speech goes on in a new segment.
                long from = _segStart + (long)(CutSearchFraction * _maxSegmentFrames), cut = from;
                float quietest = float.PositiveInfinity;
                for (long g = from; g < _frame; g++)
                {
                    float eg = _energy[(int)(g - _audioStart / Hop)];
                    if (eg <= quietest) (quietest, cut) = (eg, g);
                }
                cut = Math.Max(cut, _segStart + 1);
                Emit(_segStart, cut, cut - Math.Max(_firstSpeech, _segStart), final: true);
                _segStart = _firstSpeech = _lastPartial = cut;
                if (_lastSpeech < cut) _lastSpeech = cut;
            }
            else if (_partialFrames > 0 && _frame - _lastPartial >= _partialFrames)
            {
                Emit(_segStart, _frame, _frame - _firstSpeech, final: false);
                _lastPartial = _frame;
            }
        }
    }

    void Close(long endFrame)
    {
        _open = false;
        _previousEnd = endFrame;
        Emit(_segStart, endFrame, _lastSpeech + 1 - _firstSpeech, final: true);
    }

    /// <summary>Classifies frames [start, end) of the held audio as one utterance and queues the result.</summary>
    void Emit(long start, long end, long speechFrames, bool final)
    {
        if (final && speechFrames < Math.Max(1, _minSegmentFrames)) return;
        long first = start * Hop, last = Math.Min(end * Hop, _audioStart + _audioCount);
        var pcm = _audio.AsSpan((int)(first - _audioStart), (int)(last - first));
        int frames = FrontEnd.FrameCount(pcm.Length);
        var x = _features.AsSpan(0, frames * _recognizer.Config.Bins);   // [T, F]
        FrontEnd.Compute(pcm, x, 1);
        int k = _recognizer.Labels.Count;
        var p = _posterior.AsSpan(0, k);
        _recognizer.SpectrogramPosterior(x, frames, p);
        int label = 0;
        for (int j = 1; j < k; j++)
            if (p[j] > p[label]) label = j;
        if (_readyCount == _ready.Length)
        {
            var grown = new EmotionSegment[2 * _ready.Length];
            for (int i = 0; i < _readyCount; i++) grown[i] = _ready[(_readyHead + i) % _ready.Length];
            _ready = grown;
            _readyHead = 0;
        }
        _ready[(_readyHead + _readyCount) % _ready.Length] =
            new EmotionSegment(first / (double)FrontEnd.SampleRate, last / (double)FrontEnd.SampleRate, label, final, p);
        _readyCount++;
    }

    /// <summary>Drops held audio no segment can need any more (before the open segment, or all but the margin).</summary>
    void Compact()
    {
        long keepFrame = _open ? _segStart : Math.Max(_frame - MarginFrames, 0);
        long keep = Math.Min(keepFrame * Hop, _audioStart + _audioCount) - _audioStart;
        keep -= keep % Hop;
        if (keep <= 0) return;
        int drop = (int)keep;
        _audio.AsSpan(drop, _audioCount - drop).CopyTo(_audio);
        int dropFrames = drop / Hop, heldFrames = (int)(_frame - _audioStart / Hop);
        if (heldFrames > dropFrames) _energy.AsSpan(dropFrames, heldFrames - dropFrames).CopyTo(_energy);
        _audioStart += drop;
        _audioCount -= drop;
    }

    public void Dispose() => _disposed = true;
}
