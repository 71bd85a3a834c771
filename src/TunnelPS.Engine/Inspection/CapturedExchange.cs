using TunnelPS.Engine.Http;

namespace TunnelPS.Engine.Inspection;

/// <summary>
/// One captured HTTP request/response pair (or one stretch of bytes that was not HTTP, <see cref="IsUnparsed"/>).
/// Immutable once it is in a <see cref="CaptureStore"/>; the store assigns <see cref="Id"/>.
/// <para>
/// An exchange the capture tap recorded keeps the request and response heads as the bytes that crossed the tunnel
/// (at most <see cref="HttpHeadParser.MaxHeadLength"/> each, the head limit) and parses them the first time a property
/// drawn from them is read (<see cref="Method"/>, <see cref="Target"/>, <see cref="HttpVersion"/>,
/// <see cref="RequestHeaders"/>, <see cref="Host"/>, <see cref="Reason"/>, <see cref="ResponseHeaders"/>), so the
/// tunnel's traffic path builds no strings. A value given in an initializer is used as given.
/// </para>
/// </summary>
public sealed class CapturedExchange
{
    private static readonly KeyValuePair<string, string>[] NoHeaders = [];

    private readonly byte[]? _requestHead;
    private readonly byte[]? _responseHead;
    private CapturedRequestHead? _parsedRequest;
    private CapturedResponseHead? _parsedResponse;
    private string? _method;
    private string? _target;
    private string? _httpVersion;
    private IReadOnlyList<KeyValuePair<string, string>>? _requestHeaders;
    private string? _host;
    private bool _hostSet;
    private string? _reason;
    private IReadOnlyList<KeyValuePair<string, string>>? _responseHeaders;
    private ReadOnlyMemory<byte> _requestBody;
    private ReadOnlyMemory<byte> _responseBody;
    private PooledBody? _pooledRequestBody;
    private PooledBody? _pooledResponseBody;

    public CapturedExchange()
    {
    }

    /// <summary>An exchange whose head fields are read from the heads' bytes when first asked for.</summary>
    /// <param name="requestHead">The request head as received (a head the parser accepts), or null.</param>
    /// <param name="responseHead">The final response head as received (a head the parser accepts), or null.</param>
    internal CapturedExchange(byte[]? requestHead, byte[]? responseHead)
    {
        _requestHead = requestHead;
        _responseHead = responseHead;
    }

    /// <summary>The request head's bytes as received (the tap's exchanges), or null (built from fields: imports, replays, tests).</summary>
    internal byte[]? RequestHeadBytes => _requestHead;

    /// <summary>The final response head's bytes as received, or null.</summary>
    internal byte[]? ResponseHeadBytes => _responseHead;

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

    public string Method
    {
        get => _method ?? ParsedRequest?.Method ?? string.Empty;
        init => _method = value;
    }

    /// <summary>The request target as sent: usually path and query.</summary>
    public string Target
    {
        get => _target ?? ParsedRequest?.Target ?? string.Empty;
        init => _target = value;
    }

    /// <summary>"HTTP/1.1" or "HTTP/1.0".</summary>
    public string HttpVersion
    {
        get => _httpVersion ?? ParsedRequest?.Version ?? "HTTP/1.1";
        init => _httpVersion = value;
    }

    /// <summary>Request headers in wire order, duplicates kept.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> RequestHeaders
    {
        get => _requestHeaders ?? ParsedRequest?.Headers ?? NoHeaders;
        init => _requestHeaders = value;
    }

    /// <summary>
    /// The request body as received (chunk framing removed), up to the capture cap. A body the capture tap recorded is
    /// held in pooled chunks and copied out on each read; once the store evicted or cleared the exchange it reads as
    /// empty (<see cref="BodiesReleased"/>).
    /// </summary>
    public ReadOnlyMemory<byte> RequestBody
    {
        get => _pooledRequestBody is { } pooled ? pooled.ToArray() : _requestBody;
        init => _requestBody = value;
    }

    /// <summary>The captured request body in pooled chunks (the capture tap's), instead of <see cref="RequestBody"/>'s array.</summary>
    internal PooledBody? PooledRequestBody
    {
        get => _pooledRequestBody;
        init => _pooledRequestBody = value;
    }

    /// <summary>The full length of the request body, also when it was cut at the cap.</summary>
    public long RequestBodySize { get; init; }

    /// <summary>True when <see cref="RequestBody"/> holds only the first part of the body.</summary>
    public bool RequestTruncated { get; init; }

    /// <summary>The final response status; 0 when there was no response.</summary>
    public int Status { get; init; }

    public string Reason
    {
        get => _reason ?? ParsedResponse?.Reason ?? string.Empty;
        init => _reason = value;
    }

    /// <summary>The final response's headers in wire order, duplicates kept.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> ResponseHeaders
    {
        get => _responseHeaders ?? ParsedResponse?.Headers ?? NoHeaders;
        init => _responseHeaders = value;
    }

    /// <summary>The response body (chunk framing removed, content encoding kept), up to the capture cap; see <see cref="RequestBody"/> for how it is held.</summary>
    public ReadOnlyMemory<byte> ResponseBody
    {
        get => _pooledResponseBody is { } pooled ? pooled.ToArray() : _responseBody;
        init => _responseBody = value;
    }

    /// <summary>The captured response body in pooled chunks, instead of <see cref="ResponseBody"/>'s array.</summary>
    internal PooledBody? PooledResponseBody
    {
        get => _pooledResponseBody;
        init => _pooledResponseBody = value;
    }

