namespace Ser.Native;

// SafeHandles for cuDNN objects. Descriptors are plain host objects (no context needed to free them);
// the cuDNN handle is tied to the context it was created in.

/// <summary>A cudnnHandle_t bound to a stream.</summary>
public sealed class CudnnHandle : NativeHandle
{
    readonly nint _context;

    CudnnHandle(nint h, nint context) : base(h) => _context = context;

    public static unsafe CudnnHandle Create(CudaStream? stream = null)
    {
        nint h;
        Cudnn.Check(CudnnNative.cudnnCreate(&h));
        var handle = new CudnnHandle(h, CudaContextScope.Current());
        if (stream is not null)
        {
            try { Cudnn.Check(CudnnNative.cudnnSetStream(h, stream.Value)); }
            catch { handle.Dispose(); throw; }
        }
        return handle;
    }

    protected override bool ReleaseHandle()
    {
        using var scope = new CudaContextScope(_context);
        return CudnnNative.cudnnDestroy(handle) == CudnnStatus.Success;
    }
}

/// <summary>A cudnnTensorDescriptor_t.</summary>
public sealed class CudnnTensorDescriptor : NativeHandle
{
    CudnnTensorDescriptor(nint d) : base(d) { }

    public static unsafe CudnnTensorDescriptor Create()
    {
        nint d;
        Cudnn.Check(CudnnNative.cudnnCreateTensorDescriptor(&d));
        return new CudnnTensorDescriptor(d);
    }

    /// <summary>A packed NCHW float tensor.</summary>
    public static CudnnTensorDescriptor Create4d(int n, int c, int h, int w, CudnnDataType type = CudnnDataType.Float)
    {
        var d = Create();
        try { Cudnn.Check(CudnnNative.cudnnSetTensor4dDescriptor(d.Value, CudnnTensorFormat.Nchw, type, n, c, h, w)); }
        catch { d.Dispose(); throw; }
        return d;
    }

    /// <summary>An N-d tensor with explicit strides (cuDNN wants at least 3 dimensions here).</summary>
    public static unsafe CudnnTensorDescriptor CreateNd(ReadOnlySpan<int> dims, ReadOnlySpan<int> strides, CudnnDataType type = CudnnDataType.Float)
    {
        if (dims.Length != strides.Length)
            throw new ArgumentException("dims and strides differ in length");
        var d = Create();
        try
        {
            fixed (int* pd = dims)
            fixed (int* ps = strides)
                Cudnn.Check(CudnnNative.cudnnSetTensorNdDescriptor(d.Value, type, dims.Length, pd, ps));
        }
        catch { d.Dispose(); throw; }
        return d;
    }

    /// <summary>The dimensions cuDNN holds for this descriptor (e.g. the shape of an RNN weight matrix it filled in).</summary>
    public unsafe int[] Dimensions()
    {
        const int max = 8;  // CUDNN_DIM_MAX
        int* dims = stackalloc int[max];
        int* strides = stackalloc int[max];
        int count;
        CudnnDataType type;
        Cudnn.Check(CudnnNative.cudnnGetTensorNdDescriptor(Value, max, &type, &count, dims, strides));
        return new Span<int>(dims, Math.Min(count, max)).ToArray();
    }

    protected override bool ReleaseHandle() => CudnnNative.cudnnDestroyTensorDescriptor(handle) == CudnnStatus.Success;
}

/// <summary>A cudnnFilterDescriptor_t.</summary>
public sealed class CudnnFilterDescriptor : NativeHandle
{
    CudnnFilterDescriptor(nint d) : base(d) { }

    /// <summary>K output channels × C input channels × H × W, NCHW float.</summary>
    public static unsafe CudnnFilterDescriptor Create4d(int k, int c, int h, int w, CudnnDataType type = CudnnDataType.Float)
    {
        nint raw;
        Cudnn.Check(CudnnNative.cudnnCreateFilterDescriptor(&raw));
        var d = new CudnnFilterDescriptor(raw);
        try { Cudnn.Check(CudnnNative.cudnnSetFilter4dDescriptor(raw, type, CudnnTensorFormat.Nchw, k, c, h, w)); }
        catch { d.Dispose(); throw; }
        return d;
    }

    protected override bool ReleaseHandle() => CudnnNative.cudnnDestroyFilterDescriptor(handle) == CudnnStatus.Success;
}

/// <summary>A cudnnConvolutionDescriptor_t.</summary>
public sealed class CudnnConvolutionDescriptor : NativeHandle
{
    CudnnConvolutionDescriptor(nint d) : base(d) { }

    /// <summary>2-D cross-correlation (what deep learning calls convolution) with FP32 compute, stride 1 unless given.</summary>
    public static unsafe CudnnConvolutionDescriptor Create2d(int padH, int padW, int strideH = 1, int strideW = 1,
        CudnnMathType math = CudnnMathType.Fma)
    {
        nint raw;
        Cudnn.Check(CudnnNative.cudnnCreateConvolutionDescriptor(&raw));
        var d = new CudnnConvolutionDescriptor(raw);
        try
        {
            Cudnn.Check(CudnnNative.cudnnSetConvolution2dDescriptor(raw, padH, padW, strideH, strideW, 1, 1,
                CudnnConvolutionMode.CrossCorrelation, CudnnDataType.Float));
            Cudnn.Check(CudnnNative.cudnnSetConvolutionMathType(raw, math));
        }
        catch { d.Dispose(); throw; }
        return d;
    }

