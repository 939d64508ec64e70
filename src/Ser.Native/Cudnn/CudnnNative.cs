using System.Runtime.InteropServices;

namespace Ser.Native;

public enum CudnnDataType { Float = 0, Double = 1, Half = 2, Int8 = 3, Int32 = 4, Bfloat16 = 9, Int64 = 10 }
public enum CudnnTensorFormat { Nchw = 0, Nhwc = 1 }
public enum CudnnMathType { Default = 0, TensorOp = 1, TensorOpAllowConversion = 2, Fma = 3 }
public enum CudnnNanPropagation { NotPropagate = 0, Propagate = 1 }
public enum CudnnConvolutionMode { Convolution = 0, CrossCorrelation = 1 }
public enum CudnnDeterminism { NonDeterministic = 0, Deterministic = 1 }
public enum CudnnConvolutionFwdAlgo { ImplicitGemm = 0, ImplicitPrecompGemm = 1, Gemm = 2, Direct = 3, Fft = 4, FftTiling = 5, Winograd = 6, WinogradNonfused = 7 }
public enum CudnnConvolutionBwdDataAlgo { Algo0 = 0, Algo1 = 1, Fft = 2, FftTiling = 3, Winograd = 4, WinogradNonfused = 5 }
public enum CudnnConvolutionBwdFilterAlgo { Algo0 = 0, Algo1 = 1, Fft = 2, Algo3 = 3, Winograd = 4, WinogradNonfused = 5, FftTiling = 6 }
public enum CudnnPoolingMode { Max = 0, AverageCountIncludePadding = 1, AverageCountExcludePadding = 2, MaxDeterministic = 3 }
public enum CudnnActivationMode { Sigmoid = 0, Relu = 1, Tanh = 2, ClippedRelu = 3, Elu = 4, Identity = 5, Swish = 6 }
public enum CudnnRnnAlgo { Standard = 0, PersistStatic = 1, PersistDynamic = 2, PersistStaticSmallH = 3 }
public enum CudnnRnnMode { RnnRelu = 0, RnnTanh = 1, Lstm = 2, Gru = 3 }
public enum CudnnRnnBiasMode { NoBias = 0, SingleInpBias = 1, DoubleBias = 2, SingleRecBias = 3 }
public enum CudnnDirectionMode { Unidirectional = 0, Bidirectional = 1 }
public enum CudnnRnnInputMode { LinearInput = 0, SkipInput = 1 }
public enum CudnnForwardMode { Inference = 0, Training = 1 }
public enum CudnnRnnDataLayout { SeqMajorUnpacked = 0, SeqMajorPacked = 1, BatchMajorUnpacked = 2 }
public enum CudnnWgradMode { Add = 0, Set = 1 }

/// <summary>cudnnConvolutionFwdAlgoPerf_t / BwdData / BwdFilter perf records (same layout: the algo is an int).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct CudnnAlgoPerf
{
    public int Algo;
    public CudnnStatus Status;
    public float Time;
    public nuint Memory;
    public CudnnDeterminism Determinism;
    public CudnnMathType MathType;
    public int Reserved0, Reserved1, Reserved2;
}

/// <summary>
/// cuDNN 9 (cudnn_graph.h, cudnn_ops.h, cudnn_cnn.h, cudnn_adv.h; libcudnn.so.9): the legacy
/// convolution/pooling/activation API (deprecated in 9, still present) and the RNN v8 API.
/// Descriptors and the handle are nint; device buffers are ulong (CUdeviceptr); alpha/beta are host
/// pointers to float (for float data) as the API requires.
/// </summary>
public static unsafe partial class CudnnNative
{
    static CudnnNative() => NativeLibraries.Register();

    const string Lib = NativeLibraries.Cudnn;

    // Library, handle, errors
    [LibraryImport(Lib)] public static partial nuint cudnnGetVersion();
    [LibraryImport(Lib)] public static partial nuint cudnnGetCudartVersion();
    [LibraryImport(Lib)] public static partial CudnnStatus cudnnGetProperty(LibraryProperty type, int* value);
    [LibraryImport(Lib)] public static partial byte* cudnnGetErrorString(CudnnStatus status);
    [LibraryImport(Lib)] public static partial void cudnnGetLastErrorString(byte* message, nuint maxSize);
    [LibraryImport(Lib)] public static partial CudnnStatus cudnnCreate(nint* handle);
    [LibraryImport(Lib)] public static partial CudnnStatus cudnnDestroy(nint handle);
    [LibraryImport(Lib)] public static partial CudnnStatus cudnnSetStream(nint handle, nint streamId);

