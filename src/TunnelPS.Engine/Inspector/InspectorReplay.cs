using System.Globalization;
using System.Text;
using System.Text.Json;
using TunnelPS.Engine.Http;
using TunnelPS.Engine.Inspection;

namespace TunnelPS.Engine.Inspector;

/// <summary>
/// POST /api/requests/http: replays a captured request with the engine's <see cref="ExchangeReplayer"/>, optionally
/// changed, and answers 201 with the new exchange (Location names it). The JSON body:
/// <c>{"id": 42, "tunnel_name": "…", "method": "PUT", "path": "/x?y=1", "set_headers": {"X-A": "1"},
/// "remove_headers": ["Cookie"], "body": "text" | "body_base64": "…", "target": "http://localhost:3001",
/// "skip_certificate_check": false}</c>; only <c>id</c> is required (ngrok's API takes id and tunnel_name and cannot
/// change anything; its npm client sends <c>tunnelName</c>, taken too). A call with the X-TunnelPS-Request header (the
/// page, the cmdlets) is answered 201 with the new exchange; one without it (a JSON POST from a client of ngrok's API)
/// gets ngrok's answer, 204 with no body, Location naming the replay. Without target the request goes to the local service of its tunnel (or of tunnel_name), and the
/// replay is kept in that tunnel's capture.
/// </summary>
internal sealed class InspectorReplay
{
    private readonly InspectorServer _server;
    private readonly SemaphoreSlim _slots;
    private readonly ExchangeReplayer _replayer;

    public InspectorReplay(InspectorServer server)
    {
        _server = server;
        _slots = new SemaphoreSlim(server.Options.MaxConcurrentReplays, server.Options.MaxConcurrentReplays);
        _replayer = new ExchangeReplayer(server.Options.TimeProvider);
    }

    public async Task<InspectorResponse> HandleAsync(InspectorRequest request, CancellationToken cancellationToken)
    {
        ReplayCall call;
        try
        {
            call = ReplayCall.Parse(request.Body);
        }
        catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException)
        {
            return InspectorResponse.Error(400, "The replay call is not valid: " + ex.Message);
        }

        var catalog = _server.Catalog;
        if (catalog.Find(call.Id) is not { } found)
        {
            return InspectorResponse.Error(404, $"No captured request has id {call.Id}; it may have been cleared or evicted.");
        }
        if (found.Exchange.IsUnparsed)
        {
            return InspectorResponse.Error(409, $"Request {call.Id} is not HTTP (its bytes were passed through unparsed), so it cannot be replayed.");
        }
        var destination = found.Capture;
        if (call.TunnelName is not null)
        {
            var named = catalog.Captures.FirstOrDefault(c => c.Name.Equals(call.TunnelName, StringComparison.OrdinalIgnoreCase));
            if (named is null)
            {
                return InspectorResponse.Error(404, $"No tunnel named '{call.TunnelName}' has a capture here.");
            }
            destination = named;
        }
        var target = call.Target ?? destination.ReplayTarget;
        if (target is null)
        {
            return InspectorResponse.Error(400, $"Request {call.Id} has no tunnel to send it to; give a target, e.g. \"target\": \"http://localhost:3000\".");
        }

