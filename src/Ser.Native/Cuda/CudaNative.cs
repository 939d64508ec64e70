using System.Runtime.InteropServices;

namespace Ser.Native;

/// <summary>CUdevice_attribute values we read (cuda.h).</summary>
public enum CudaDeviceAttribute
{
    MaxThreadsPerBlock = 1,
    MaxSharedMemoryPerBlock = 8,
    WarpSize = 10,
    ClockRate = 13,
    MultiprocessorCount = 16,
    MemoryClockRate = 36,
    GlobalMemoryBusWidth = 37,
    L2CacheSize = 38,
    MaxThreadsPerMultiprocessor = 39,
    ComputeCapabilityMajor = 75,
    ComputeCapabilityMinor = 76,
    MaxSharedMemoryPerBlockOptin = 97,
}

/// <summary>CUstreamCaptureMode.</summary>
public enum CudaStreamCaptureMode
{
    Global = 0,
    ThreadLocal = 1,
    Relaxed = 2,
}

/// <summary>CUfunction_attribute values we set.</summary>
public enum CudaFunctionAttribute
{
    MaxDynamicSharedSizeBytes = 8,
}

/// <summary>
/// CUDA driver API (cuda.h, libcuda.so.1) with the exact exported C names, the versioned ones (_v2)
/// where the header maps a name to them. Blittable: handles are nint, CUdeviceptr is ulong, size_t is nuint.
/// The _v2/plain names chosen exist in every driver since CUDA 12.0, so driver 580 (CUDA 13) serves them.
/// </summary>
public static unsafe partial class CudaNative
{
    public const uint StreamNonBlocking = 0x1;      // CU_STREAM_NON_BLOCKING
    public const uint EventDefault = 0x0;           // CU_EVENT_DEFAULT
    public const uint EventBlockingSync = 0x1;      // CU_EVENT_BLOCKING_SYNC
    public const uint EventDisableTiming = 0x2;     // CU_EVENT_DISABLE_TIMING

    static CudaNative() => NativeLibraries.Register();

    const string Lib = NativeLibraries.Cuda;

    // Initialisation, version, errors
    [LibraryImport(Lib)] public static partial CudaResult cuInit(uint flags);
    [LibraryImport(Lib)] public static partial CudaResult cuDriverGetVersion(int* driverVersion);
    [LibraryImport(Lib)] public static partial CudaResult cuGetErrorName(CudaResult error, byte** pStr);
    [LibraryImport(Lib)] public static partial CudaResult cuGetErrorString(CudaResult error, byte** pStr);

    // Devices
    [LibraryImport(Lib)] public static partial CudaResult cuDeviceGetCount(int* count);
    [LibraryImport(Lib)] public static partial CudaResult cuDeviceGet(int* device, int ordinal);
    [LibraryImport(Lib)] public static partial CudaResult cuDeviceGetName(byte* name, int len, int dev);
    [LibraryImport(Lib)] public static partial CudaResult cuDeviceTotalMem_v2(nuint* bytes, int dev);
    [LibraryImport(Lib)] public static partial CudaResult cuDeviceGetAttribute(int* pi, CudaDeviceAttribute attrib, int dev);

    // Contexts (the primary context, shared with cuBLAS/cuDNN/cuFFT which use the runtime API)
    [LibraryImport(Lib)] public static partial CudaResult cuDevicePrimaryCtxRetain(nint* pctx, int dev);
    [LibraryImport(Lib)] public static partial CudaResult cuDevicePrimaryCtxRelease_v2(int dev);
    [LibraryImport(Lib)] public static partial CudaResult cuCtxSetCurrent(nint ctx);
    [LibraryImport(Lib)] public static partial CudaResult cuCtxGetCurrent(nint* pctx);
    [LibraryImport(Lib)] public static partial CudaResult cuCtxPushCurrent_v2(nint ctx);
    [LibraryImport(Lib)] public static partial CudaResult cuCtxPopCurrent_v2(nint* pctx);
    [LibraryImport(Lib)] public static partial CudaResult cuCtxSynchronize();

