namespace TunnelPS.Engine;

/// <summary>Helps build user-facing messages that quote another message (an exception's) inside a sentence.</summary>
internal static class MessageText
{
    /// <summary>
    /// <paramref name="message"/> without its closing period (and trailing white space), so that the caller's
    /// ". Next sentence" does not make it "received.. Next sentence".
    /// </summary>
    public static string Clause(string? message) => (message ?? string.Empty).TrimEnd().TrimEnd('.');
}
