using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Ser.Engine;
using Ser.Engine.Inference;

namespace Ser.Abi;

/// <summary>ser.h's ser_status.</summary>
public enum SerStatus
{
    Ok = 0,
    Argument = 1,
    IO = 2,
    Format = 3,
    BufferTooSmall = 4,
    Device = 5,
    State = 6,
    Internal = 7,
}

/// <summary>ser.h's ser_stream_params (blittable, same layout).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct SerStreamParams
{
    public int SampleRate;
    public float MinSilenceSeconds;
    public float MinSegmentSeconds;
    public float MaxSegmentSeconds;
    public float PartialEverySeconds;
}

/// <summary>ser.h's ser_model_params.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct SerModelParams
{
    public int ThreadsPerCall;
    public int MaxConcurrency;
}

/// <summary>
/// The C ABI of ser.h: marshalling and error mapping over <see cref="EmotionRecognizer"/> and <see cref="EmotionStream"/>,
/// nothing else (no model code lives here). Every entry point catches everything: a managed exception never crosses
/// into C; it becomes a <see cref="SerStatus"/> and this thread's <see cref="ser_last_error"/> message.
/// Handles are GCHandles of <see cref="NativeModel"/> / <see cref="NativeStream"/> objects.
/// </summary>
public static unsafe class Exports
{
    public const int AbiVersion = 1;
    public const int MaxClasses = EmotionSegment.MaxClasses;
    public const string Version = "0.1.0";

    // This thread's last failure message (native UTF-8, NUL-terminated), freed at the thread's next ser_* call.
    [ThreadStatic] static byte* t_lastError;

    [UnmanagedCallersOnly(EntryPoint = "ser_abi_version")]
    public static int ser_abi_version() => AbiVersion;

    [UnmanagedCallersOnly(EntryPoint = "ser_version")]
    public static byte* ser_version() => Utf8Literal("ser 0.1.0 (abi 1)"u8);

    [UnmanagedCallersOnly(EntryPoint = "ser_last_error")]
    public static byte* ser_last_error() => t_lastError is null ? Utf8Literal(""u8) : t_lastError;

    [UnmanagedCallersOnly(EntryPoint = "ser_model_default_params")]
    public static SerModelParams ser_model_default_params() => DefaultModelParams;

    [UnmanagedCallersOnly(EntryPoint = "ser_model_load")]
    public static SerStatus ser_model_load(byte* path, nint* output)
    {
        Enter(output);
        try { return LoadCore(path, null, output); }
        catch (Exception e) { return Map(e, output); }
    }

    [UnmanagedCallersOnly(EntryPoint = "ser_model_load_ex")]
    public static SerStatus ser_model_load_ex(byte* path, SerModelParams* parameters, nint* output)
    {
        Enter(output);
        try { return LoadCore(path, parameters, output); }
        catch (Exception e) { return Map(e, output); }
    }

    [UnmanagedCallersOnly(EntryPoint = "ser_model_load_from_memory")]
    public static SerStatus ser_model_load_from_memory(void* data, nuint size, nint* output)
    {
        Enter(output);
        try { return LoadFromMemoryCore(data, size, output); }
        catch (Exception e) { return Map(e, output); }
    }

