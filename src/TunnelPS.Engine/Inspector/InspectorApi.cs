using System.Globalization;
using System.Text;
using TunnelPS.Engine.Inspection;

namespace TunnelPS.Engine.Inspector;

/// <summary>
/// The routes of the inspector: the page's files, and the JSON API (see <see cref="InspectorServer"/> for the list).
/// Every answer is built here; the connection only frames it.
/// </summary>
internal sealed class InspectorApi
{
    private const string BodyPolicy = "sandbox; default-src 'none'; frame-ancestors 'none'";

    private readonly InspectorServer _server;
    private readonly InspectorReplay _replay;
    private readonly DateTimeOffset _started;

    public InspectorApi(InspectorServer server)
    {
        _server = server;
        _replay = new InspectorReplay(server);
        _started = server.Options.TimeProvider.GetUtcNow();
    }

    private InspectorCatalog Catalog => _server.Catalog;

    /// <summary>The answer to <paramref name="request"/> (an event stream answer means: the connection streams next).</summary>
    public Task<InspectorResponse> HandleAsync(InspectorRequest request, CancellationToken cancellationToken)
    {
        var path = request.Path;
        var read = request.Method is "GET" or "HEAD";
        if (!path.StartsWith("/api/", StringComparison.Ordinal))
        {
            return Task.FromResult(read
                ? InspectorAssets.Instance.Find(path, request.Header("If-None-Match")) ?? InspectorResponse.Error(404, $"Nothing here: {path}. The inspector's page is at /.")
                : MethodNotAllowed("GET"));
        }

        var segments = path["/api/".Length..].Split('/');
        switch (segments)
        {
            case ["status"]:
                return Task.FromResult(read ? Status() : MethodNotAllowed("GET"));
            case ["events"]:
                return Task.FromResult(read ? InspectorResponse.EventStream() : MethodNotAllowed("GET"));
            case ["tunnels"]:
                return Task.FromResult(read ? Tunnels() : MethodNotAllowed("GET"));
            case ["tunnels", var name]:
                return Task.FromResult(read ? Tunnel(Unescape(name), request.Query("proto")) : MethodNotAllowed("GET"));
            case ["requests", "http"]:
                return request.Method switch
                {
                    "GET" or "HEAD" => Task.FromResult(List(request)),
                    "POST" => _replay.HandleAsync(request, cancellationToken),
                    "DELETE" => Task.FromResult(Clear(request)),
                    _ => Task.FromResult(MethodNotAllowed("GET, POST, DELETE")),
                };
            case ["requests", "http", "har"]:
                return Task.FromResult(read ? Har(request) : MethodNotAllowed("GET"));
            case ["requests", "http", var id]:
                return Task.FromResult(read ? Detail(id) : MethodNotAllowed("GET"));
            case ["requests", "http", var id, var side and ("request" or "response"), "body"]:
                return Task.FromResult(read ? Body(id, side == "request", request.Query("preview") == "1") : MethodNotAllowed("GET"));
            default:
                return Task.FromResult(InspectorResponse.Error(404, $"No API at {path}. See /api/status, /api/tunnels, /api/requests/http."));
        }
    }

    private InspectorResponse Status()
    {
        var captures = Catalog.Captures;
        long held = 0, dropped = 0;
        foreach (var capture in captures)
        {
            held += capture.Store.Count;
            dropped += capture.Store.Dropped;
        }
        return InspectorResponse.Json(200, InspectorJson.Write(w =>
        {
            w.WriteStartObject();
            w.WriteString("uri", "/api/status");
            w.WriteString("version", _server.Options.Version);
            w.WriteString("inspect_url", _server.Url.ToString());
            w.WriteString("started_at", _started);
            w.WriteNumber("tunnels", Catalog.Tunnels.Count);
            w.WriteNumber("captures", captures.Count);
            w.WriteNumber("requests", held);
            w.WriteNumber("dropped", dropped);
            w.WriteNumber("live_streams", _server.Events.SubscriberCount);
            w.WriteEndObject();
        }));
    }

    private InspectorResponse Tunnels() =>
        InspectorResponse.Json(200, InspectorJson.Write(w => InspectorJson.WriteTunnels(w, Catalog.Tunnels)));

    /// <summary>
    /// A tunnel by its API name ("web", "web (http)"); else by its session name: its https URL when it has one (or the
    /// one of ?proto=), else its only one.
    /// </summary>
    private InspectorResponse Tunnel(string name, string? proto)
    {
        var tunnels = Catalog.Tunnels;
        var matches = tunnels.Where(t => t.Name.Equals(name, StringComparison.OrdinalIgnoreCase)).ToList();
        var endpoint = proto is null
            ? tunnels.FirstOrDefault(t => t.ApiName.Equals(name, StringComparison.OrdinalIgnoreCase)) ?? matches.Find(t => t.Protocol == "https") ?? matches.FirstOrDefault()
            : matches.Find(t => t.Protocol.Equals(proto, StringComparison.OrdinalIgnoreCase));
        return endpoint is null
            ? InspectorResponse.Error(404, $"No tunnel named '{name}'{(proto is null ? "" : $" serves {proto}")}; GET /api/tunnels lists them.")
            : InspectorResponse.Json(200, InspectorJson.Write(w => InspectorJson.WriteTunnel(w, endpoint)));
    }

