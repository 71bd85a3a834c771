using TunnelPS.Engine.Http;

namespace TunnelPS.Engine.Inspection;

/// <summary>What a captured request head says, parsed once from its bytes.</summary>
internal sealed class CapturedRequestHead
{
    private static readonly CapturedRequestHead Unreadable = new(string.Empty, string.Empty, "HTTP/1.1", [], null);

    private CapturedRequestHead(string method, string target, string version, KeyValuePair<string, string>[] headers, string? host)
    {
        Method = method;
        Target = target;
        Version = version;
        Headers = headers;
        Host = host;
    }

    public string Method { get; }

    public string Target { get; }

    public string Version { get; }

    public KeyValuePair<string, string>[] Headers { get; }

    public string? Host { get; }

    /// <summary>The tap kept only heads the parser accepts; anything else reads as no head.</summary>
    public static CapturedRequestHead Parse(byte[] head)
    {
        try
        {
            return HttpHeadParser.TryParseRequestHead(head, out var parsed, out _)
                ? new CapturedRequestHead(parsed.Method, parsed.Target, parsed.Version, parsed.Headers.ToArray(), parsed.Host)
                : Unreadable;
        }
        catch (HttpParseException)
        {
            return Unreadable;
        }
    }
}
