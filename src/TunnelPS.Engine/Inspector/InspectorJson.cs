using System.Globalization;
using System.Text.Json;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Inspection;

namespace TunnelPS.Engine.Inspector;

/// <summary>
/// The JSON of the inspector API, shaped like the ngrok agent API where that makes sense: tunnels (one entry per
/// public URL), captured requests (a summary without bodies in lists; with bodies, raw as base64 and decoded text
/// when they are text, in the detail), errors. Written with <see cref="Utf8JsonWriter"/>, whose default encoder
/// escapes &lt;, &gt;, &amp; and quotes, so no captured byte reaches the page as markup even if a reader mistook the
/// JSON for HTML. <see cref="InspectorClient"/> reads the detail back.
/// </summary>
internal static class InspectorJson
{
    internal const string RequestsPath = "/api/requests/http";
    internal const string TunnelsPath = "/api/tunnels";

    /// <summary>The bytes of one JSON document written by <paramref name="write"/>.</summary>
    public static byte[] Write(Action<Utf8JsonWriter> write)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            write(writer);
        }
        return stream.ToArray();
    }

    /// <summary>An error in the ngrok shape: {"status_code":404,"msg":"..."}.</summary>
    public static byte[] Error(int status, string message) => Write(w =>
    {
        w.WriteStartObject();
        w.WriteNumber("status_code", status);
        w.WriteString("msg", message);
        w.WriteEndObject();
    });

    public static void WriteTunnel(Utf8JsonWriter w, TunnelEndpoint endpoint)
    {
        w.WriteStartObject();
        w.WriteString("name", endpoint.ApiName);
        w.WriteString("uri", TunnelsPath + "/" + Uri.EscapeDataString(endpoint.ApiName));
        // The session's name, shared by the http and https URLs of one tunnel: the tunnel_name of its requests.
        w.WriteString("tunnel_name", endpoint.Name);
        w.WriteString("public_url", endpoint.PublicUrl);
        w.WriteString("proto", endpoint.Protocol);
        w.WriteStartObject("config");
        var local = endpoint.Definition.Local;
        w.WriteString("addr", endpoint.Protocol == "tcp" ? local.ToString() : $"{(local.UseTls ? "https" : "http")}://{local.Host}:{local.Port.ToString(CultureInfo.InvariantCulture)}");
        w.WriteBoolean("inspect", endpoint.Protocol != "tcp" && endpoint.Client.CaptureFor(endpoint.Definition) is not null);
        w.WriteEndObject();
        w.WriteString("status", endpoint.Status.ToString().ToLowerInvariant());
        if (endpoint.Error is { Length: > 0 } error)
        {
            w.WriteString("error", error);
        }
        w.WriteNumber("connections", endpoint.ConnectionCount);
        w.WriteString("started_at", endpoint.StartTime);
        w.WriteEndObject();
    }

    public static void WriteTunnels(Utf8JsonWriter w, IReadOnlyList<TunnelEndpoint> endpoints)
    {
        w.WriteStartObject();
        w.WriteStartArray("tunnels");
        foreach (var endpoint in endpoints)
        {
            WriteTunnel(w, endpoint);
        }
        w.WriteEndArray();
        w.WriteString("uri", TunnelsPath);
        w.WriteEndObject();
    }

    /// <summary>
    /// One captured exchange; with <paramref name="bodies"/>, the bodies too (the detail), and with
    /// <paramref name="copyOrigin"/>, the origin the page's copied commands target (see <see cref="CopyOrigin"/>).
    /// </summary>
    public static void WriteExchange(Utf8JsonWriter w, CapturedExchange e, bool bodies, string? copyOrigin = null)
    {
        w.WriteStartObject();
        WriteSummary(w, e, copyOrigin);
        WriteRequest(w, e, bodies);
        WriteResponse(w, e, bodies);
        w.WriteEndObject();
    }

    /// <summary>The exchange's own fields, before its request and response.</summary>
    private static void WriteSummary(Utf8JsonWriter w, CapturedExchange e, string? copyOrigin)
    {
        var id = e.Id.ToString(CultureInfo.InvariantCulture);
        w.WriteString("uri", RequestsPath + "/" + id);
        w.WriteNumber("id", e.Id);
        w.WriteString("tunnel_name", e.TunnelName);
        w.WriteString("public_url", e.PublicUrl);
        w.WriteString("local_addr", e.LocalAddress);
        w.WriteString("remote_addr", e.ClientAddress);
        w.WriteNumber("connection_id", e.ConnectionId);
        w.WriteString("start", e.StartTime);
        // Nanoseconds, as ngrok's API; the page shows milliseconds.
        w.WriteNumber("duration", e.Duration.Ticks * 100);
        w.WriteNumber("ttfb", e.TimeToFirstByte.Ticks * 100);
        w.WriteString("url", e.Url);
        if (copyOrigin is not null)
        {
            w.WriteString("copy_origin", copyOrigin);
        }
        w.WriteNumber("bytes_in", e.BytesIn);
        w.WriteNumber("bytes_out", e.BytesOut);
        w.WriteBoolean("is_replay", e.IsReplay);
        if (e.ReplayOf is long replayOf)
        {
            w.WriteNumber("replay_of", replayOf);
        }
        else
        {
            w.WriteNull("replay_of");
        }
        w.WriteBoolean("is_unparsed", e.IsUnparsed);
        w.WriteBoolean("is_upgrade", e.IsUpgrade);
        if (e.Error is not null)
        {
            w.WriteString("error", e.Error);
        }
    }

    private static void WriteRequest(Utf8JsonWriter w, CapturedExchange e, bool bodies)
    {
        w.WriteStartObject("request");
        w.WriteString("method", e.Method);
        w.WriteString("proto", e.HttpVersion);
        w.WriteString("uri", e.Target);
        w.WriteString("path", e.Path);
        if (e.Host is not null)
        {
            w.WriteString("host", e.Host);
        }
        if (e.Scheme is not null)
        {
            w.WriteString("scheme", e.Scheme);
        }
        WriteHeaders(w, e.RequestHeaders);
        w.WriteNumber("body_size", e.RequestBodySize);
        w.WriteBoolean("truncated", e.RequestTruncated);
        if (bodies)
        {
            WriteBody(w, e.RequestBody, e.RequestBodySize, e.RequestTruncated, e.RequestHeaders);
            if (!e.IsUnparsed)
            {
                w.WriteBase64String("raw", RawMessage.Request(e));
            }
        }
        w.WriteEndObject();
    }

    /// <summary>The final response, or null when none came (Status 0).</summary>
    private static void WriteResponse(Utf8JsonWriter w, CapturedExchange e, bool bodies)
    {
        if (e.Status == 0)
        {
            w.WriteNull("response");
        }
        else
        {
            w.WriteStartObject("response");
            w.WriteString("status", string.IsNullOrEmpty(e.Reason) ? e.Status.ToString(CultureInfo.InvariantCulture) : $"{e.Status.ToString(CultureInfo.InvariantCulture)} {e.Reason}");
            w.WriteNumber("status_code", e.Status);
            w.WriteString("reason", e.Reason);
            w.WriteString("proto", e.HttpVersion);
            WriteHeaders(w, e.ResponseHeaders);
            w.WriteNumber("body_size", e.ResponseBodySize);
            w.WriteBoolean("truncated", e.ResponseTruncated);
            if (bodies)
            {
                WriteBody(w, e.ResponseBody, e.ResponseBodySize, e.ResponseTruncated, e.ResponseHeaders);
                if (!e.IsUnparsed)
                {
                    w.WriteBase64String("raw", RawMessage.Response(e));
                }
            }
            w.WriteEndObject();
        }
    }

    /// <summary>Header fields in wire order, duplicates kept: [{"name":"Host","value":"…"}, …], as HAR writes them.</summary>
    private static void WriteHeaders(Utf8JsonWriter w, IReadOnlyList<KeyValuePair<string, string>> headers) => HeaderFieldsJson.Write(w, headers);

    private static void WriteBody(Utf8JsonWriter w, ReadOnlyMemory<byte> raw, long size, bool truncated, IReadOnlyList<KeyValuePair<string, string>> headers)
    {
        var view = BodyView.Of(raw, truncated, headers);
        w.WriteStartObject("body");
        w.WriteNumber("size", size);
        w.WriteNumber("captured", raw.Length);
        w.WriteBoolean("truncated", truncated);
        w.WriteString("content_type", view.ContentType);
        w.WriteString("media_type", view.MediaType);
        w.WriteString("encoding", view.ContentEncoding);
        w.WriteBase64String("raw", raw.Span);
        w.WriteBoolean("decoded", view.Decoded);
        w.WriteString("kind", view.Kind);
        if (view.Text is not null)
        {
            w.WriteString("text", view.Text);
        }
        else
        {
            w.WriteNull("text");
        }
        w.WriteEndObject();
    }
}
