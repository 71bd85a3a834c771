using System.Globalization;
using System.Text;
using System.Text.Json;

namespace TunnelPS.Engine.Inspection;

/// <summary>
/// Writes captured exchanges as an HTTP Archive (HAR 1.2). Bodies are written as text when they are text (after
/// undoing Content-Encoding for the response content), else base64 (content.encoding "base64"; for request postData,
/// which has no encoding field in HAR 1.2, the extension field "_encoding": "base64"). TunnelPS data goes in
/// "_"-prefixed fields: _id, _tunnel, _publicUrl, _connectionId, _clientAddress, _isReplay, _replayOf, _isUnparsed,
/// _isUpgrade, _error, _requestBodySize/_responseBodySize and the truncation flags.
/// </summary>
public static class HarWriter
{
    private const string Redacted = HarRedactor.Marker;

    /// <summary>Writes <paramref name="exchanges"/> as a HAR 1.2 document to <paramref name="stream"/> (UTF-8).</summary>
    public static void Write(Stream stream, IEnumerable<CapturedExchange> exchanges, HarWriterOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(exchanges);
        options ??= new HarWriterOptions();
        using var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = options.Indented });
        writer.WriteStartObject();
        writer.WriteStartObject("log");
        writer.WriteString("version", "1.2");
        writer.WriteStartObject("creator");
        writer.WriteString("name", "TunnelPS");
        writer.WriteString("version", options.CreatorVersion);
        writer.WriteEndObject();
        writer.WriteStartArray("entries");
        foreach (var exchange in exchanges)
        {
            WriteEntry(writer, exchange, options);
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
        writer.WriteEndObject();
        writer.Flush();
    }

    /// <summary>The HAR 1.2 document as a string.</summary>
    public static string WriteToString(IEnumerable<CapturedExchange> exchanges, HarWriterOptions? options = null)
    {
        using var stream = new MemoryStream();
        Write(stream, exchanges, options);
        return Encoding.UTF8.GetString(stream.GetBuffer(), 0, (int)stream.Length);
    }

    private static void WriteEntry(Utf8JsonWriter w, CapturedExchange e, HarWriterOptions options)
    {
        w.WriteStartObject();
        w.WriteString("startedDateTime", e.StartTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffzzz", CultureInfo.InvariantCulture));
        w.WriteNumber("time", Ms(e.Duration));
        WriteRequest(w, e, options);
        WriteResponse(w, e, options);
        w.WriteStartObject("cache");
        w.WriteEndObject();
        WriteTimings(w, e);
        WriteExtensions(w, e);
        w.WriteEndObject();
    }

    private static void WriteRequest(Utf8JsonWriter w, CapturedExchange e, HarWriterOptions options)
    {
        w.WriteStartObject("request");
        w.WriteString("method", e.Method);
        w.WriteString("url", options.Redact ? HarRedactor.RedactUrl(AbsoluteUrl(e)) : AbsoluteUrl(e));
        w.WriteString("httpVersion", e.HttpVersion);
        HarCookies.Write(w, HarCookies.FromRequest(e.RequestHeaders), options);
        WriteHeaders(w, e.RequestHeaders, options);
        WriteQueryString(w, e.Target, options);
        if (!e.RequestBody.IsEmpty || e.RequestBodySize > 0)
        {
            WritePostData(w, e, options);
        }
        w.WriteNumber("headersSize", -1);
        w.WriteNumber("bodySize", e.RequestBodySize);
        w.WriteEndObject();
    }

    /// <summary>request.postData: the body as text when it is text (with the form's params), else base64.</summary>
    private static void WritePostData(Utf8JsonWriter w, CapturedExchange e, HarWriterOptions options)
    {
        var contentType = e.GetRequestHeader("Content-Type");
        w.WriteStartObject("postData");
        w.WriteString("mimeType", contentType ?? string.Empty);
        var span = e.RequestBody.Span;
        if (BodyDecoder.IsText(span, contentType))
        {
            var text = BodyDecoder.DecodeText(span, contentType);
            w.WriteString("text", options.Redact ? RedactBody(text, span, contentType) : text);
            if (BodyDecoder.GetMediaType(contentType) == FormMediaType)
            {
                WriteFormParams(w, text, options);
            }
        }
        else
        {
            w.WriteString("text", Convert.ToBase64String(span));
            w.WriteString("_encoding", "base64");
        }
        w.WriteEndObject();
    }

    private static void WriteResponse(Utf8JsonWriter w, CapturedExchange e, HarWriterOptions options)
    {
        w.WriteStartObject("response");
        w.WriteNumber("status", e.Status);
        w.WriteString("statusText", e.Reason);
        w.WriteString("httpVersion", e.Status == 0 ? string.Empty : e.HttpVersion);
        HarCookies.Write(w, HarCookies.FromResponse(e.ResponseHeaders), options);
        WriteHeaders(w, e.ResponseHeaders, options);
        WriteContent(w, e, options);
        var location = e.GetResponseHeader("Location") ?? string.Empty;
        w.WriteString("redirectURL", options.Redact ? HarRedactor.RedactUrl(location) : location);
        w.WriteNumber("headersSize", -1);
        w.WriteNumber("bodySize", e.Status == 0 ? -1 : e.ResponseBodySize);
        w.WriteEndObject();
    }

    /// <summary>response.content: the body with its Content-Encoding undone when it can be, as text when it is text, else base64.</summary>
    private static void WriteContent(Utf8JsonWriter w, CapturedExchange e, HarWriterOptions options)
    {
        w.WriteStartObject("content");
        var responseType = e.GetResponseHeader("Content-Type");
        var raw = e.ResponseBody;
        var encoding = e.GetResponseHeader("Content-Encoding");
        byte[]? decoded = null;
        if (!string.IsNullOrWhiteSpace(encoding) && !e.ResponseTruncated)
        {
            decoded = BodyDecoder.Decompress(raw.Span, encoding);
        }
        var content = decoded is null ? raw.Span : decoded;
        w.WriteNumber("size", decoded?.Length ?? e.ResponseBodySize);
        if (decoded is not null)
        {
            w.WriteNumber("compression", Math.Max(0, decoded.Length - raw.Length));
        }
        w.WriteString("mimeType", responseType ?? "x-unknown");
        if (!content.IsEmpty)
        {
            if (BodyDecoder.IsText(content, responseType))
            {
                var text = BodyDecoder.DecodeText(content, responseType);
                w.WriteString("text", options.Redact ? RedactBody(text, content, responseType) : text);
            }
            else
            {
                w.WriteString("text", Convert.ToBase64String(content));
                w.WriteString("encoding", "base64");
            }
        }
        if (decoded is not null)
        {
            w.WriteBoolean("_decoded", true);
        }
        w.WriteEndObject();
    }

    private static void WriteTimings(Utf8JsonWriter w, CapturedExchange e)
    {
        var wait = Ms(e.TimeToFirstByte);
        var total = Ms(e.Duration);
        w.WriteStartObject("timings");
        w.WriteNumber("blocked", -1);
        w.WriteNumber("dns", -1);
        w.WriteNumber("connect", -1);
        w.WriteNumber("send", 0);
        w.WriteNumber("wait", wait);
        w.WriteNumber("receive", Math.Max(0, total - wait));
        w.WriteNumber("ssl", -1);
        w.WriteEndObject();
    }

    /// <summary>TunnelPS's own fields, "_"-prefixed as HAR 1.2 asks of extensions.</summary>
    private static void WriteExtensions(Utf8JsonWriter w, CapturedExchange e)
    {
        if (e.Id > 0)
        {
            w.WriteNumber("_id", e.Id);
        }
        w.WriteString("_tunnel", e.TunnelName);
        w.WriteString("_publicUrl", e.PublicUrl);
        w.WriteNumber("_connectionId", e.ConnectionId);
        w.WriteString("_clientAddress", e.ClientAddress);
        w.WriteBoolean("_isReplay", e.IsReplay);
        if (e.ReplayOf is long replayOf)
        {
            w.WriteNumber("_replayOf", replayOf);
        }
        else
        {
            w.WriteNull("_replayOf");
        }
        w.WriteBoolean("_isUnparsed", e.IsUnparsed);
        w.WriteBoolean("_isUpgrade", e.IsUpgrade);
        w.WriteNumber("_bytesIn", e.BytesIn);
        w.WriteNumber("_bytesOut", e.BytesOut);
        w.WriteBoolean("_requestTruncated", e.RequestTruncated);
        w.WriteBoolean("_responseTruncated", e.ResponseTruncated);
        if (e.Error is not null)
        {
            w.WriteString("_error", e.Error);
        }
    }

    private static double Ms(TimeSpan span) => Math.Round(span.TotalMilliseconds, 3);

    private static string AbsoluteUrl(CapturedExchange e)
    {
        var url = e.Url;
        if (Uri.TryCreate(url, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps))
        {
            return url;
        }
        return "http://" + (string.IsNullOrEmpty(e.Host) ? "localhost" : e.Host) + (e.Target.StartsWith('/') ? e.Target : "/" + e.Target);
    }

    private const string FormMediaType = "application/x-www-form-urlencoded";

    /// <summary>A form or JSON body with the values of secret-looking names replaced; other bodies as they are.</summary>
    private static string RedactBody(string text, ReadOnlySpan<byte> body, string? contentType)
    {
        var media = BodyDecoder.GetMediaType(contentType);
        if (media == FormMediaType)
        {
            return HarRedactor.RedactPairs(text);
        }
        // application/x-ndjson and other JSON-ish types too: RedactJson falls back to name/value pairs past the first document.
        return media?.Contains("json", StringComparison.Ordinal) == true || BodyDecoder.IsJson(body, contentType) ? HarRedactor.RedactJson(text) : text;
    }

    /// <summary>postData.params of a form body: each name=value pair decoded, secret values redacted with -Redact.</summary>
    private static void WriteFormParams(Utf8JsonWriter w, string text, HarWriterOptions options)
    {
        w.WriteStartArray("params");
        WriteNameValuePairs(w, text, options);
        w.WriteEndArray();
    }

    /// <summary>Writes each name=value pair of a query string or form body as a HAR object, decoded, secret values redacted with -Redact.</summary>
    private static void WriteNameValuePairs(Utf8JsonWriter w, string pairs, HarWriterOptions options)
    {
        foreach (var pair in pairs.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            var name = HarRedactor.UnescapeForm(eq < 0 ? pair : pair[..eq]);
            w.WriteStartObject();
            w.WriteString("name", name);
            w.WriteString("value", eq < 0 ? string.Empty : options.Redact && HarRedactor.IsSecretName(name) ? Redacted : HarRedactor.UnescapeForm(pair[(eq + 1)..]));
            w.WriteEndObject();
        }
    }

    /// <summary>True when -Redact hides this header's whole value: a credential header, or one listed in the options.</summary>
    private static bool IsRedacted(string name, HarWriterOptions options)
    {
        if (!options.Redact)
        {
            return false;
        }
        if (HarRedactor.IsSecretHeader(name))
        {
            return true;
        }
        foreach (var redacted in options.RedactedHeaders)
        {
            if (string.Equals(redacted, name, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>The "headers" array; with -Redact, credential headers hidden and secrets in URL-valued headers replaced.</summary>
    private static void WriteHeaders(Utf8JsonWriter w, IReadOnlyList<KeyValuePair<string, string>> headers, HarWriterOptions options) =>
        HeaderFieldsJson.Write(w, headers, options.Redact ? (name, value) => RedactHeader(name, value, options) : null);

    private static string RedactHeader(string name, string value, HarWriterOptions options) =>
        IsRedacted(name, options) ? Redacted : HarRedactor.IsUrlHeader(name) ? HarRedactor.RedactUrl(value) : value;

    private static void WriteQueryString(Utf8JsonWriter w, string target, HarWriterOptions options)
    {
        w.WriteStartArray("queryString");
        var q = target.IndexOf('?', StringComparison.Ordinal);
        if (q >= 0)
        {
            var query = target[(q + 1)..];
            var hash = query.IndexOf('#', StringComparison.Ordinal);
            if (hash >= 0)
            {
                query = query[..hash];
            }
            WriteNameValuePairs(w, query, options);
        }
        w.WriteEndArray();
    }
}
