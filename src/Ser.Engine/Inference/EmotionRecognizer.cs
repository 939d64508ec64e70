using System.Collections.Concurrent;
using System.Numerics.Tensors;
using Ser.Engine.Audio;
using Ser.Engine.Checkpoints;
using Ser.Engine.Experiments;
using Ser.Engine.Features;
using Ser.Engine.Models;
using Ser.Engine.Training;

namespace Ser.Engine.Inference;

/// <summary>An utterance's recognised emotion.</summary>
/// <param name="Label">The most probable class.</param>
/// <param name="Probabilities">Posterior of every class, by class name, in the model's class order.</param>
/// <param name="Seconds">Duration of the audio the model heard (after resampling to 16 kHz).</param>
public sealed record EmotionPrediction(string Label, IReadOnlyDictionary<string, float> Probabilities, double Seconds)
{
    public float Confidence => Probabilities[Label];
}

/// <summary>How an <see cref="EmotionRecognizer"/> runs.</summary>
public sealed record EmotionRecognizerOptions
{
    /// <summary>Most predictions running at once (each on its own inference executor; more callers wait). 0 = cores.</summary>
    public int MaxConcurrency { get; init; }
    /// <summary>CPU threads of each executor (1 suits many parallel calls; 0 = all cores suits one long file).</summary>
    public int ThreadsPerPrediction { get; init; } = 1;
    public string Device { get; init; } = "cpu";
}

/// <summary>
/// Emotion recognition from a trained checkpoint, for applications: load once, predict many.
/// <code>
/// using var recognizer = EmotionRecognizer.Load("runs/latest/model.ser");
/// var p = recognizer.PredictFile("hello.wav");      // any WAV: rate and channels are converted
/// Console.WriteLine($"{p.Label} {p.Confidence:P0}");
/// var q = recognizer.Predict(samples, 44100);       // mono PCM in [-1, 1] at its own rate
/// </code>
/// The audio goes through the same front end as training (16 kHz, 40 ms Hamming, 10 ms hop, 0-4 kHz dB spectrum),
/// normalised with the checkpoint's training statistics. A variable-length model hears the whole utterance with no
/// padding; a fixed-length model (checkpoint metadata length_mode = fixed) hears 3 s pieces and averages their
/// posteriors, as it was trained and evaluated.
/// <para>Thread safety: every method may be called from many threads at once. Each call rents an inference executor from
/// a pool (created on demand, at most <see cref="EmotionRecognizerOptions.MaxConcurrency"/>; an executor runs one call at
/// a time) and returns it afterwards, so results do not depend on concurrency. Dispose when no call is running.</para>
/// </summary>
public sealed class EmotionRecognizer : IDisposable
{
    readonly Checkpoint _checkpoint;
    readonly EmotionRecognizerOptions _options;
    readonly ConcurrentBag<Executor> _idle = [];
    readonly List<Executor> _all = [];
    readonly SemaphoreSlim _slots;
    readonly int _pieceFrames;
    volatile bool _disposed;

    EmotionRecognizer(Checkpoint checkpoint, EmotionRecognizerOptions options)
    {
        _checkpoint = checkpoint;
        Temperature = checkpoint.Temperature;   // parsed once, not on every prediction
        _options = options;
        int concurrency = options.MaxConcurrency > 0 ? options.MaxConcurrency : Environment.ProcessorCount;
        _slots = new SemaphoreSlim(concurrency, concurrency);
        string mode = checkpoint.Metadata.GetValueOrDefault("length_mode") ?? "variable";
        Mode = TrainingSettings.ParseModeOrNull(mode)
               ?? throw new SerException($"{checkpoint.Path}: unknown length_mode '{mode}' (expected variable or fixed)");
        _pieceFrames = FixedLengthPieces.Frames;
        if (checkpoint.Metadata.TryGetValue("piece_frames", out var pf) && !(int.TryParse(pf, out _pieceFrames) && _pieceFrames > 0))
            throw new SerException($"{checkpoint.Path}: piece_frames '{pf}' is not a positive frame count");
        Split = FixedSplit.Pieces;   // checkpoints from before the equal split was added
        if (checkpoint.Metadata.TryGetValue(FixedLengthPieces.SplitKey, out var split))
        {
            try { Split = TrainingSettings.ParseSplit(split); }
            catch (SerException) { throw new SerException($"{checkpoint.Path}: {FixedLengthPieces.SplitKey} '{split}' is not pieces or equal"); }
        }
        // Build one executor now, so a device or model problem shows up at load time rather than on the first call.
        _idle.Add(CreateExecutor());
    }

