using System.Globalization;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using TunnelPS.Engine.Inspection;

namespace TunnelPS.Engine.Inspector;

/// <summary>
/// Reads captured exchanges from another process's inspector through its API and replays them there: what lets a
/// second PowerShell window work with the first one's tunnels. The exchanges it returns carry the inspector's ids
/// and are stored nowhere here.
/// </summary>
public sealed class InspectorClient : IDisposable
{
    private readonly HttpClient _http;

    /// <param name="inspectUrl">The inspector's address, e.g. http://127.0.0.1:4040 (a path is ignored).</param>
    /// <param name="timeout">The limit for each call; a replay may take as long as the replay itself (30 s by default).</param>
    /// <param name="keyFile">
    /// The per-user key file the inspector admits unidentified connections with (~/.tunnelps/inspector.key for the
    /// module): sent as the X-TunnelPS-Key header, only to an inspector on this computer (localhost or a loopback
    /// address), when the file exists.
    /// </param>
    public InspectorClient(Uri inspectUrl, TimeSpan? timeout = null, string? keyFile = null)
    {
        ArgumentNullException.ThrowIfNull(inspectUrl);
        if (!inspectUrl.IsAbsoluteUri || inspectUrl.Scheme != Uri.UriSchemeHttp)
        {
            throw new TunnelConfigurationException($"'{inspectUrl}' is not an inspector URL: give http://host:port, e.g. http://127.0.0.1:4040.");
        }
        BaseUrl = new Uri(inspectUrl.GetLeftPart(UriPartial.Authority) + "/");
        // The inspector is on this computer: never through a proxy.
        _http = new HttpClient(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false })
        {
            BaseAddress = BaseUrl,
            Timeout = timeout ?? TimeSpan.FromSeconds(45),
        };
        if (keyFile is not null && IsLoopback(BaseUrl) && InspectorKey.Read(keyFile) is { } key)
        {
            _http.DefaultRequestHeaders.Add(InspectorKey.HeaderName, key);
        }
    }

    private static bool IsLoopback(Uri url) =>
        url.IsLoopback || (System.Net.IPAddress.TryParse(url.IdnHost, out var address) && System.Net.IPAddress.IsLoopback(address));

    /// <summary>The inspector's address, http://host:port/.</summary>
    public Uri BaseUrl { get; }

    /// <summary>The exchanges that match <paramref name="query"/>, newest first, without their bodies.</summary>
    /// <exception cref="InspectorException">The inspector cannot be reached or refused the call.</exception>
    public async Task<IReadOnlyList<CapturedExchange>> GetSummariesAsync(InspectorQuery? query, CancellationToken cancellationToken)
    {
        using var document = await SendAsync(HttpMethod.Get, InspectorJson.RequestsPath + (query?.ToQueryString() ?? string.Empty), null, cancellationToken).ConfigureAwait(false);
        if (!document.RootElement.TryGetProperty("requests", out var requests) || requests.ValueKind != JsonValueKind.Array)
        {
            throw new InspectorException($"{BaseUrl} answered without a list of requests; is it a TunnelPS inspector?");
        }
        var result = new List<CapturedExchange>(requests.GetArrayLength());
        foreach (var element in requests.EnumerateArray())
        {
            result.Add(ReadExchange(element));
        }
        return result;
    }

    /// <summary>One exchange with its bodies.</summary>
    /// <exception cref="InspectorException">Not found (Kind NotFound), not reachable, or refused.</exception>
    public async Task<CapturedExchange> GetRequestAsync(long id, CancellationToken cancellationToken)
    {
        using var document = await SendAsync(HttpMethod.Get, InspectorJson.RequestsPath + "/" + id.ToString(CultureInfo.InvariantCulture), null, cancellationToken).ConfigureAwait(false);
        return ReadExchange(document.RootElement);
    }

    /// <summary>
    /// Replays exchange <paramref name="id"/> in the inspector's process (to its tunnel's local service, or
    /// <paramref name="target"/>), changed as <paramref name="options"/> says, and returns the new exchange.
    /// </summary>
    /// <exception cref="InspectorException">The replay failed (the inspector's message says why).</exception>
    public async Task<CapturedExchange> ReplayAsync(long id, ReplayOptions? options, Uri? target, bool skipCertificateCheck, CancellationToken cancellationToken)
    {
        var json = InspectorJson.Write(w =>
        {
            w.WriteStartObject();
            w.WriteNumber("id", id);
            if (options?.Method is { } method)
            {
                w.WriteString("method", method);
            }
            if (options?.Target is { } path)
            {
                w.WriteString("path", path);
            }
            if (options?.SetHeaders is { Count: > 0 } set)
            {
                w.WriteStartObject("set_headers");
                foreach (var header in set)
                {
                    w.WriteString(header.Key, header.Value);
                }
                w.WriteEndObject();
            }
            if (options?.RemoveHeaders is { Count: > 0 } remove)
            {
                w.WriteStartArray("remove_headers");
                foreach (var name in remove)
                {
                    w.WriteStringValue(name);
                }
                w.WriteEndArray();
            }
            if (options?.Body is { } body)
            {
                w.WriteBase64String("body_base64", body.Span);
            }
            if (target is not null)
            {
                w.WriteString("target", target.ToString());
            }
            if (skipCertificateCheck)
            {
                w.WriteBoolean("skip_certificate_check", true);
            }
            w.WriteEndObject();
        });
        using var content = new ByteArrayContent(json);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var document = await SendAsync(HttpMethod.Post, InspectorJson.RequestsPath, content, cancellationToken).ConfigureAwait(false);
        return ReadExchange(document.RootElement);
    }

    public void Dispose() => _http.Dispose();

    /// <summary>An exchange from its JSON (a summary or a detail), with the inspector's id.</summary>
    internal static CapturedExchange ReadExchange(JsonElement e)
    {
        var request = e.GetProperty("request");
        var response = e.TryGetProperty("response", out var r) && r.ValueKind == JsonValueKind.Object ? r : (JsonElement?)null;
        var exchange = new CapturedExchange
        {
            TunnelName = Text(e, "tunnel_name") ?? string.Empty,
            PublicUrl = Text(e, "public_url") ?? string.Empty,
            LocalAddress = Text(e, "local_addr") ?? string.Empty,
            ConnectionId = Number(e, "connection_id"),
            ClientAddress = Text(e, "remote_addr") ?? string.Empty,
            StartTime = e.TryGetProperty("start", out var start) && start.ValueKind == JsonValueKind.String ? start.GetDateTimeOffset() : default,
            Duration = TimeSpan.FromTicks(Number(e, "duration") / 100),
            TimeToFirstByte = TimeSpan.FromTicks(Number(e, "ttfb") / 100),
            BytesIn = Number(e, "bytes_in"),
            BytesOut = Number(e, "bytes_out"),
            IsReplay = Flag(e, "is_replay"),
            ReplayOf = e.TryGetProperty("replay_of", out var replayOf) && replayOf.ValueKind == JsonValueKind.Number ? replayOf.GetInt64() : null,
            IsUnparsed = Flag(e, "is_unparsed"),
            IsUpgrade = Flag(e, "is_upgrade"),
            Error = Text(e, "error"),
            Method = Text(request, "method") ?? string.Empty,
            Target = Text(request, "uri") ?? string.Empty,
            HttpVersion = Text(request, "proto") ?? "HTTP/1.1",
            Host = Text(request, "host"),
            Scheme = Text(request, "scheme"),
            RequestHeaders = Headers(request),
            RequestBody = Body(request),
            RequestBodySize = Number(request, "body_size"),
            RequestTruncated = Flag(request, "truncated"),
            Status = response is { } s ? (int)Number(s, "status_code") : 0,
            Reason = response is { } reason ? Text(reason, "reason") ?? string.Empty : string.Empty,
            ResponseHeaders = response is { } h ? Headers(h) : [],
            ResponseBody = response is { } b ? Body(b) : ReadOnlyMemory<byte>.Empty,
            ResponseBodySize = response is { } size ? Number(size, "body_size") : 0,
            ResponseTruncated = response is { } t && Flag(t, "truncated"),
        };
        exchange.AssignId(Number(e, "id"));
        return exchange;
    }

    private async Task<JsonDocument> SendAsync(HttpMethod method, string path, HttpContent? content, CancellationToken cancellationToken)
    {
        using var message = new HttpRequestMessage(method, path) { Content = content };
        message.Headers.Add(InspectorAccess.RequestHeader, "1");
        message.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        HttpResponseMessage answer;
        try
        {
            answer = await _http.SendAsync(message, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw new InspectorException($"Could not reach the inspector at {BaseUrl}: {ex.Message} Is the PowerShell session that serves it still running its tunnels?", ex);
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new InspectorException($"The inspector at {BaseUrl} did not answer within {_http.Timeout.TotalSeconds:0} s.", TunnelErrorKind.Timeout) { StatusCode = 0 };
        }
        using (answer)
        {
            var bytes = await answer.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(bytes);
            }
            catch (JsonException)
            {
                throw new InspectorException($"{BaseUrl} answered {(int)answer.StatusCode} with something that is not JSON; is it a TunnelPS inspector?") { StatusCode = (int)answer.StatusCode };
            }
            if (answer.IsSuccessStatusCode)
            {
                return document;
            }
            using (document)
            {
                // The inspector can be any server: its words reach the admin's terminal shown, never acted on.
                var detail = TerminalText.Line(document.RootElement.ValueKind == JsonValueKind.Object && Text(document.RootElement, "msg") is { } msg
                    ? msg
                    : Encoding.UTF8.GetString(bytes));
                var status = (int)answer.StatusCode;
                throw new InspectorException($"The inspector at {BaseUrl} answered {status}: {detail}", InspectorException.KindOf(status)) { StatusCode = status };
            }
        }
    }

    private static string? Text(JsonElement e, string name) =>
        e.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static long Number(JsonElement e, string name) =>
        e.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number ? value.GetInt64() : 0;

    private static bool Flag(JsonElement e, string name) =>
        e.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.True;

    private static KeyValuePair<string, string>[] Headers(JsonElement side)
    {
        if (!side.TryGetProperty("headers", out var headers) || headers.ValueKind != JsonValueKind.Array)
        {
            return [];
        }
        var result = new List<KeyValuePair<string, string>>(headers.GetArrayLength());
        foreach (var header in headers.EnumerateArray())
        {
            result.Add(new(Text(header, "name") ?? string.Empty, Text(header, "value") ?? string.Empty));
        }
        return [.. result];
    }

    private static ReadOnlyMemory<byte> Body(JsonElement side) =>
        side.TryGetProperty("body", out var body) && body.ValueKind == JsonValueKind.Object && body.TryGetProperty("raw", out var raw) && raw.ValueKind == JsonValueKind.String
            ? raw.GetBytesFromBase64()
            : ReadOnlyMemory<byte>.Empty;
}