    private InspectorResponse List(InspectorRequest request)
    {
        var query = RequestQuery.Parse(request, out var error);
        if (query is null)
        {
            return InspectorResponse.Error(400, error!);
        }
        var exchanges = query.Select(Catalog.Captures);
        return InspectorResponse.Json(200, InspectorJson.Write(w =>
        {
            w.WriteStartObject();
            w.WriteString("uri", InspectorJson.RequestsPath);
            w.WriteStartArray("requests");
            foreach (var exchange in exchanges)
            {
                InspectorJson.WriteExchange(w, exchange, bodies: false);
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }));
    }

    private InspectorResponse Detail(string idText)
    {
        if (Find(idText, out var error) is not { } found)
        {
            return error!;
        }
        return InspectorResponse.Json(200, InspectorJson.Write(w => InspectorJson.WriteExchange(w, found.Exchange, bodies: true, CopyOrigin.For(found.Exchange, found.Capture.Store, Catalog))));
    }

    /// <summary>
    /// One body with its content encoding undone: an image the page shows gets its image type; an HTML preview is
    /// served sandboxed (no scripts, nothing loaded); anything else is a download of application/octet-stream.
    /// </summary>
    private InspectorResponse Body(string idText, bool requestSide, bool preview)
    {
        if (Find(idText, out var error) is not { } found)
        {
            return error!;
        }
        var e = found.Exchange;
        var view = requestSide
            ? BodyView.Of(e.RequestBody, e.RequestTruncated, e.RequestHeaders)
            : BodyView.Of(e.ResponseBody, e.ResponseTruncated, e.ResponseHeaders);
        if (preview)
        {
            return view.Kind == "html"
                ? InspectorResponse.Bytes(200, "text/html; charset=utf-8", Encoding.UTF8.GetBytes(view.Text!)).WithPolicy(InspectorResponse.PreviewPolicy)
                : InspectorResponse.Error(409, "Only an HTML body has a preview.");
        }
        var name = string.Create(CultureInfo.InvariantCulture, $"{e.Id}-{(requestSide ? "request" : "response")}");
        var response = view.ImageType is { } image
            ? InspectorResponse.Bytes(200, image, view.Content)
            : InspectorResponse.Bytes(200, "application/octet-stream", view.Content);
        response.Headers.Add(new("Content-Disposition", view.ImageType is null ? $"attachment; filename=\"{name}.bin\"" : $"inline; filename=\"{name}\""));
        return response.WithPolicy(BodyPolicy);
    }

    private InspectorResponse Har(InspectorRequest request)
    {
        var query = RequestQuery.Parse(request, out var error);
        if (query is null)
        {
            return InspectorResponse.Error(400, error!);
        }
        var exchanges = query.Select(Catalog.Captures);
        exchanges.Reverse();
        var har = Encoding.UTF8.GetBytes(HarWriter.WriteToString(exchanges, new HarWriterOptions
        {
            Redact = request.Query("redact") is "1" or "true",
            CreatorVersion = _server.Options.Version,
        }));
        var response = InspectorResponse.Bytes(200, "application/json; charset=utf-8", har);
        var stamp = _server.Options.TimeProvider.GetUtcNow().ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
        response.Headers.Add(new("Content-Disposition", $"attachment; filename=\"tunnelps-{stamp}.har\""));
        return response;
    }

    /// <summary>Empties the captures (those of the tunnel_name filter when given); running tunnels keep capturing.</summary>
    private InspectorResponse Clear(InspectorRequest request)
    {
        var query = RequestQuery.Parse(request, out var error);
        if (query is null)
        {
            return InspectorResponse.Error(400, error!);
        }
        foreach (var capture in Catalog.Captures)
        {
            if (query.MatchesTunnel(capture.Name))
            {
                capture.Store.Clear();
            }
        }
        _server.Events.Publish("cleared", "{}"u8.ToArray());
        return InspectorResponse.NoContent();
    }

    private (CapturedExchange Exchange, InspectedCapture Capture)? Find(string idText, out InspectorResponse? error)
    {
        error = null;
        if (!long.TryParse(idText, NumberStyles.None, CultureInfo.InvariantCulture, out var id))
        {
            error = InspectorResponse.Error(404, $"'{idText}' is not a request id.");
            return null;
        }
        var found = Catalog.Find(id);
        if (found is null)
        {
            error = InspectorResponse.Error(404, $"No captured request has id {id}; it may have been cleared or evicted.");
        }
        return found;
    }

    private static InspectorResponse MethodNotAllowed(string allow)
    {
        var response = InspectorResponse.Error(405, $"Use {allow}.");
        response.Headers.Add(new("Allow", allow));
        return response;
    }

    private static string Unescape(string segment)
    {
        try
        {
            return Uri.UnescapeDataString(segment);
        }
        catch (UriFormatException)
        {
            return segment;
        }
    }
}
