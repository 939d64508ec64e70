namespace Ser.Native;

/// <summary>
/// cufftResult as cuFFT 12 (CUDA 13) numbers it: cufft.h of CUDA 13 dropped CUFFT_INCOMPLETE_PARAMETER_LIST and
/// renumbered CUFFT_PARSE_ERROR to 10 and CUFFT_LICENSE_ERROR to 12 (NVIDIA's nvmath-python cuFFT bindings list
/// PARSE_ERROR = 10, LICENSE_ERROR = 12 for it, and RAPIDS guards INCOMPLETE_PARAMETER_LIST with CUDART_VERSION &lt; 13000).
/// cuFFT 11 (CUDA 12) numbers those three 10, 12 and 15: <see cref="Cufft.StatusName"/> names a status by the
/// numbering of the library actually loaded.
/// </summary>
public enum CufftResult
{
    Success = 0,
    InvalidPlan = 1,
    AllocFailed = 2,
    InvalidType = 3,
    InvalidValue = 4,
    InternalError = 5,
    ExecFailed = 6,
    SetupFailed = 7,
    InvalidSize = 8,
    UnalignedData = 9,
    ParseError = 10,
    InvalidDevice = 11,
    LicenseError = 12,
    NoWorkspace = 13,
    NotImplemented = 14,
    NotSupported = 16,
    MissingDependency = 17,
    NvrtcFailure = 18,
    NvjitlinkFailure = 19,
    NvshmemFailure = 20,
}
