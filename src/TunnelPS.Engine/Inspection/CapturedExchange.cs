namespace TunnelPS.Engine.Inspection;

/// <summary>
/// One captured HTTP request/response pair (or one stretch of bytes that was not HTTP, <see cref="IsUnparsed"/>).
/// Immutable once it is in a <see cref="CaptureStore"/>; the store assigns <see cref="Id"/>.
/// </summary>
public sealed class CapturedExchange
{
    private static readonly KeyValuePair<string, string>[] NoHeaders = [];

    /// <summary>The store-assigned id, increasing monotonically per store; 0 before the exchange is stored.</summary>
    public long Id { get; private set; }

    public string TunnelName { get; init; } = string.Empty;

    /// <summary>The tunnel's public URL, e.g. "https://blog.example.com".</summary>
    public string PublicUrl { get; init; } = string.Empty;

    /// <summary>The local address the tunnel forwards to, e.g. "localhost:3000".</summary>
    public string LocalAddress { get; init; } = string.Empty;

    /// <summary>The tunnelled connection this exchange travelled on (several exchanges share one on keep-alive).</summary>
    public long ConnectionId { get; init; }

    /// <summary>The visitor's "ip:port".</summary>
    public string ClientAddress { get; init; } = string.Empty;

    public string Method { get; init; } = string.Empty;

    /// <summary>The request target as sent: usually path and query.</summary>
    public string Target { get; init; } = string.Empty;

    /// <summary>"HTTP/1.1" or "HTTP/1.0".</summary>
    public string HttpVersion { get; init; } = "HTTP/1.1";

    /// <summary>Request headers in wire order, duplicates kept.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> RequestHeaders { get; init; } = NoHeaders;

    /// <summary>The request body as received (chunk framing removed), up to the capture cap.</summary>
    public ReadOnlyMemory<byte> RequestBody { get; init; }

    /// <summary>The full length of the request body, also when it was cut at the cap.</summary>
    public long RequestBodySize { get; init; }

    /// <summary>True when <see cref="RequestBody"/> holds only the first part of the body.</summary>
    public bool RequestTruncated { get; init; }

    /// <summary>The final response status; 0 when there was no response.</summary>
    public int Status { get; init; }

    public string Reason { get; init; } = string.Empty;

    /// <summary>The final response's headers in wire order, duplicates kept.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> ResponseHeaders { get; init; } = NoHeaders;

    /// <summary>The response body (chunk framing removed, content encoding kept), up to the capture cap.</summary>
    public ReadOnlyMemory<byte> ResponseBody { get; init; }

    public long ResponseBodySize { get; init; }

    public bool ResponseTruncated { get; init; }

    /// <summary>When the first byte of the request was seen.</summary>
    public DateTimeOffset StartTime { get; init; }

    /// <summary>From the first request byte to the first response byte (interim responses included).</summary>
    public TimeSpan TimeToFirstByte { get; init; }

    /// <summary>From the first request byte to the end of the response.</summary>
    public TimeSpan Duration { get; init; }

    /// <summary>Request bytes on the wire (head and framed body).</summary>
    public long BytesIn { get; init; }

    /// <summary>Response bytes on the wire (interim responses, head and framed body).</summary>
    public long BytesOut { get; init; }

    /// <summary>The bytes were not HTTP/1.x; the first of them are in the request (or response) body.</summary>
    public bool IsUnparsed { get; init; }

    /// <summary>The exchange switched protocols (101, e.g. WebSocket) or opened a CONNECT tunnel; later bytes were not parsed.</summary>
    public bool IsUpgrade { get; init; }

    public bool IsReplay { get; init; }

    /// <summary>For a replay, the id of the exchange that was replayed.</summary>
    public long? ReplayOf { get; init; }

    /// <summary>"http" or "https" of the public side, when known.</summary>
    public string? Scheme { get; init; }

    /// <summary>The Host the request was addressed to.</summary>
    public string? Host { get; init; }

    /// <summary>What went wrong, when the exchange is incomplete (connection closed early, unparsable bytes).</summary>
    public string? Error { get; init; }

    /// <summary>The path part of <see cref="Target"/> (before '?').</summary>
    public string Path
    {
        get
        {
            var q = Target.IndexOf('?', StringComparison.Ordinal);
            return q < 0 ? Target : Target[..q];
        }
    }

    /// <summary>The full URL as the visitor addressed it, when the scheme and host are known; else the target.</summary>
    public string Url
    {
        get
        {
            if (Target.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || Target.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
            {
                return Target;
            }
            if (string.IsNullOrEmpty(Host))
            {
                return Target;
            }
            return $"{Scheme ?? "http"}://{Host}{Target}";
        }
    }

    /// <summary>The first request header named <paramref name="name"/> (case-insensitive), or null.</summary>
    public string? GetRequestHeader(string name) => Find(RequestHeaders, name);

    /// <summary>The first response header named <paramref name="name"/> (case-insensitive), or null.</summary>
    public string? GetResponseHeader(string name) => Find(ResponseHeaders, name);

    public override string ToString() => $"#{Id} {Method} {Target} -> {Status}";

    /// <summary>A copy carrying <paramref name="id"/>; the original is left unchanged.</summary>
    internal CapturedExchange WithId(long id)
    {
        var copy = (CapturedExchange)MemberwiseClone();
        copy.Id = id;
        return copy;
    }

    private static string? Find(IReadOnlyList<KeyValuePair<string, string>> headers, string name)
    {
        for (var i = 0; i < headers.Count; i++)
        {
            if (string.Equals(headers[i].Key, name, StringComparison.OrdinalIgnoreCase))
            {
                return headers[i].Value;
            }
        }
        return null;
    }
}
