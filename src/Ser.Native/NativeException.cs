using System.Text.RegularExpressions;

namespace Ser.Native;

/// <summary>
/// Base of every error raised by Ser.Native: a failed native call (with the call, the status name
/// and the library's own error string) or a native library that could not be found.
/// </summary>
public class NativeException : Exception
{
    public NativeException(string message) : base(message) { }
    public NativeException(string message, Exception inner) : base(message, inner) { }

    /// <summary>A failed call: the message names the library, the call as written, the status and the library's text.</summary>
    protected NativeException(string library, string call, string statusName, int statusCode, string? detail)
        : base(Format(library, call, statusName, statusCode, detail))
    {
        Library = library;
        Call = call;
        StatusName = statusName;
        StatusCode = statusCode;
        Detail = detail;
    }

    /// <summary>The library that failed (e.g. "cuBLAS"); null for a plain message.</summary>
    public string? Library { get; }
    /// <summary>The call as written at the call site (via [CallerArgumentExpression]).</summary>
    public string? Call { get; }
    /// <summary>The status as the C header spells it, e.g. CUBLAS_STATUS_INVALID_VALUE.</summary>
    public string? StatusName { get; }
    public int? StatusCode { get; }
    /// <summary>The library's own description of the status (or log), if it has one.</summary>
    public string? Detail { get; }

    static string Format(string library, string call, string statusName, int statusCode, string? detail)
    {
        string text = $"{library} call {OneLine(call)} failed: {statusName} ({statusCode})";
        return string.IsNullOrWhiteSpace(detail) ? text : $"{text}: {OneLine(detail)}";
    }

    // Call texts span lines at the call site and logs are multi-line; the CLI prints one line.
    internal static string OneLine(string s) => Regex.Replace(s, @"\s+", " ").Trim();
}