    static SerStatus LoadFromMemoryCore(void* data, nuint size, nint* output)
    {
        if (output is null) return Fail(SerStatus.Argument, "out is NULL");
        if (data is null) return Fail(SerStatus.Argument, "data is NULL");
        if (size == 0) return Fail(SerStatus.Argument, "size is 0 (no model bytes)");
        // The checkpoint reader works on files; a private temporary copy keeps one reader (and one set of checks).
        string temp = Path.Combine(Path.GetTempPath(), $"libser-{Environment.ProcessId}-{Guid.NewGuid():N}.ser");
        try
        {
            using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                var bytes = new ReadOnlySpan<byte>(data, checked((int)size));
                file.Write(bytes);
            }
            return Open(temp, "<memory>", DefaultModelParams, output);
        }
        finally
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "ser_model_free")]
    public static void ser_model_free(nint model)
    {
        ClearError();
        try
        {
            if (model == 0) return;
            NativeModel.From(model, allowFreed: true).Free();
        }
        catch (Exception e)
        {
            Map(e, SerStatus.Internal);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "ser_model_class_count")]
    public static int ser_model_class_count(nint model)
    {
        ClearError();
        if (model == 0)
        {
            Fail(SerStatus.Argument, "model is NULL");
            return -1;
        }
        try
        {
            return NativeModel.From(model, allowFreed: true).ClassCount;
        }
        catch (Exception e)
        {
            Map(e, SerStatus.Internal);
            return -1;
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "ser_model_class_name")]
    public static byte* ser_model_class_name(nint model, int index)
    {
        ClearError();
        if (model == 0)
        {
            Fail(SerStatus.Argument, "model is NULL");
            return null;
        }
        try
        {
            var m = NativeModel.From(model, allowFreed: true);
            if (index < 0 || index >= m.ClassCount)
            {
                Fail(SerStatus.Argument, $"class index {index} is outside 0..{m.ClassCount - 1}");
                return null;
            }
            return m.ClassName(index);
        }
        catch (Exception e)
        {
            Map(e, SerStatus.Internal);
            return null;
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "ser_model_metadata")]
    public static byte* ser_model_metadata(nint model, byte* key)
    {
        ClearError();
        if (model == 0)
        {
            Fail(SerStatus.Argument, "model is NULL");
            return null;
        }
        if (key is null)
        {
            Fail(SerStatus.Argument, "key is NULL");
            return null;
        }
        try
        {
            string name = Marshal.PtrToStringUTF8((nint)key) ?? "";
            var value = NativeModel.From(model).Metadata(name);
            if (value is null) Fail(SerStatus.Argument, $"the model has no metadata '{name}'");
            return value;
        }
        catch (Exception e)
        {
            Map(e, SerStatus.Internal);
            return null;
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "ser_classify")]
    public static SerStatus ser_classify(nint model, float* pcm, nuint samples, int sampleRate, float* probs, nuint probsLength)
    {
        Enter(null);
        try { return ClassifyCore(model, pcm, samples, sampleRate, probs, probsLength); }
        catch (Exception e) { return Map(e, null); }
    }

    static SerStatus ClassifyCore(nint model, float* pcm, nuint samples, int sampleRate, float* probs, nuint probsLength)
    {
        if (model == 0) return Fail(SerStatus.Argument, "model is NULL");
        if (pcm is null) return Fail(SerStatus.Argument, "pcm is NULL");
        if (probs is null) return Fail(SerStatus.Argument, "probs is NULL");
        var m = NativeModel.From(model);
        if (probsLength < (nuint)m.ClassCount)
            return Fail(SerStatus.BufferTooSmall, $"probs holds {probsLength} values, the model has {m.ClassCount} classes");
        if (CheckSamples(pcm, samples) is { } bad) return bad;
        if (sampleRate < EmotionStreamOptions.MinSampleRate || sampleRate > EmotionStreamOptions.MaxSampleRate)
            return Fail(SerStatus.Argument, $"sample rate {sampleRate} Hz is outside {EmotionStreamOptions.MinSampleRate}..{EmotionStreamOptions.MaxSampleRate}");
        m.Recognizer.Posterior(new ReadOnlySpan<float>(pcm, (int)samples), sampleRate, new Span<float>(probs, m.ClassCount));
        return SerStatus.Ok;
    }

    [UnmanagedCallersOnly(EntryPoint = "ser_stream_default_params")]
    public static SerStreamParams ser_stream_default_params() => DefaultStreamParams;

    [UnmanagedCallersOnly(EntryPoint = "ser_stream_create")]
    public static SerStatus ser_stream_create(nint model, SerStreamParams* parameters, nint* output)
    {
        Enter(output);
        try { return StreamCreateCore(model, parameters, output); }
        catch (Exception e) { return Map(e, output); }
    }

    static SerStatus StreamCreateCore(nint model, SerStreamParams* parameters, nint* output)
    {
        if (output is null) return Fail(SerStatus.Argument, "out is NULL");
        if (model == 0) return Fail(SerStatus.Argument, "model is NULL");
        var p = parameters is null ? DefaultStreamParams : *parameters;
        var options = new EmotionStreamOptions
        {
            SampleRate = p.SampleRate,
            MinSilenceSeconds = p.MinSilenceSeconds,
            MinSegmentSeconds = p.MinSegmentSeconds,
            MaxSegmentSeconds = p.MaxSegmentSeconds,
            PartialEverySeconds = p.PartialEverySeconds,
        };
        var m = NativeModel.From(model);
        *output = NativeStream.Create(m, options);
        return SerStatus.Ok;
    }

    [UnmanagedCallersOnly(EntryPoint = "ser_stream_push")]
    public static SerStatus ser_stream_push(nint stream, float* pcm, nuint samples)
    {
        Enter(null);
        try { return StreamPushCore(stream, pcm, samples); }
        catch (Exception e) { return Map(e, null); }
    }

    static SerStatus StreamPushCore(nint stream, float* pcm, nuint samples)
    {
        if (stream == 0) return Fail(SerStatus.Argument, "stream is NULL");
        if (pcm is null) return Fail(SerStatus.Argument, "pcm is NULL");
        if (CheckSamples(pcm, samples) is { } bad) return bad;
        NativeStream.From(stream).Stream.Push(new ReadOnlySpan<float>(pcm, (int)samples));
        return SerStatus.Ok;
    }

    [UnmanagedCallersOnly(EntryPoint = "ser_stream_poll")]
    public static SerStatus ser_stream_poll(nint stream, EmotionSegment* segments, nuint capacity, nuint* count)
    {
        Enter(null);
        try { return StreamPollCore(stream, segments, capacity, count); }
        catch (Exception e) { return Map(e, null); }
    }

    static SerStatus StreamPollCore(nint stream, EmotionSegment* segments, nuint capacity, nuint* count)
    {
        if (count is not null) *count = 0;
        if (stream == 0) return Fail(SerStatus.Argument, "stream is NULL");
        if (count is null) return Fail(SerStatus.Argument, "count is NULL");
        if (segments is null && capacity > 0) return Fail(SerStatus.Argument, "segments is NULL but capacity > 0");
        int cap = (int)Math.Min(capacity, (nuint)int.MaxValue);
        *count = (nuint)NativeStream.From(stream).Stream.Poll(new Span<EmotionSegment>(segments, cap));
        return SerStatus.Ok;
    }

    [UnmanagedCallersOnly(EntryPoint = "ser_stream_flush")]
    public static SerStatus ser_stream_flush(nint stream)
    {
        Enter(null);
        try { return StreamFlushCore(stream); }
        catch (Exception e) { return Map(e, null); }
    }

    static SerStatus StreamFlushCore(nint stream)
    {
        if (stream == 0) return Fail(SerStatus.Argument, "stream is NULL");
        NativeStream.From(stream).Stream.Flush();
        return SerStatus.Ok;
    }

    [UnmanagedCallersOnly(EntryPoint = "ser_stream_free")]
    public static void ser_stream_free(nint stream)
    {
        ClearError();
        try
        {
            if (stream != 0) NativeStream.From(stream).Free();
        }
        catch (Exception e)
        {
            Map(e, SerStatus.Internal);
        }
    }

    static SerModelParams DefaultModelParams => new() { ThreadsPerCall = 1, MaxConcurrency = 0 };

    static SerStreamParams DefaultStreamParams
    {
        get
        {
            var d = new EmotionStreamOptions();
            return new SerStreamParams
            {
                SampleRate = d.SampleRate,
                MinSilenceSeconds = (float)d.MinSilenceSeconds,
                MinSegmentSeconds = (float)d.MinSegmentSeconds,
                MaxSegmentSeconds = (float)d.MaxSegmentSeconds,
                PartialEverySeconds = (float)d.PartialEverySeconds,
            };
        }
    }

    static SerStatus LoadCore(byte* path, SerModelParams* parameters, nint* output)
    {
        if (output is null) return Fail(SerStatus.Argument, "out is NULL");
        if (path is null) return Fail(SerStatus.Argument, "path is NULL");
        string file = Marshal.PtrToStringUTF8((nint)path) ?? "";
        if (file.Length == 0) return Fail(SerStatus.Argument, "path is empty");
        if (Directory.Exists(file)) return Fail(SerStatus.IO, $"{file}: is a directory, not a model file");
        if (!File.Exists(file)) return Fail(SerStatus.IO, $"{file}: model file not found");
        return Open(file, file, parameters is null ? DefaultModelParams : *parameters, output);
    }

    static SerStatus Open(string file, string name, SerModelParams p, nint* output)
    {
        if (p.ThreadsPerCall < 0) return Fail(SerStatus.Argument, $"threads_per_call must be >= 0 (got {p.ThreadsPerCall})");
        if (p.MaxConcurrency < 0) return Fail(SerStatus.Argument, $"max_concurrency must be >= 0 (got {p.MaxConcurrency})");
        EmotionRecognizer recognizer;
        try
        {
            recognizer = EmotionRecognizer.Load(file, new EmotionRecognizerOptions
            {
                ThreadsPerPrediction = p.ThreadsPerCall,
                MaxConcurrency = p.MaxConcurrency,
            });
        }
        catch (SerException e)
        {
            return Fail(SerStatus.Format, name == file ? e.Message : e.Message.Replace(file, name, StringComparison.Ordinal));
        }
        if (recognizer.Labels.Count > MaxClasses)
        {
            recognizer.Dispose();
            return Fail(SerStatus.Format, $"{name}: the model has {recognizer.Labels.Count} classes, ser.h allows at most {MaxClasses}");
        }
        *output = NativeModel.Create(recognizer);
        return SerStatus.Ok;
    }

    static SerStatus? CheckSamples(float* pcm, nuint samples)
    {
        if (samples == 0) return Fail(SerStatus.Argument, "no samples (samples = 0)");
        if (samples > int.MaxValue) return Fail(SerStatus.Argument, $"{samples} samples in one call; at most {int.MaxValue}");
        var span = new ReadOnlySpan<float>(pcm, (int)samples);
        for (int i = 0; i < span.Length; i++)
            if (!float.IsFinite(span[i])) return Fail(SerStatus.Argument, $"sample {i} is {span[i]} (NaN or infinity)");
        return null;
    }

    /// <summary>Start of every fallible entry point: clears this thread's error and the out handle (NULL on failure).</summary>
    static void Enter(nint* output)
    {
        ClearError();
        if (output is not null) *output = 0;
    }

    static SerStatus Map(Exception e, nint* output)
    {
        if (output is not null) *output = 0;
        return Map(e, SerStatus.Internal);
    }

    internal static SerStatus Map(Exception e, SerStatus fallback)
    {
        var status = e switch
        {
            ArgumentException => SerStatus.Argument,
            FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException or IOException => SerStatus.IO,
            ObjectDisposedException or InvalidOperationException => SerStatus.State,
            Ser.Native.NativeException => SerStatus.Device,
            SerException when e.Message.Contains("out of memory", StringComparison.OrdinalIgnoreCase) => SerStatus.Device,
            SerException => SerStatus.Format,
            _ => fallback,
        };
        string message = e.Message.ReplaceLineEndings(" ").Trim();
        return Fail(status, status == SerStatus.Internal ? $"internal error ({e.GetType().Name}): {message}" : message);
    }

    internal static SerStatus Fail(SerStatus status, string message)
    {
        ClearError();
        int bytes = Encoding.UTF8.GetByteCount(message);
        var p = (byte*)NativeMemory.Alloc((nuint)bytes + 1);
        Encoding.UTF8.GetBytes(message, new Span<byte>(p, bytes));
        p[bytes] = 0;
        t_lastError = p;
        return status;
    }

    static void ClearError()
    {
        if (t_lastError is null) return;
        NativeMemory.Free(t_lastError);
        t_lastError = null;
    }

    /// <summary>A u8 literal lives in the image's read-only data, NUL-terminated, for the life of the process.</summary>
    static byte* Utf8Literal(ReadOnlySpan<byte> literal) => (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(literal));
}