    /// <summary>Loads and checks a checkpoint (a one-line <see cref="SerException"/> if it is missing, corrupt or not a model).</summary>
    public static EmotionRecognizer Load(string checkpointPath, EmotionRecognizerOptions? options = null)
    {
        if (!File.Exists(checkpointPath)) throw new SerException($"{checkpointPath}: model file not found");
        return new EmotionRecognizer(Checkpoint.Load(checkpointPath), options ?? new EmotionRecognizerOptions());
    }

    /// <summary>Class names in the model's output order.</summary>
    public IReadOnlyList<string> Labels => _checkpoint.Labels;
    public ModelConfig Config => _checkpoint.Config;
    public LengthMode Mode { get; }
    /// <summary>How a fixed-length model cuts an utterance (as it was trained and evaluated).</summary>
    public FixedSplit Split { get; }
    /// <summary>The checkpoint's training metadata (corpus, fold, preset, ...).</summary>
    public IReadOnlyDictionary<string, string> Metadata => _checkpoint.Metadata;
    /// <summary>Softmax temperature applied to every posterior (the checkpoint's; 1 = uncalibrated).</summary>
    public float Temperature { get; }
    /// <summary>Per-bin training statistics the features are normalised with.</summary>
    public FeatureStats Stats => _checkpoint.Stats;
    /// <summary>One-line notes about the checkpoint worth telling the user (e.g. an old format); see <see cref="Checkpoint.Notices"/>.</summary>
    public IReadOnlyList<string> Notices => _checkpoint.Notices;

    /// <summary>Reads a WAV file (PCM 8/16/24/32-bit or float, any rate and channel count) and recognises it.</summary>
    public EmotionPrediction PredictFile(string wavPath) => Predict(WavReader.ReadMono(wavPath, FrontEnd.SampleRate), FrontEnd.SampleRate);

    /// <summary>Recognises mono PCM samples in [-1, 1] at <paramref name="sampleRate"/> Hz (resampled to 16 kHz if needed).</summary>
    public EmotionPrediction Predict(ReadOnlySpan<float> samples, int sampleRate)
    {
        var posterior = new float[Labels.Count];
        double seconds = Posterior(samples, sampleRate, posterior);
        return Result(posterior, seconds);
    }

    /// <summary>
    /// <see cref="Predict"/> into the caller's buffer (posterior[k] in <see cref="Labels"/> order); returns the seconds
    /// heard. The C ABI's ser_classify is this call.
    /// </summary>
    internal double Posterior(ReadOnlySpan<float> samples, int sampleRate, Span<float> posterior)
    {
        var pcm = ToModelRate(samples, sampleRate, FrontEndParallelism);
        int frames = FrontEnd.FrameCount(pcm.Length);
        var features = new float[frames * Config.Bins];           // [T, F] raw dB, normalised in place below
        FrontEnd.Compute(pcm, features, FrontEndParallelism);
        SpectrogramPosterior(features, frames, posterior);
        return pcm.Length / (double)FrontEnd.SampleRate;
    }

    /// <summary>The front end runs on as many threads as one prediction may use (results do not depend on it).</summary>
    internal int FrontEndParallelism => _options.ThreadsPerPrediction > 0 ? _options.ThreadsPerPrediction : -1;

    /// <summary>Recognises a front-end spectrogram: raw dB [T, F] as <see cref="FrontEnd.Compute(ReadOnlySpan{float})"/> makes it.</summary>
    public EmotionPrediction PredictSpectrogram(ReadOnlySpan<float> rawDb, int frames, double seconds = double.NaN)
    {
        int bins = Config.Bins, k = Labels.Count;
        if (frames < 1 || rawDb.Length != frames * bins)
            throw new SerException($"a spectrogram of {frames} frames x {bins} bins needs {frames * bins} values, got {rawDb.Length}");
        var posterior = new float[k];
        SpectrogramPosterior(rawDb.ToArray(), frames, posterior);
        return Result(posterior, double.IsNaN(seconds) ? frames / 100.0 : seconds);
    }

