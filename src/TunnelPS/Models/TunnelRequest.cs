using TunnelPS.Engine;
using TunnelPS.Engine.Inspection;

namespace TunnelPS;

/// <summary>
/// One captured HTTP request and its response (Get-TunnelRequest, Wait-TunnelRequest,
/// Invoke-TunnelReplay, Import-TunnelRequest). A snapshot: it does not change once written.
/// Body texts are decoded (charset, gzip/deflate/br) on first access. Every text a visitor, the local service or a HAR
/// file filled shows its control characters visibly (<see cref="TerminalText"/>; body texts keep TAB, LF and CR LF), so
/// none reaches the terminal as an escape sequence; <see cref="RequestBody"/> and <see cref="ResponseBody"/> keep the
/// bytes as they were, and replay and export use the capture itself.
/// </summary>
public sealed class TunnelRequest
{
    private readonly CapturedExchange _exchange;
    private byte[]? _requestBody;
    private byte[]? _responseBody;
    private string? _requestBodyText;
    private string? _responseBodyText;
    private TunnelRequestHeaderCollection? _requestHeaders;
    private TunnelRequestHeaderCollection? _responseHeaders;

    internal TunnelRequest(CapturedExchange exchange, CaptureStore store)
    {
        ArgumentNullException.ThrowIfNull(exchange);
        ArgumentNullException.ThrowIfNull(store);
        _exchange = exchange;
        Store = store;
    }

    /// <summary>A request read from another session's web inspector (Get-TunnelRequest -InspectUrl).</summary>
    internal TunnelRequest(CapturedExchange exchange, Uri inspectUrl)
    {
        ArgumentNullException.ThrowIfNull(exchange);
        ArgumentNullException.ThrowIfNull(inspectUrl);
        _exchange = exchange;
        InspectUrl = inspectUrl.GetLeftPart(UriPartial.Authority);
    }

    /// <summary>The id of the exchange: unique in this session across all tunnels (imported requests get new ids).</summary>
    public long Id => _exchange.Id;

    /// <summary>The name of the tunnel the request came through.</summary>
    public string Tunnel => TerminalText.Line(_exchange.TunnelName);

    /// <summary>The request method (GET, POST, ...).</summary>
    public string Method => TerminalText.Line(_exchange.Method);

    /// <summary>The path of the request target, without the query.</summary>
    public string Path => TerminalText.Line(_exchange.Path);

    /// <summary>The request target as sent: path and query.</summary>
    public string Target => TerminalText.Line(_exchange.Target);

    /// <summary>The URL as the visitor addressed it (the public URL), when known.</summary>
    public string Url => TerminalText.Line(_exchange.Url);

    /// <summary>The HTTP status code of the response; 0 when there was none.</summary>
    public int Status => _exchange.Status;

    /// <summary>The reason phrase of the response.</summary>
    public string Reason => TerminalText.Line(_exchange.Reason);

    /// <summary>HTTP/1.1 or HTTP/1.0.</summary>
    public string HttpVersion => TerminalText.Line(_exchange.HttpVersion);

    /// <summary>When the first byte of the request was seen.</summary>
    public DateTimeOffset StartTime => _exchange.StartTime;

    /// <summary>From the first request byte to the first response byte.</summary>
    public TimeSpan TimeToFirstByte => _exchange.TimeToFirstByte;

    /// <summary>From the first request byte to the end of the response.</summary>
    public TimeSpan Duration => _exchange.Duration;

    /// <summary>The visitor's ip:port (for a replay, the local end of the replay connection).</summary>
    public string ClientAddress => TerminalText.Line(_exchange.ClientAddress);

    /// <summary>Request header fields in wire order; index by name: <c>$r.RequestHeaders['User-Agent']</c>.</summary>
    public TunnelRequestHeaderCollection RequestHeaders => _requestHeaders ??= new TunnelRequestHeaderCollection(_exchange.RequestHeaders);

    /// <summary>
    /// The request body bytes as received (chunk framing removed), up to the capture cap. Read from the capture the
    /// first time it is asked for and kept with this object; empty if the capture evicted or cleared the request first.
    /// </summary>
    public byte[] RequestBody => _requestBody ??= _exchange.RequestBody.ToArray();