/// <summary>A loaded model behind a ser_model*: the recognizer, its class names as native strings, and its open streams.</summary>
internal sealed unsafe class NativeModel
{
    readonly object _lock = new();
    readonly byte*[] _names;
    GCHandle _self;
    int _streams;
    bool _freed, _released;

    NativeModel(EmotionRecognizer recognizer)
    {
        Recognizer = recognizer;
        _names = new byte*[recognizer.Labels.Count];
        for (int i = 0; i < _names.Length; i++) _names[i] = NativeUtf8(recognizer.Labels[i]);
    }

    public EmotionRecognizer Recognizer { get; }
    public int ClassCount => _names.Length;
    public byte* ClassName(int index) => _names[index];

    /// <summary>A metadata value as a native string owned by the model (made on first request, freed with the model);
    /// null when the checkpoint has no such key.</summary>
    public byte* Metadata(string key)
    {
        lock (_lock)
        {
            if (_metadata.TryGetValue(key, out nint cached)) return (byte*)cached;
            if (!Recognizer.Metadata.TryGetValue(key, out var value)) return null;
            var p = NativeUtf8(value);
            _metadata[key] = (nint)p;
            return p;
        }
    }

    readonly Dictionary<string, nint> _metadata = new(StringComparer.Ordinal);

    static byte* NativeUtf8(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var p = (byte*)NativeMemory.Alloc((nuint)bytes.Length + 1);
        bytes.CopyTo(new Span<byte>(p, bytes.Length));
        p[bytes.Length] = 0;
        return p;
    }

