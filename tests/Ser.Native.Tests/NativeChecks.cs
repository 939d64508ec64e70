namespace Ser.Native.Tests;

/// <summary>The one check path per library: message, status name and call text. Runs without a GPU.</summary>
public class NativeChecksTests
{
    static CufftResult FailingPlanCall(int plan) => plan < 0 ? CufftResult.InvalidValue : CufftResult.Success;

    [Fact]
    public void Check_passes_success_through()
    {
        CudaDriver.Check(CudaResult.Success);
        Nvrtc.Check(NvrtcResult.Success);
        Cublas.Check(CublasStatus.Success);
        Cudnn.Check(CudnnStatus.Success);
        Cufft.Check(CufftResult.Success);
    }

    [Fact]
    public void Check_failure_carries_call_text_and_c_status_name()
    {
        var e = Assert.Throws<CufftException>(() => Cufft.Check(FailingPlanCall(-1)));
        Assert.Equal("FailingPlanCall(-1)", e.Call);
        Assert.Equal("CUFFT_INVALID_VALUE", e.StatusName);
        Assert.Equal(4, e.StatusCode);
        Assert.Equal("cuFFT", e.Library);
        Assert.Contains("FailingPlanCall(-1)", e.Message);
        Assert.Contains("CUFFT_INVALID_VALUE (4)", e.Message);
        Assert.IsAssignableFrom<NativeException>(e);
    }

    [Fact]
    public void Status_names_follow_the_c_headers()
    {
        Assert.Equal("CUBLAS_STATUS_NOT_INITIALIZED", Assert.Throws<CublasException>(() => Cublas.Check(CublasStatus.NotInitialized)).StatusName);
        Assert.Equal("CUDNN_STATUS_BAD_PARAM_NULL_POINTER", Assert.Throws<CudnnException>(() => Cudnn.Check(CudnnStatus.BadParamNullPointer)).StatusName);
        Assert.Equal("NVRTC_ERROR_COMPILATION", Assert.Throws<NvrtcException>(() => Nvrtc.Check(NvrtcResult.ErrorCompilation)).StatusName);
        // The driver names its own statuses where it is installed; ours match them.
        Assert.Equal("CUDA_ERROR_OUT_OF_MEMORY", Assert.Throws<CudaException>(() => CudaDriver.Check(CudaResult.ErrorOutOfMemory)).StatusName);
        Assert.Equal("CUFFT_NVJITLINK_FAILURE", Assert.Throws<CufftException>(() => Cufft.Check(CufftResult.NvjitlinkFailure)).StatusName);
        Assert.Equal("CUFFT_99", Assert.Throws<CufftException>(() => Cufft.Check((CufftResult)99)).StatusName);
    }

    [Fact]
    public void Cufft_statuses_follow_cufft_12_numbering_and_cufft_11_names_its_own()
    {
        // cuFFT 12 (CUDA 13): 10 = PARSE_ERROR, 12 = LICENSE_ERROR, no INCOMPLETE_PARAMETER_LIST.
        Assert.Equal(10, (int)CufftResult.ParseError);
        Assert.Equal(12, (int)CufftResult.LicenseError);
        Assert.Equal(11, (int)CufftResult.InvalidDevice);
        Assert.Equal(13, (int)CufftResult.NoWorkspace);
        Assert.Equal(16, (int)CufftResult.NotSupported);
        Assert.Equal("CUFFT_PARSE_ERROR", Cufft.StatusName((CufftResult)10, 12));
        Assert.Equal("CUFFT_LICENSE_ERROR", Cufft.StatusName((CufftResult)12, 12));
        Assert.Equal("CUFFT_15", Cufft.StatusName((CufftResult)15, 12));
        // cuFFT 11 (CUDA 12) numbers the same three differently.
        Assert.Equal("CUFFT_INCOMPLETE_PARAMETER_LIST", Cufft.StatusName((CufftResult)10, 11));
        Assert.Equal("CUFFT_PARSE_ERROR", Cufft.StatusName((CufftResult)12, 11));
        Assert.Equal("CUFFT_LICENSE_ERROR", Cufft.StatusName((CufftResult)15, 11));
        Assert.Equal("CUFFT_INVALID_DEVICE", Cufft.StatusName((CufftResult)11, 11));
        // Without a cuFFT loaded, an exception names statuses by the CUDA 13 numbering.
        if (!LibraryLocator.Default.Resolve(CudaLibrary.Cufft).Loaded)
            Assert.Equal("CUFFT_PARSE_ERROR", Assert.Throws<CufftException>(() => Cufft.Check((CufftResult)10)).StatusName);
    }

    [Fact]
    public void Multi_line_call_text_becomes_one_line()
    {
        var e = Assert.Throws<CublasException>(() => Cublas.Check(
            CublasStatus.InvalidValue));
        Assert.DoesNotContain('\n', e.Message);
        Assert.Contains("CublasStatus.InvalidValue", e.Message);
    }

    [Fact]
    public void A_binding_without_its_library_throws_a_native_exception_naming_it()
    {
        Assert.SkipWhen(LibraryLocator.Default.Resolve(CudaLibrary.Driver).Loaded, "libcuda.so.1 is installed here");
        var e = Assert.Throws<NativeException>(() => CudaNative.cuInit(0));
        Assert.Contains("libcuda.so.1", e.Message);
        Assert.Contains(LibraryLocator.LibDirVariable, e.Message);
    }
}