    /// <summary>
    /// Class posteriors (temperature applied) of one utterance from its raw dB spectrogram [T, F], which is normalised in
    /// place: the caller's scratch, so that a stream classifies with no allocation. Every door ends here.
    /// </summary>
    internal void SpectrogramPosterior(Span<float> rawDb, int frames, Span<float> posterior)
    {
        int bins = Config.Bins, k = Labels.Count;
        if (frames < 1 || rawDb.Length < frames * bins)
            throw new SerException($"a spectrogram of {frames} frames x {bins} bins needs {frames * bins} values, got {rawDb.Length}");
        if (posterior.Length < k) throw new ArgumentException($"posterior must hold {k} values", nameof(posterior));
        posterior = posterior[..k];
        var executor = Rent();
        try
        {
            if (Mode == LengthMode.Variable)
            {
                var x = rawDb[..(frames * bins)];                 // [T, F]
                Stats.Normalize(x);
                executor.Predict(x, frames, posterior);
                Calibration.ApplyTemperature(posterior, Temperature);
            }
            else
            {
                var pieces = FixedLengthPieces.Split(0, frames, _pieceFrames, Split);
                var x = new float[_pieceFrames * bins];           // [P, F]
                var p = new float[pieces.Length * k];             // [pieces, K]
                for (int i = 0; i < pieces.Length; i++)
                {
                    FixedLengthPieces.Fill(rawDb, bins, pieces[i], Stats, x, _pieceFrames);
                    executor.Predict(x, _pieceFrames, p.AsSpan(i * k, k));
                    Calibration.ApplyTemperature(p.AsSpan(i * k, k), Temperature);
                }
                FixedLengthPieces.AveragePosteriors(p, new int[pieces.Length], 1, k).CopyTo(posterior);
            }
        }
        finally
        {
            Return(executor);
        }
    }

    /// <summary>
    /// The BiLSTM's hidden states over time for one utterance, run whole and alone (also for fixed-length models, whose
    /// recurrence accepts any length), for pictures like the paper's Figures 3 and 4.
    /// </summary>
    public BiLstmActivations Activations(ReadOnlySpan<float> samples, int sampleRate)
    {
        var pcm = ToModelRate(samples, sampleRate, FrontEndParallelism);
        int frames = FrontEnd.FrameCount(pcm.Length);
        var x = FrontEnd.Compute(pcm);
        Stats.Normalize(x);
        var executor = Rent();
        try
        {
            return BiLstmTrace.Run(executor, x, frames);
        }
        finally
        {
            Return(executor);
        }
    }

    EmotionPrediction Result(float[] posterior, double seconds)
    {
        var byLabel = new Dictionary<string, float>();
        for (int j = 0; j < posterior.Length; j++) byLabel[Labels[j]] = posterior[j];
        return new EmotionPrediction(Labels[TensorPrimitives.IndexOfMax<float>(posterior)], byLabel, seconds);
    }

    static float[] ToModelRate(ReadOnlySpan<float> samples, int sampleRate, int parallelism)
    {
        if (sampleRate < WavReader.MinSampleRate || sampleRate > WavReader.MaxSampleRate)
            throw new SerException($"sample rate {sampleRate} Hz is outside {WavReader.MinSampleRate}..{WavReader.MaxSampleRate}");
        if (samples.IsEmpty) throw new SerException("no audio samples");
        return sampleRate == FrontEnd.SampleRate ? samples.ToArray() : Resampler.Resample(samples, sampleRate, FrontEnd.SampleRate, parallelism);
    }

    Executor CreateExecutor()
    {
        var executor = _checkpoint.CreateExecutor(new ExecutorOptions
        {
            Training = false,
            MaxBatch = 1,
            MaxFrames = Mode == LengthMode.Fixed ? _pieceFrames : 1000,   // grows for longer utterances
            Threads = _options.ThreadsPerPrediction,
            Device = _options.Device,
        });
        lock (_all) _all.Add(executor);
        return executor;
    }

    Executor Rent()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _slots.Wait();
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _idle.TryTake(out var e) ? e : CreateExecutor();
        }
        catch
        {
            _slots.Release();
            throw;
        }
    }

    void Return(Executor executor)
    {
        _idle.Add(executor);
        _slots.Release();
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        lock (_all)
        {
            foreach (var e in _all) e.Dispose();
            _all.Clear();
        }
        _slots.Dispose();
    }
}