    // Tensor descriptors
    [LibraryImport(Lib)] public static partial CudnnStatus cudnnCreateTensorDescriptor(nint* tensorDesc);
    [LibraryImport(Lib)] public static partial CudnnStatus cudnnDestroyTensorDescriptor(nint tensorDesc);
    [LibraryImport(Lib)] public static partial CudnnStatus cudnnSetTensor4dDescriptor(nint tensorDesc, CudnnTensorFormat format, CudnnDataType dataType, int n, int c, int h, int w);
    [LibraryImport(Lib)] public static partial CudnnStatus cudnnSetTensor4dDescriptorEx(nint tensorDesc, CudnnDataType dataType, int n, int c, int h, int w, int nStride, int cStride, int hStride, int wStride);
    [LibraryImport(Lib)] public static partial CudnnStatus cudnnSetTensorNdDescriptor(nint tensorDesc, CudnnDataType dataType, int nbDims, int* dimA, int* strideA);
    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnGetTensorNdDescriptor(nint tensorDesc, int nbDimsRequested, CudnnDataType* dataType, int* nbDims, int* dimA, int* strideA);
    [LibraryImport(Lib)] public static partial CudnnStatus cudnnAddTensor(nint handle, void* alpha, nint aDesc, ulong A, void* beta, nint cDesc, ulong C);

    // Filter descriptors (note: dataType before format, unlike the tensor call)
    [LibraryImport(Lib)] public static partial CudnnStatus cudnnCreateFilterDescriptor(nint* filterDesc);
    [LibraryImport(Lib)] public static partial CudnnStatus cudnnDestroyFilterDescriptor(nint filterDesc);
    [LibraryImport(Lib)] public static partial CudnnStatus cudnnSetFilter4dDescriptor(nint filterDesc, CudnnDataType dataType, CudnnTensorFormat format, int k, int c, int h, int w);
    [LibraryImport(Lib)] public static partial CudnnStatus cudnnSetFilterNdDescriptor(nint filterDesc, CudnnDataType dataType, CudnnTensorFormat format, int nbDims, int* filterDimA);