        var (replay, error) = await ReplayInSlotAsync(found.Exchange, target, destination.Store, call.Options, cancellationToken).ConfigureAwait(false);
        if (replay is null)
        {
            return error!;
        }
        var location = InspectorJson.RequestsPath + "/" + replay.Id.ToString(CultureInfo.InvariantCulture);
        if (request.Header(InspectorAccess.RequestHeader) != "1")
        {
            // A client of ngrok's agent API (which does not send the header) gets ngrok's answer: 204, no body.
            var noContent = InspectorResponse.NoContent();
            noContent.Headers.Add(new("Location", location));
            return noContent;
        }
        var response = InspectorResponse.Json(201, InspectorJson.Write(w => InspectorJson.WriteExchange(w, replay, bodies: true, CopyOrigin.For(replay, destination.Store, catalog))));
        response.Headers.Add(new("Location", location));
        return response;
    }

    /// <summary>Runs one replay in a free slot (at most MaxConcurrentReplays at once); the error to answer when it cannot.</summary>
    private async Task<(CapturedExchange? Replay, InspectorResponse? Error)> ReplayInSlotAsync(CapturedExchange original, Uri target, CaptureStore store, ReplayOptions options, CancellationToken cancellationToken)
    {
        if (!await _slots.WaitAsync(0, cancellationToken).ConfigureAwait(false))
        {
            return (null, InspectorResponse.Error(429, $"{_server.Options.MaxConcurrentReplays} replays are running; try again when one has finished."));
        }
        try
        {
            return (await _replayer.ReplayAsync(original, target, store, options, cancellationToken).ConfigureAwait(false), null);
        }
        catch (ReplayException ex)
        {
            return (null, InspectorResponse.Error(ex.Kind == TunnelErrorKind.Timeout ? 504 : 502, ex.Message));
        }
        catch (ArgumentException ex)
        {
            // A header name or value the HTTP head cannot carry.
            return (null, InspectorResponse.Error(400, ex.Message));
        }
        catch (InvalidOperationException ex)
        {
            // A character beyond Latin-1 in the method, path or a header.
            return (null, InspectorResponse.Error(400, ex.Message));
        }
        finally
        {
            _slots.Release();
        }
    }

    /// <summary>The JSON of a replay call, checked.</summary>
    internal sealed class ReplayCall
    {
        /// <summary>The longest method the engine's HTTP/1.1 parser accepts (so the replay's own capture can read it).</summary>
        private const int MaxMethodLength = 32;

        public long Id { get; private init; }

        public string? TunnelName { get; private init; }

        public Uri? Target { get; private init; }

        public required ReplayOptions Options { get; init; }

        public static ReplayCall Parse(ReadOnlyMemory<byte> body)
        {
            using var document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 8 });
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new FormatException("the body must be a JSON object such as {\"id\": 42}.");
            }
            var id = ReadId(root);

            var method = ReadMethod(root);
            var path = ReadPath(root);
            var set = ReadSetHeaders(root);
            var remove = ReadRemoveHeaders(root);
            var newBody = ReadBody(root);
            var target = ReadTarget(root);
            var skipCheck = root.TryGetProperty("skip_certificate_check", out var skipElement) && skipElement.ValueKind == JsonValueKind.True;

            return new ReplayCall
            {
                Id = id,
                TunnelName = String(root, "tunnel_name") ?? String(root, "tunnelName"), // the npm ngrok client sends tunnelName
                Target = target,
                Options = new ReplayOptions
                {
                    Method = method?.ToUpperInvariant(),
                    Target = path,
                    SetHeaders = set,
                    RemoveHeaders = remove,
                    Body = newBody,
                    CertificateValidation = skipCheck ? static (_, _, _, _) => true : null,
                },
            };
        }

        private static long ReadId(JsonElement root) => root.TryGetProperty("id", out var idElement) ? idElement.ValueKind switch
        {
            JsonValueKind.Number => idElement.GetInt64(),
            JsonValueKind.String when long.TryParse(idElement.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) => parsed,
            _ => throw new FormatException("id must be a request id."),
        } : throw new FormatException("id is required: the id of the captured request to replay.");

        private static string? ReadMethod(JsonElement root)
        {
            var method = String(root, "method");
            if (method is not null && (method.Length == 0 || !method.All(c => c < 128 && HttpHeadParser.IsTokenChar((byte)c))))
            {
                throw new FormatException($"method '{method}' is not an HTTP method.");
            }
            if (method is not null && method.Length > MaxMethodLength)
            {
                // Found by the inspector-replay fuzz target: a longer one made a request line no HTTP/1.1 parser here takes.
                throw new FormatException($"method '{method[..MaxMethodLength]}…' is longer than {MaxMethodLength} characters.");
            }
            return method;
        }

        private static string? ReadPath(JsonElement root)
        {
            var path = String(root, "path");
            if (path is not null && (path.Length == 0 || path.Any(c => c <= ' ' || c == 127) || !(path.StartsWith('/') || path.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || path.StartsWith("https://", StringComparison.OrdinalIgnoreCase))))
            {
                throw new FormatException($"path '{path}' must start with / and hold no spaces or control characters.");
            }
            return path;
        }

        private static Dictionary<string, string>? ReadSetHeaders(JsonElement root)
        {
            if (!root.TryGetProperty("set_headers", out var setElement) || setElement.ValueKind == JsonValueKind.Null)
            {
                return null;
            }
            if (setElement.ValueKind != JsonValueKind.Object)
            {
                throw new FormatException("set_headers must be an object of header names and values.");
            }
            var set = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var header in setElement.EnumerateObject())
            {
                set[header.Name] = header.Value.ValueKind == JsonValueKind.String ? header.Value.GetString()! : throw new FormatException($"the value of header '{header.Name}' must be a string.");
            }
            return set;
        }

        private static List<string>? ReadRemoveHeaders(JsonElement root)
        {
            if (!root.TryGetProperty("remove_headers", out var removeElement) || removeElement.ValueKind == JsonValueKind.Null)
            {
                return null;
            }
            if (removeElement.ValueKind != JsonValueKind.Array)
            {
                throw new FormatException("remove_headers must be an array of header names.");
            }
            return [.. removeElement.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.String ? e.GetString()! : throw new FormatException("remove_headers must hold strings."))];
        }

        private static ReadOnlyMemory<byte>? ReadBody(JsonElement root)
        {
            ReadOnlyMemory<byte>? newBody = null;
            if (String(root, "body") is { } text)
            {
                newBody = Encoding.UTF8.GetBytes(text);
            }
            if (String(root, "body_base64") is { } base64)
            {
                if (newBody is not null)
                {
                    throw new FormatException("give body or body_base64, not both.");
                }
                newBody = Convert.FromBase64String(base64);
            }
            return newBody;
        }

        private static Uri? ReadTarget(JsonElement root)
        {
            Uri? target = null;
            if (String(root, "target") is { } targetText)
            {
                if (!Uri.TryCreate(targetText, UriKind.Absolute, out target) || (target.Scheme != Uri.UriSchemeHttp && target.Scheme != Uri.UriSchemeHttps))
                {
                    throw new FormatException($"target '{targetText}' is not an absolute http or https URL.");
                }
            }
            return target;
        }

        private static string? String(JsonElement root, string name) =>
            !root.TryGetProperty(name, out var element) || element.ValueKind == JsonValueKind.Null ? null
            : element.ValueKind == JsonValueKind.String ? element.GetString()
            : throw new FormatException($"{name} must be a string.");
    }
}