    protected override bool ReleaseHandle() => CudnnNative.cudnnDestroyConvolutionDescriptor(handle) == CudnnStatus.Success;
}

/// <summary>A cudnnPoolingDescriptor_t.</summary>
public sealed class CudnnPoolingDescriptor : NativeHandle
{
    CudnnPoolingDescriptor(nint d) : base(d) { }

    public static unsafe CudnnPoolingDescriptor Create2d(CudnnPoolingMode mode, int windowH, int windowW, int padH, int padW, int strideH, int strideW)
    {
        nint raw;
        Cudnn.Check(CudnnNative.cudnnCreatePoolingDescriptor(&raw));
        var d = new CudnnPoolingDescriptor(raw);
        try
        {
            Cudnn.Check(CudnnNative.cudnnSetPooling2dDescriptor(raw, mode, CudnnNanPropagation.NotPropagate,
                windowH, windowW, padH, padW, strideH, strideW));
        }
        catch { d.Dispose(); throw; }
        return d;
    }

    protected override bool ReleaseHandle() => CudnnNative.cudnnDestroyPoolingDescriptor(handle) == CudnnStatus.Success;
}

/// <summary>A cudnnActivationDescriptor_t.</summary>
public sealed class CudnnActivationDescriptor : NativeHandle
{
    CudnnActivationDescriptor(nint d) : base(d) { }

    public static unsafe CudnnActivationDescriptor Create(CudnnActivationMode mode, double coef = 0)
    {
        nint raw;
        Cudnn.Check(CudnnNative.cudnnCreateActivationDescriptor(&raw));
        var d = new CudnnActivationDescriptor(raw);
        try { Cudnn.Check(CudnnNative.cudnnSetActivationDescriptor(raw, mode, CudnnNanPropagation.NotPropagate, coef)); }
        catch { d.Dispose(); throw; }
        return d;
    }

    protected override bool ReleaseHandle() => CudnnNative.cudnnDestroyActivationDescriptor(handle) == CudnnStatus.Success;
}

/// <summary>A cudnnDropoutDescriptor_t; it refers to a states buffer the caller owns and keeps alive.</summary>
public sealed class CudnnDropoutDescriptor : NativeHandle
{
    CudnnDropoutDescriptor(nint d) : base(d) { }

    /// <summary>Bytes of device memory the random states need (for <see cref="Create"/>).</summary>
    public static unsafe long StatesSize(CudnnHandle handle)
    {
        nuint size;
        Cudnn.Check(CudnnNative.cudnnDropoutGetStatesSize(handle.Value, &size));
        return (long)size;
    }

    public static unsafe CudnnDropoutDescriptor Create(CudnnHandle handle, float dropout, ulong states, long statesBytes, ulong seed)
    {
        nint raw;
        Cudnn.Check(CudnnNative.cudnnCreateDropoutDescriptor(&raw));
        var d = new CudnnDropoutDescriptor(raw);
        try { Cudnn.Check(CudnnNative.cudnnSetDropoutDescriptor(raw, handle.Value, dropout, states, (nuint)statesBytes, seed)); }
        catch { d.Dispose(); throw; }
        return d;
    }

    protected override bool ReleaseHandle() => CudnnNative.cudnnDestroyDropoutDescriptor(handle) == CudnnStatus.Success;
}

/// <summary>A cudnnRNNDescriptor_t (configure with cudnnSetRNNDescriptor_v8).</summary>
public sealed class CudnnRnnDescriptor : NativeHandle
{
    CudnnRnnDescriptor(nint d) : base(d) { }

    public static unsafe CudnnRnnDescriptor Create()
    {
        nint raw;
        Cudnn.Check(CudnnNative.cudnnCreateRNNDescriptor(&raw));
        return new CudnnRnnDescriptor(raw);
    }

    protected override bool ReleaseHandle() => CudnnNative.cudnnDestroyRNNDescriptor(handle) == CudnnStatus.Success;
}

/// <summary>A cudnnRNNDataDescriptor_t (configure with cudnnSetRNNDataDescriptor).</summary>
public sealed class CudnnRnnDataDescriptor : NativeHandle
{
    CudnnRnnDataDescriptor(nint d) : base(d) { }

    public static unsafe CudnnRnnDataDescriptor Create()
    {
        nint raw;
        Cudnn.Check(CudnnNative.cudnnCreateRNNDataDescriptor(&raw));
        return new CudnnRnnDataDescriptor(raw);
    }

    /// <summary>Float data in the given layout, per-sample lengths (host) and the value written to padded outputs.</summary>
    public unsafe void Set(CudnnRnnDataLayout layout, int maxSeqLength, int vectorSize, ReadOnlySpan<int> seqLengths, float paddingFill = 0f)
    {
        fixed (int* lengths = seqLengths)
            Cudnn.Check(CudnnNative.cudnnSetRNNDataDescriptor(Value, CudnnDataType.Float, layout, maxSeqLength, seqLengths.Length,
                vectorSize, lengths, &paddingFill));
    }

    protected override bool ReleaseHandle() => CudnnNative.cudnnDestroyRNNDataDescriptor(handle) == CudnnStatus.Success;
}
