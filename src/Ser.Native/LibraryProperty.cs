namespace Ser.Native;

/// <summary>libraryPropertyType (library_types.h), shared by cuBLAS, cuDNN and cuFFT getProperty calls.</summary>
public enum LibraryProperty
{
    MajorVersion = 0,
    MinorVersion = 1,
    PatchLevel = 2,
}