    /// <summary>True once the store evicted or cleared this exchange and gave its pooled bodies back: they read as empty.</summary>
    public bool BodiesReleased => _pooledRequestBody?.IsReleased == true || _pooledResponseBody?.IsReleased == true;

    /// <summary>
    /// What holding this exchange costs, roughly: the heads, and the bodies (the chunks rented for pooled ones). Fixed
    /// once stored; the store's byte budget counts it.
    /// </summary>
    internal long RetainedBytes =>
        (_requestHead?.Length ?? 0) + (_responseHead?.Length ?? 0)
        + (_pooledRequestBody?.RetainedBytes ?? _requestBody.Length)
        + (_pooledResponseBody?.RetainedBytes ?? _responseBody.Length);

    /// <summary>The <see cref="RetainedBytes"/> the store counted when it stored the exchange.</summary>
    internal long StoredBytes { get; set; }

    /// <summary>Gives the pooled bodies back (the store evicted or cleared the exchange).</summary>
    internal void ReleaseBodies()
    {
        _pooledRequestBody?.Release();
        _pooledResponseBody?.Release();
    }

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

    /// <summary>The exchange was read from a HAR file (Import-TunnelRequest), not captured in this session.</summary>
    public bool IsImported { get; init; }

    /// <summary>For a replay, the id of the exchange that was replayed.</summary>
    public long? ReplayOf { get; init; }

    /// <summary>"http" or "https" of the public side, when known.</summary>
    public string? Scheme { get; init; }

    /// <summary>The Host the request was addressed to.</summary>
    public string? Host
    {
        get => _hostSet ? _host : ParsedRequest?.Host;
        init
        {
            _host = value;
            _hostSet = true;
        }
    }

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

    /// <summary>
    /// The full URL as the visitor addressed it, rebuilt from parts that are checked first so that it can never name
    /// another host than the one the request was addressed to: the scheme, <see cref="Host"/> only when it is a valid
    /// host[:port], and the target by its form (RFC 9112 3.3): a path as it is, an absolute http(s) URL as it is when its
    /// host is valid, nothing for '*' and CONNECT's host:port, and anything else percent-encoded as one path segment.
    /// Without a valid host it is the path alone.
    /// </summary>
    public string Url
    {
        get
        {
            var form = RequestTarget.Classify(Target, out _, out _);
            if (form == RequestTargetForm.Absolute)
            {
                return Target;
            }
            var path = form switch
            {
                RequestTargetForm.Origin => Target,
                RequestTargetForm.Asterisk or RequestTargetForm.Authority => "",
                _ => "/" + Uri.EscapeDataString(Target),
            };
            // The Host header, never an authority taken from a target that is not a valid absolute URL.
            // (A host given as null, as an API reader gives it for an exchange without one, leaves the Host header.)
            var host = _hostSet && _host is not null ? _host : GetRequestHeader("Host");
            if (!HostAuthority.IsValid(host))
            {
                // A path alone, which no reader can take for a host ("//name" would be one).
                return "/" + path.TrimStart('/');
            }
            return $"{(Scheme is "https" ? "https" : "http")}://{host}{path}";
        }
    }

    /// <summary>The first request header named <paramref name="name"/> (case-insensitive), or null.</summary>
    public string? GetRequestHeader(string name) => Find(RequestHeaders, name);

    /// <summary>The first response header named <paramref name="name"/> (case-insensitive), or null.</summary>
    public string? GetResponseHeader(string name) => Find(ResponseHeaders, name);

    public override string ToString() => $"#{Id} {Method} {Target} -> {Status}";

    /// <summary>A copy not yet stored (its id is 0), for a store that must leave the caller's object unchanged.</summary>
    internal CapturedExchange Copy()
    {
        var copy = (CapturedExchange)MemberwiseClone();
        copy.Id = 0;
        // The copy gets its own arrays: pooled chunks have one owner, which releases them.
        if (_pooledRequestBody is { } request)
        {
            copy._requestBody = request.ToArray();
            copy._pooledRequestBody = null;
        }
        if (_pooledResponseBody is { } response)
        {
            copy._responseBody = response.ToArray();
            copy._pooledResponseBody = null;
        }
        return copy;
    }

    /// <summary>Gives a not yet stored exchange its id (the store does, once, before anyone else can see it).</summary>
    /// <exception cref="InvalidOperationException">The exchange already has an id.</exception>
    internal void AssignId(long id)
    {
        if (Id != 0)
        {
            throw new InvalidOperationException($"Exchange #{Id} is already stored; store a copy.");
        }
        Id = id;
    }

    /// <summary>The request head's fields, parsed on first use; null when there are no head bytes.</summary>
    private CapturedRequestHead? ParsedRequest
    {
        get
        {
            if (_requestHead is null)
            {
                return null;
            }
            var parsed = Volatile.Read(ref _parsedRequest);
            if (parsed is null)
            {
                // Readers may race here; they parse the same bytes and keep the first result.
                Interlocked.CompareExchange(ref _parsedRequest, CapturedRequestHead.Parse(_requestHead), null);
                parsed = _parsedRequest;
            }
            return parsed;
        }
    }

    /// <summary>The response head's fields, parsed on first use; null when there are no head bytes.</summary>
    private CapturedResponseHead? ParsedResponse
    {
        get
        {
            if (_responseHead is null)
            {
                return null;
            }
            var parsed = Volatile.Read(ref _parsedResponse);
            if (parsed is null)
            {
                Interlocked.CompareExchange(ref _parsedResponse, CapturedResponseHead.Parse(_responseHead), null);
                parsed = _parsedResponse;
            }
            return parsed;
        }
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
