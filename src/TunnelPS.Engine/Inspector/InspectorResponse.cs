using System.Globalization;
using System.Text;
using TunnelPS.Engine.Http;

namespace TunnelPS.Engine.Inspector;

/// <summary>
/// One response of the inspector. Every response carries the headers that keep captured traffic inert in the
/// admin's browser: nosniff, no referrer, a Content-Security-Policy that allows scripts, styles, images and
/// connections from the inspector itself only and no framing by anyone, and no caching unless an asset allows it.
/// </summary>
internal sealed class InspectorResponse
{
    /// <summary>The policy of the page and every API answer: nothing inline, nothing from another origin.</summary>
    internal const string PagePolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; frame-src 'self'; " +
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    /// <summary>The policy of an HTML preview: a sandbox (no scripts, an opaque origin), no loads but inline styles and data images, framed by the page only.</summary>
    internal const string PreviewPolicy = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'";

    private InspectorResponse(int status, string reason, string? contentType, ReadOnlyMemory<byte> body)
    {
        Status = status;
        Reason = reason;
        ContentType = contentType;
        Body = body;
    }

    public int Status { get; }

    public string Reason { get; }

    public string? ContentType { get; }

    public ReadOnlyMemory<byte> Body { get; }

    /// <summary>Headers beyond the standard set (Location, Content-Disposition, ETag, …).</summary>
    public List<KeyValuePair<string, string>> Headers { get; } = [];

    public string CacheControl { get; set; } = "no-store";

    public string Policy { get; private set; } = PagePolicy;

    /// <summary>The connection closes after this response.</summary>
    public bool Close { get; init; }

    /// <summary>The connection becomes a live event stream after this head (no body, no length).</summary>
    public bool IsEventStream { get; private init; }

    public static InspectorResponse Json(int status, byte[] json) => new(status, ReasonOf(status), "application/json; charset=utf-8", json);

    public static InspectorResponse Error(int status, string message) => Json(status, InspectorJson.Error(status, message));

    public static InspectorResponse NoContent() => new(204, ReasonOf(204), null, ReadOnlyMemory<byte>.Empty);

    public static InspectorResponse Bytes(int status, string contentType, ReadOnlyMemory<byte> body) => new(status, ReasonOf(status), contentType, body);

    public static InspectorResponse NotModified() => new(304, ReasonOf(304), null, ReadOnlyMemory<byte>.Empty);

    public static InspectorResponse EventStream() => new(200, "OK", "text/event-stream; charset=utf-8", ReadOnlyMemory<byte>.Empty) { IsEventStream = true, Close = true };

    /// <summary>Sets the Content-Security-Policy of this response; returns it.</summary>
    public InspectorResponse WithPolicy(string policy)
    {
        Policy = policy;
        return this;
    }

    /// <summary>The head and body as they go on the wire.</summary>
    public byte[] Serialize(bool keepAlive, bool headOnly)
    {
        var head = new HttpResponseHead(Status, Reason);
        var headers = head.Headers;
        if (ContentType is not null)
        {
            headers.Add("Content-Type", ContentType);
        }
        if (!IsEventStream && Status != 204 && Status != 304)
        {
            headers.Add("Content-Length", Body.Length.ToString(CultureInfo.InvariantCulture));
        }
        headers.Add("Cache-Control", CacheControl);
        headers.Add("X-Content-Type-Options", "nosniff");
        headers.Add("Referrer-Policy", "no-referrer");
        headers.Add("Content-Security-Policy", Policy);
        headers.Add("X-Frame-Options", ReferenceEquals(Policy, PreviewPolicy) ? "SAMEORIGIN" : "DENY");
        headers.Add("Cross-Origin-Opener-Policy", "same-origin");
        headers.Add("Cross-Origin-Resource-Policy", "same-origin");
        foreach (var header in Headers)
        {
            headers.Add(header.Key, header.Value);
        }
        if (!keepAlive || Close)
        {
            headers.Add("Connection", "close");
        }
        var headLength = head.GetSerializedLength();
        var bodyLength = headOnly || IsEventStream ? 0 : Body.Length;
        var bytes = new byte[headLength + bodyLength];
        head.WriteTo(bytes);
        Body.Span[..bodyLength].CopyTo(bytes.AsSpan(headLength));
        return bytes;
    }

    private static string ReasonOf(int status) => status switch
    {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        303 => "See Other",
        304 => "Not Modified",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    };

    /// <summary>A text/plain body in UTF-8.</summary>
    public static InspectorResponse Text(int status, string text) => Bytes(status, "text/plain; charset=utf-8", Encoding.UTF8.GetBytes(text));
}