    public static nint Create(EmotionRecognizer recognizer)
    {
        var model = new NativeModel(recognizer);
        model._self = GCHandle.Alloc(model);
        return GCHandle.ToIntPtr(model._self);
    }

    public static NativeModel From(nint handle, bool allowFreed = false)
    {
        var model = GCHandle.FromIntPtr(handle).Target as NativeModel
                    ?? throw new ArgumentException("not a ser_model handle");
        if (!allowFreed && model._freed)
            throw new InvalidOperationException("the model was freed (ser_model_free); its open streams keep it alive, new use is refused");
        return model;
    }

    public void AddStream()
    {
        lock (_lock)
        {
            if (_freed) throw new InvalidOperationException("the model was freed (ser_model_free)");
            _streams++;
        }
    }

    public void RemoveStream()
    {
        lock (_lock)
        {
            _streams--;
            ReleaseIfUnused();
        }
    }

    public void Free()
    {
        lock (_lock)
        {
            if (_freed) throw new InvalidOperationException("the model was already freed");
            _freed = true;
            ReleaseIfUnused();
        }
    }

    void ReleaseIfUnused()
    {
        if (!_freed || _streams > 0 || _released) return;
        _released = true;
        Recognizer.Dispose();
        foreach (var p in _names) NativeMemory.Free(p);
        foreach (var p in _metadata.Values) NativeMemory.Free((void*)p);
        _self.Free();
    }
}

/// <summary>A stream behind a ser_stream*: the <see cref="EmotionStream"/> and the model it keeps alive.</summary>
internal sealed class NativeStream
{
    GCHandle _self;
    bool _freed;

    NativeStream(NativeModel model, EmotionStream stream)
    {
        Model = model;
        Stream = stream;
    }

    public NativeModel Model { get; }
    public EmotionStream Stream { get; }

    public static nint Create(NativeModel model, EmotionStreamOptions options)
    {
        var stream = new EmotionStream(model.Recognizer, options);   // validates options first
        model.AddStream();
        var s = new NativeStream(model, stream);
        s._self = GCHandle.Alloc(s);
        return GCHandle.ToIntPtr(s._self);
    }

    public static NativeStream From(nint handle) =>
        GCHandle.FromIntPtr(handle).Target as NativeStream ?? throw new ArgumentException("not a ser_stream handle");

    public void Free()
    {
        if (_freed) return;
        _freed = true;
        Stream.Dispose();
        _self.Free();
        Model.RemoveStream();
    }
}
