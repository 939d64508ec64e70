namespace Ser.Engine;

/// <summary>
/// A problem with the user's input or environment (a bad file, a bad option, a missing library).
/// Its message is one line, meant to be printed as is; the CLI turns it into a non-zero exit.
/// </summary>
public class SerException : Exception
{
    public SerException(string message) : base(message) { }
    public SerException(string message, Exception inner) : base(message, inner) { }
}
