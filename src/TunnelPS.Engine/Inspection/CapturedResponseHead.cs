using TunnelPS.Engine.Http;

namespace TunnelPS.Engine.Inspection;

/// <summary>What a captured response head says, parsed once from its bytes.</summary>
internal sealed class CapturedResponseHead
{
    private static readonly CapturedResponseHead Unreadable = new(string.Empty, []);

    private CapturedResponseHead(string reason, KeyValuePair<string, string>[] headers)
    {
        Reason = reason;
        Headers = headers;
    }

    public string Reason { get; }

    public KeyValuePair<string, string>[] Headers { get; }

    public static CapturedResponseHead Parse(byte[] head)
    {
        try
        {
            return HttpHeadParser.TryParseResponseHead(head, out var parsed, out _)
                ? new CapturedResponseHead(parsed.Reason, parsed.Headers.ToArray())
                : Unreadable;
        }
        catch (HttpParseException)
        {
            return Unreadable;
        }
    }
}
