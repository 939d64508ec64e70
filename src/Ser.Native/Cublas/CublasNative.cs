using System.Runtime.InteropServices;

namespace Ser.Native;

/// <summary>cublasOperation_t.</summary>
public enum CublasOperation
{
    N = 0,
    T = 1,
    C = 2,
}

/// <summary>cublasMath_t. Default is plain FP32 (no TF32), which the equivalence tests rely on.</summary>
public enum CublasMath
{
    Default = 0,
    TensorOp = 1,
    Pedantic = 2,
    Tf32TensorOp = 3,
    DisallowReducedPrecisionReduction = 16,
}

/// <summary>cublasPointerMode_t: where alpha/beta live.</summary>
public enum CublasPointerMode
{
    Host = 0,
    Device = 1,
}

/// <summary>
/// cuBLAS v2 (cublas_api.h, libcublas.so.13/.12). Matrices are column-major. Device pointers are
/// passed as ulong (a CUdeviceptr: same 64-bit ABI as the C pointer) so they cannot be mixed up with
/// host pointers such as alpha/beta in host pointer mode.
/// </summary>
public static unsafe partial class CublasNative
{
    static CublasNative() => NativeLibraries.Register();

    const string Lib = NativeLibraries.Cublas;

    [LibraryImport(Lib)] public static partial CublasStatus cublasCreate_v2(nint* handle);
    [LibraryImport(Lib)] public static partial CublasStatus cublasDestroy_v2(nint handle);
    [LibraryImport(Lib)] public static partial CublasStatus cublasGetVersion_v2(nint handle, int* version);
    [LibraryImport(Lib)] public static partial CublasStatus cublasGetProperty(LibraryProperty type, int* value);
    [LibraryImport(Lib)] public static partial byte* cublasGetStatusName(CublasStatus status);
    [LibraryImport(Lib)] public static partial byte* cublasGetStatusString(CublasStatus status);
    [LibraryImport(Lib)] public static partial CublasStatus cublasSetStream_v2(nint handle, nint streamId);
    [LibraryImport(Lib)] public static partial CublasStatus cublasSetMathMode(nint handle, CublasMath mode);
    [LibraryImport(Lib)] public static partial CublasStatus cublasSetPointerMode_v2(nint handle, CublasPointerMode mode);
    [LibraryImport(Lib)] public static partial CublasStatus cublasSetWorkspace_v2(nint handle, ulong workspace, nuint workspaceSizeInBytes);

    /// <summary>C = alpha op(A) op(B) + beta C; A is m×k, B k×n, C m×n after op, column-major.</summary>
    [LibraryImport(Lib)]
    public static partial CublasStatus cublasSgemm_v2(nint handle, CublasOperation transa, CublasOperation transb,
        int m, int n, int k, float* alpha, ulong A, int lda, ulong B, int ldb, float* beta, ulong C, int ldc);

    [LibraryImport(Lib)]
    public static partial CublasStatus cublasSgemmStridedBatched(nint handle, CublasOperation transa, CublasOperation transb,
        int m, int n, int k, float* alpha, ulong A, int lda, long strideA, ulong B, int ldb, long strideB,
        float* beta, ulong C, int ldc, long strideC, int batchCount);
}

/// <summary>A cublasHandle_t.</summary>
public sealed class CublasHandle : NativeHandle
{
    readonly nint _context;

    CublasHandle(nint h, nint context) : base(h) => _context = context;

    /// <summary>A handle for the current context, bound to a stream, with the given math mode.</summary>
    public static unsafe CublasHandle Create(CudaStream? stream = null, CublasMath math = CublasMath.Default)
    {
        nint h;
        Cublas.Check(CublasNative.cublasCreate_v2(&h));
        var handle = new CublasHandle(h, CudaContextScope.Current());
        try
        {
            if (stream is not null)
                Cublas.Check(CublasNative.cublasSetStream_v2(h, stream.Value));
            Cublas.Check(CublasNative.cublasSetMathMode(h, math));
        }
        catch
        {
            handle.Dispose();
            throw;
        }
        return handle;
    }

    protected override bool ReleaseHandle()
    {
        using var scope = new CudaContextScope(_context);
        return CublasNative.cublasDestroy_v2(handle) == CublasStatus.Success;
    }
}