    // Memory
    [LibraryImport(Lib)] public static partial CudaResult cuMemGetInfo_v2(nuint* free, nuint* total);
    [LibraryImport(Lib)] public static partial CudaResult cuMemAlloc_v2(ulong* dptr, nuint bytesize);
    [LibraryImport(Lib)] public static partial CudaResult cuMemFree_v2(ulong dptr);
    [LibraryImport(Lib)] public static partial CudaResult cuMemAllocHost_v2(void** pp, nuint bytesize);
    [LibraryImport(Lib)] public static partial CudaResult cuMemFreeHost(void* p);
    [LibraryImport(Lib)] public static partial CudaResult cuMemcpyHtoD_v2(ulong dstDevice, void* srcHost, nuint byteCount);
    [LibraryImport(Lib)] public static partial CudaResult cuMemcpyDtoH_v2(void* dstHost, ulong srcDevice, nuint byteCount);
    [LibraryImport(Lib)] public static partial CudaResult cuMemcpyHtoDAsync_v2(ulong dstDevice, void* srcHost, nuint byteCount, nint hStream);
    [LibraryImport(Lib)] public static partial CudaResult cuMemcpyDtoHAsync_v2(void* dstHost, ulong srcDevice, nuint byteCount, nint hStream);
    [LibraryImport(Lib)] public static partial CudaResult cuMemcpyDtoDAsync_v2(ulong dstDevice, ulong srcDevice, nuint byteCount, nint hStream);
    [LibraryImport(Lib)] public static partial CudaResult cuMemsetD8Async(ulong dstDevice, byte uc, nuint n, nint hStream);
    [LibraryImport(Lib)] public static partial CudaResult cuMemsetD32Async(ulong dstDevice, uint ui, nuint n, nint hStream);

    // Streams
    [LibraryImport(Lib)] public static partial CudaResult cuStreamCreate(nint* phStream, uint flags);
    [LibraryImport(Lib)] public static partial CudaResult cuStreamDestroy_v2(nint hStream);
    [LibraryImport(Lib)] public static partial CudaResult cuStreamSynchronize(nint hStream);
    [LibraryImport(Lib)] public static partial CudaResult cuStreamWaitEvent(nint hStream, nint hEvent, uint flags);

    // Events
    [LibraryImport(Lib)] public static partial CudaResult cuEventCreate(nint* phEvent, uint flags);
    [LibraryImport(Lib)] public static partial CudaResult cuEventDestroy_v2(nint hEvent);
    [LibraryImport(Lib)] public static partial CudaResult cuEventRecord(nint hEvent, nint hStream);
    [LibraryImport(Lib)] public static partial CudaResult cuEventSynchronize(nint hEvent);
    [LibraryImport(Lib)] public static partial CudaResult cuEventElapsedTime(float* pMilliseconds, nint hStart, nint hEnd);

    // Modules and kernels
    [LibraryImport(Lib)] public static partial CudaResult cuModuleLoadData(nint* module, void* image);
    [LibraryImport(Lib)] public static partial CudaResult cuModuleUnload(nint hmod);
    [LibraryImport(Lib)] public static partial CudaResult cuModuleGetFunction(nint* hfunc, nint hmod, byte* name);
    [LibraryImport(Lib)] public static partial CudaResult cuFuncSetAttribute(nint hfunc, CudaFunctionAttribute attrib, int value);
    [LibraryImport(Lib)]
    public static partial CudaResult cuLaunchKernel(nint f,
        uint gridDimX, uint gridDimY, uint gridDimZ,
        uint blockDimX, uint blockDimY, uint blockDimZ,
        uint sharedMemBytes, nint hStream, void** kernelParams, void** extra);

    // Graphs: capture a stream's work once, replay it with one launch.
    [LibraryImport(Lib)] public static partial CudaResult cuStreamBeginCapture_v2(nint hStream, CudaStreamCaptureMode mode);
    [LibraryImport(Lib)] public static partial CudaResult cuStreamEndCapture(nint hStream, nint* phGraph);
    [LibraryImport(Lib)] public static partial CudaResult cuGraphInstantiateWithFlags(nint* phGraphExec, nint hGraph, ulong flags);
    [LibraryImport(Lib)] public static partial CudaResult cuGraphLaunch(nint hGraphExec, nint hStream);
    [LibraryImport(Lib)] public static partial CudaResult cuGraphDestroy(nint hGraph);
    [LibraryImport(Lib)] public static partial CudaResult cuGraphExecDestroy(nint hGraphExec);
}
