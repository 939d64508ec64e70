using System.Text;

namespace Ser.Native;

/// <summary>Turns a .NET status name back into the C header's spelling for messages.</summary>
internal static class NativeNames
{
    /// <summary>"ErrorOutOfMemory" with prefix "CUDA_" → "CUDA_ERROR_OUT_OF_MEMORY"; unknown values → prefix + number.</summary>
    public static string CName<T>(T status, string prefix) where T : struct, Enum
    {
        string? name = Enum.GetName(status);
        if (name is null)
            return prefix + Convert.ToInt64(status, System.Globalization.CultureInfo.InvariantCulture);
        var sb = new StringBuilder(prefix);
        for (int i = 0; i < name.Length; i++)
        {
            char c = name[i];
            if (i > 0 && char.IsUpper(c) && (char.IsLower(name[i - 1]) || char.IsDigit(name[i - 1])))
                sb.Append('_');
            sb.Append(char.ToUpperInvariant(c));
        }
        return sb.ToString();
    }

    /// <summary>A NUL-terminated C string owned by the library (never freed by us).</summary>
    public static unsafe string? FromUtf8(byte* s) =>
        s is null ? null : Encoding.UTF8.GetString(System.Runtime.InteropServices.MemoryMarshal.CreateReadOnlySpanFromNullTerminated(s));
}