    /// <summary>The request body as text: content encoding undone, decoded by its charset (UTF-8 by default).</summary>
    public string RequestBodyText => _requestBodyText ??= TerminalText.Lines(DecodeText(RequestBody, _exchange.RequestHeaders, _exchange.GetRequestHeader("Content-Type")));

    /// <summary>Response header fields in wire order; index by name: <c>$r.ResponseHeaders['Content-Type']</c>.</summary>
    public TunnelRequestHeaderCollection ResponseHeaders => _responseHeaders ??= new TunnelRequestHeaderCollection(_exchange.ResponseHeaders);

    /// <summary>The response body bytes as received (chunk framing removed, content encoding kept), up to the capture cap.</summary>
    public byte[] ResponseBody => _responseBody ??= _exchange.ResponseBody.ToArray();

    /// <summary>The response body as text: gzip/deflate/br undone, decoded by its charset (UTF-8 by default).</summary>
    public string ResponseBodyText => _responseBodyText ??= TerminalText.Lines(DecodeText(ResponseBody, _exchange.ResponseHeaders, _exchange.GetResponseHeader("Content-Type")));

    /// <summary>The Content-Type of the response.</summary>
    public string? ContentType => TerminalText.Line(_exchange.GetResponseHeader("Content-Type"));

    /// <summary>Whether the response body is JSON (by its media type or its content).</summary>
    public bool IsJson
    {
        get
        {
            byte[] decoded = BodyDecoder.DecodeContent(ResponseBody, _exchange.ResponseHeaders) ?? ResponseBody;
            return BodyDecoder.IsJson(decoded, _exchange.GetResponseHeader("Content-Type"));
        }
    }

    /// <summary>Request bytes on the wire (head and framed body).</summary>
    public long BytesIn => _exchange.BytesIn;

    /// <summary>Response bytes on the wire.</summary>
    public long BytesOut => _exchange.BytesOut;

    /// <summary>True when a body was cut at the capture cap (the full sizes are still counted).</summary>
    public bool Truncated => _exchange.RequestTruncated || _exchange.ResponseTruncated;

    /// <summary>True for a request that Invoke-TunnelReplay sent.</summary>
    public bool IsReplay => _exchange.IsReplay;

    /// <summary>For a replay, the id of the request that was replayed.</summary>
    public long? ReplayOf => _exchange.ReplayOf;

    /// <summary>True for a request read from a HAR file by Import-TunnelRequest (Get-TunnelRequest -Source Imported).</summary>
    public bool IsImported => _exchange.IsImported;

    /// <summary>http or https: the scheme of the public URL the visitor used (for a replay, of the URL it was sent to); empty when unknown.</summary>
    public string Scheme => TerminalText.Line(_exchange.Scheme ?? string.Empty);

    /// <summary>The bytes were not HTTP; they were passed through untouched.</summary>
    public bool IsUnparsed => _exchange.IsUnparsed;

    /// <summary>The connection switched protocols (WebSocket) after this exchange.</summary>
    public bool IsUpgrade => _exchange.IsUpgrade;

    /// <summary>What went wrong, when the exchange is incomplete.</summary>
    public string? Error => TerminalText.Line(_exchange.Error);

    /// <summary>
    /// The web inspector this request was read from (Get-TunnelRequest -InspectUrl), e.g. http://127.0.0.1:4040;
    /// Invoke-TunnelReplay replays it there. Null for a request of this session.
    /// </summary>
    public string? InspectUrl { get; }

    /// <summary>The engine record behind this object.</summary>
    internal CapturedExchange Exchange => _exchange;

    /// <summary>The capture store the exchange is held in; null for a request of another session (<see cref="InspectUrl"/>).</summary>
    internal CaptureStore? Store { get; }

    /// <summary>"#id METHOD target -> status".</summary>
    public override string ToString() => TerminalText.Line(_exchange.ToString());

    private static string DecodeText(ReadOnlyMemory<byte> body, IReadOnlyList<KeyValuePair<string, string>> headers, string? contentType)
    {
        if (body.IsEmpty)
        {
            return string.Empty;
        }

        byte[]? decoded = BodyDecoder.DecodeContent(body, headers);
        return decoded is null ? BodyDecoder.DecodeText(body.Span, contentType) : BodyDecoder.DecodeText(decoded, contentType);
    }
}
