using System.Runtime.InteropServices;

namespace Ser.Native;

/// <summary>cufftType.</summary>
public enum CufftType
{
    R2C = 0x2a,
    C2R = 0x2c,
    C2C = 0x29,
    D2Z = 0x6a,
    Z2D = 0x6c,
    Z2Z = 0x69,
}

/// <summary>
/// cuFFT (cufft.h, libcufft.so.12 in CUDA 13 / .11 in CUDA 12). A plan (cufftHandle) is an int.
/// Device buffers are ulong (CUdeviceptr).
/// </summary>
public static unsafe partial class CufftNative
{
    static CufftNative() => NativeLibraries.Register();

    const string Lib = NativeLibraries.Cufft;

    [LibraryImport(Lib)] public static partial CufftResult cufftGetVersion(int* version);
    [LibraryImport(Lib)] public static partial CufftResult cufftGetProperty(LibraryProperty type, int* value);
    [LibraryImport(Lib)] public static partial CufftResult cufftCreate(int* handle);
    [LibraryImport(Lib)] public static partial CufftResult cufftDestroy(int plan);
    [LibraryImport(Lib)]
    public static partial CufftResult cufftPlanMany(int* plan, int rank, int* n, int* inembed, int istride, int idist,
        int* onembed, int ostride, int odist, CufftType type, int batch);
    [LibraryImport(Lib)]
    public static partial CufftResult cufftMakePlanMany(int plan, int rank, int* n, int* inembed, int istride, int idist,
        int* onembed, int ostride, int odist, CufftType type, int batch, nuint* workSize);
    [LibraryImport(Lib)] public static partial CufftResult cufftSetStream(int plan, nint stream);
    [LibraryImport(Lib)] public static partial CufftResult cufftSetAutoAllocation(int plan, int autoAllocate);
    [LibraryImport(Lib)] public static partial CufftResult cufftSetWorkArea(int plan, ulong workArea);
    /// <summary>Forward real-to-complex: n reals in, n/2+1 complex (interleaved float pairs) out per transform.</summary>
    [LibraryImport(Lib)] public static partial CufftResult cufftExecR2C(int plan, ulong idata, ulong odata);
}

/// <summary>A cuFFT plan (cufftHandle).</summary>
public sealed class CufftPlan : NativeHandle
{
    readonly nint _context;

    CufftPlan(int plan, nint context) : base(plan) => _context = context;

    // cuFFT plan ids are small integers and 0 may be a real plan: no value is "invalid".
    public override bool IsInvalid => false;

    public int Id => (int)Value;

    /// <summary>
    /// <paramref name="batch"/> real-to-complex transforms of length <paramref name="n"/> in the basic layout:
    /// input rows of n floats, output rows of n/2+1 complex values, on <paramref name="stream"/>.
    /// With <paramref name="ownWorkArea"/> false, cuFFT allocates no work area (cufftSetAutoAllocation(plan, 0) before
    /// cufftMakePlanMany, as the cuFFT guide requires): the caller hands one in with <see cref="SetWorkArea"/>, at least
    /// <see cref="WorkSize"/> bytes, before the first execution.
    /// </summary>
    public static unsafe CufftPlan CreateR2CBatched(int n, int batch, CudaStream stream, bool ownWorkArea = true)
    {
        int id;
        Cufft.Check(CufftNative.cufftCreate(&id));
        var plan = new CufftPlan(id, CudaContextScope.Current());
        try
        {
            if (!ownWorkArea)
                Cufft.Check(CufftNative.cufftSetAutoAllocation(id, 0));
            nuint workSize;
            // NULL embeds: the basic layout, in which the strides and distances given are ignored.
            Cufft.Check(CufftNative.cufftMakePlanMany(id, 1, &n, null, 1, n, null, 1, n / 2 + 1, CufftType.R2C, batch, &workSize));
            Cufft.Check(CufftNative.cufftSetStream(id, stream.Value));
            plan.WorkSize = (long)workSize;
        }
        catch
        {
            plan.Dispose();
            throw;
        }
        return plan;
    }

    /// <summary>Bytes of work area the plan needs (cufftMakePlanMany's workSize).</summary>
    public long WorkSize { get; private set; }

    /// <summary>The work area of a plan made without its own (cufftSetWorkArea). Plans that run on one stream may share
    /// one: stream order keeps their executions apart.</summary>
    public void SetWorkArea(ulong workArea) => Cufft.Check(CufftNative.cufftSetWorkArea(Id, workArea));

    public void ExecR2C(ulong input, ulong output) => Cufft.Check(CufftNative.cufftExecR2C(Id, input, output));

    protected override bool ReleaseHandle()
    {
        using var scope = new CudaContextScope(_context);
        return CufftNative.cufftDestroy((int)handle) == CufftResult.Success;
    }
}
