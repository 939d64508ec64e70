namespace Ser.Native;

/// <summary>cufftResult (cufft.h). Some codes exist only in cuFFT 11 or only in cuFFT 12.</summary>
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
    IncompleteParameterList = 10,
    InvalidDevice = 11,
    ParseError = 12,
    NoWorkspace = 13,
    NotImplemented = 14,
    LicenseError = 15,
    NotSupported = 16,
    MissingDependency = 17,
    NvrtcFailure = 18,
    NvjitlinkFailure = 19,
    NvshmemFailure = 20,
}