    // Convolution
    [LibraryImport(Lib)] public static partial CudnnStatus cudnnCreateConvolutionDescriptor(nint* convDesc);
    [LibraryImport(Lib)] public static partial CudnnStatus cudnnDestroyConvolutionDescriptor(nint convDesc);
    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnSetConvolution2dDescriptor(nint convDesc, int padH, int padW, int u, int v,
        int dilationH, int dilationW, CudnnConvolutionMode mode, CudnnDataType computeType);
    [LibraryImport(Lib)] public static partial CudnnStatus cudnnSetConvolutionMathType(nint convDesc, CudnnMathType mathType);
    [LibraryImport(Lib)] public static partial CudnnStatus cudnnGetConvolution2dForwardOutputDim(nint convDesc, nint inputTensorDesc, nint filterDesc, int* n, int* c, int* h, int* w);

    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnGetConvolutionForwardAlgorithm_v7(nint handle, nint srcDesc, nint filterDesc, nint convDesc, nint destDesc,
        int requestedAlgoCount, int* returnedAlgoCount, CudnnAlgoPerf* perfResults);
    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnFindConvolutionForwardAlgorithmEx(nint handle, nint xDesc, ulong x, nint wDesc, ulong w, nint convDesc, nint yDesc, ulong y,
        int requestedAlgoCount, int* returnedAlgoCount, CudnnAlgoPerf* perfResults, ulong workSpace, nuint workSpaceSizeInBytes);
    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnGetConvolutionForwardWorkspaceSize(nint handle, nint xDesc, nint wDesc, nint convDesc, nint yDesc,
        CudnnConvolutionFwdAlgo algo, nuint* sizeInBytes);
    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnConvolutionForward(nint handle, void* alpha, nint xDesc, ulong x, nint wDesc, ulong w, nint convDesc,
        CudnnConvolutionFwdAlgo algo, ulong workSpace, nuint workSpaceSizeInBytes, void* beta, nint yDesc, ulong y);

    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnGetConvolutionBackwardDataAlgorithm_v7(nint handle, nint filterDesc, nint diffDesc, nint convDesc, nint gradDesc,
        int requestedAlgoCount, int* returnedAlgoCount, CudnnAlgoPerf* perfResults);
    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnFindConvolutionBackwardDataAlgorithmEx(nint handle, nint wDesc, ulong w, nint dyDesc, ulong dy, nint convDesc, nint dxDesc, ulong dx,
        int requestedAlgoCount, int* returnedAlgoCount, CudnnAlgoPerf* perfResults, ulong workSpace, nuint workSpaceSizeInBytes);
    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnGetConvolutionBackwardDataWorkspaceSize(nint handle, nint wDesc, nint dyDesc, nint convDesc, nint dxDesc,
        CudnnConvolutionBwdDataAlgo algo, nuint* sizeInBytes);
    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnConvolutionBackwardData(nint handle, void* alpha, nint wDesc, ulong w, nint dyDesc, ulong dy, nint convDesc,
        CudnnConvolutionBwdDataAlgo algo, ulong workSpace, nuint workSpaceSizeInBytes, void* beta, nint dxDesc, ulong dx);

    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnGetConvolutionBackwardFilterAlgorithm_v7(nint handle, nint srcDesc, nint diffDesc, nint convDesc, nint gradDesc,
        int requestedAlgoCount, int* returnedAlgoCount, CudnnAlgoPerf* perfResults);
    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnFindConvolutionBackwardFilterAlgorithmEx(nint handle, nint xDesc, ulong x, nint dyDesc, ulong y, nint convDesc, nint dwDesc, ulong dw,
        int requestedAlgoCount, int* returnedAlgoCount, CudnnAlgoPerf* perfResults, ulong workSpace, nuint workSpaceSizeInBytes);
    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnGetConvolutionBackwardFilterWorkspaceSize(nint handle, nint xDesc, nint dyDesc, nint convDesc, nint gradDesc,
        CudnnConvolutionBwdFilterAlgo algo, nuint* sizeInBytes);
    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnConvolutionBackwardFilter(nint handle, void* alpha, nint xDesc, ulong x, nint dyDesc, ulong dy, nint convDesc,
        CudnnConvolutionBwdFilterAlgo algo, ulong workSpace, nuint workSpaceSizeInBytes, void* beta, nint dwDesc, ulong dw);
    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnConvolutionBackwardBias(nint handle, void* alpha, nint dyDesc, ulong dy, void* beta, nint dbDesc, ulong db);

    // Pooling
    [LibraryImport(Lib)] public static partial CudnnStatus cudnnCreatePoolingDescriptor(nint* poolingDesc);
    [LibraryImport(Lib)] public static partial CudnnStatus cudnnDestroyPoolingDescriptor(nint poolingDesc);
    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnSetPooling2dDescriptor(nint poolingDesc, CudnnPoolingMode mode, CudnnNanPropagation maxpoolingNanOpt,
        int windowHeight, int windowWidth, int verticalPadding, int horizontalPadding, int verticalStride, int horizontalStride);
    [LibraryImport(Lib)] public static partial CudnnStatus cudnnGetPooling2dForwardOutputDim(nint poolingDesc, nint inputTensorDesc, int* n, int* c, int* h, int* w);
    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnPoolingForward(nint handle, nint poolingDesc, void* alpha, nint xDesc, ulong x, void* beta, nint yDesc, ulong y);
    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnPoolingBackward(nint handle, nint poolingDesc, void* alpha, nint yDesc, ulong y, nint dyDesc, ulong dy,
        nint xDesc, ulong x, void* beta, nint dxDesc, ulong dx);

    // Activation
    [LibraryImport(Lib)] public static partial CudnnStatus cudnnCreateActivationDescriptor(nint* activationDesc);
    [LibraryImport(Lib)] public static partial CudnnStatus cudnnDestroyActivationDescriptor(nint activationDesc);
    [LibraryImport(Lib)] public static partial CudnnStatus cudnnSetActivationDescriptor(nint activationDesc, CudnnActivationMode mode, CudnnNanPropagation reluNanOpt, double coef);
    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnActivationForward(nint handle, nint activationDesc, void* alpha, nint xDesc, ulong x, void* beta, nint yDesc, ulong y);
    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnActivationBackward(nint handle, nint activationDesc, void* alpha, nint yDesc, ulong y, nint dyDesc, ulong dy,
        nint xDesc, ulong x, void* beta, nint dxDesc, ulong dx);

    // Dropout (an RNN descriptor takes one; with p = 0 it is only a formality)
    [LibraryImport(Lib)] public static partial CudnnStatus cudnnCreateDropoutDescriptor(nint* dropoutDesc);
    [LibraryImport(Lib)] public static partial CudnnStatus cudnnDestroyDropoutDescriptor(nint dropoutDesc);
    [LibraryImport(Lib)] public static partial CudnnStatus cudnnDropoutGetStatesSize(nint handle, nuint* sizeInBytes);
    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnSetDropoutDescriptor(nint dropoutDesc, nint handle, float dropout, ulong states, nuint stateSizeInBytes, ulong seed);

    // RNN v8
    [LibraryImport(Lib)] public static partial CudnnStatus cudnnCreateRNNDescriptor(nint* rnnDesc);
    [LibraryImport(Lib)] public static partial CudnnStatus cudnnDestroyRNNDescriptor(nint rnnDesc);
    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnSetRNNDescriptor_v8(nint rnnDesc, CudnnRnnAlgo algo, CudnnRnnMode cellMode, CudnnRnnBiasMode biasMode,
        CudnnDirectionMode dirMode, CudnnRnnInputMode inputMode, CudnnDataType dataType, CudnnDataType mathPrec, CudnnMathType mathType,
        int inputSize, int hiddenSize, int projSize, int numLayers, nint dropoutDesc, uint auxFlags);
    [LibraryImport(Lib)] public static partial CudnnStatus cudnnCreateRNNDataDescriptor(nint* rnnDataDesc);
    [LibraryImport(Lib)] public static partial CudnnStatus cudnnDestroyRNNDataDescriptor(nint rnnDataDesc);
    /// <summary>seqLengthArray is a HOST array [batchSize]; paddingFill points to one value of dataType (host).</summary>
    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnSetRNNDataDescriptor(nint rnnDataDesc, CudnnDataType dataType, CudnnRnnDataLayout layout,
        int maxSeqLength, int batchSize, int vectorSize, int* seqLengthArray, void* paddingFill);
    [LibraryImport(Lib)] public static partial CudnnStatus cudnnGetRNNWeightSpaceSize(nint handle, nint rnnDesc, nuint* weightSpaceSize);
    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnGetRNNTempSpaceSizes(nint handle, nint rnnDesc, CudnnForwardMode fwdMode, nint xDesc,
        nuint* workSpaceSize, nuint* reserveSpaceSize);
    /// <summary>Device addresses of one weight matrix and bias inside weightSpace (mAddr/bAddr are written as device pointers; either may be 0).</summary>
    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnGetRNNWeightParams(nint handle, nint rnnDesc, int pseudoLayer, nuint weightSpaceSize, ulong weightSpace,
        int linLayerID, nint mDesc, ulong* mAddr, nint bDesc, ulong* bAddr);
    /// <summary>devSeqLengths is a DEVICE array [batch] of int32, a copy of the data descriptor's seqLengthArray.</summary>
    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnRNNForward(nint handle, nint rnnDesc, CudnnForwardMode fwdMode, ulong devSeqLengths,
        nint xDesc, ulong x, nint yDesc, ulong y, nint hDesc, ulong hx, ulong hy, nint cDesc, ulong cx, ulong cy,
        nuint weightSpaceSize, ulong weightSpace, nuint workSpaceSize, ulong workSpace, nuint reserveSpaceSize, ulong reserveSpace);
    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnRNNBackwardData_v8(nint handle, nint rnnDesc, ulong devSeqLengths,
        nint yDesc, ulong y, ulong dy, nint xDesc, ulong dx, nint hDesc, ulong hx, ulong dhy, ulong dhx,
        nint cDesc, ulong cx, ulong dcy, ulong dcx, nuint weightSpaceSize, ulong weightSpace,
        nuint workSpaceSize, ulong workSpace, nuint reserveSpaceSize, ulong reserveSpace);
    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnRNNBackwardWeights_v8(nint handle, nint rnnDesc, CudnnWgradMode addGrad, ulong devSeqLengths,
        nint xDesc, ulong x, nint hDesc, ulong hx, nint yDesc, ulong y, nuint weightSpaceSize, ulong dweightSpace,
        nuint workSpaceSize, ulong workSpace, nuint reserveSpaceSize, ulong reserveSpace);
}
