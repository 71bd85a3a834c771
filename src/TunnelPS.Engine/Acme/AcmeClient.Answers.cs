using System.Globalization;
using System.Net.Http;
using System.Text;
using System.Text.Json;

namespace TunnelPS.Engine.Acme;

/// <summary>
/// The ACME client's answers: bodies read within <see cref="MaxResponseBytes"/>, problem documents (RFC 7807) turned
/// into <see cref="AcmeException"/>s, JSON objects and their URLs, Location, Retry-After and alternate links.
/// </summary>
internal sealed partial class AcmeClient
{
    /// <summary>Reads a body of at most <see cref="MaxResponseBytes"/>; a longer one is an error, not a truncation.</summary>
    private static async Task<byte[]> ReadBodyAsync(HttpResponseMessage response, CancellationToken token)
    {
        if (response.Content.Headers.ContentLength > MaxResponseBytes)
        {
            throw new AcmeException(string.Create(CultureInfo.InvariantCulture, $"The ACME directory's answer from {response.RequestMessage?.RequestUri} is {response.Content.Headers.ContentLength} bytes; at most {MaxResponseBytes} are read."));
        }
        using var stream = await response.Content.ReadAsStreamAsync(token).ConfigureAwait(false);
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int n;
        while ((n = await stream.ReadAsync(chunk, token).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + n > MaxResponseBytes)
            {
                throw new AcmeException(string.Create(CultureInfo.InvariantCulture, $"The ACME directory's answer from {response.RequestMessage?.RequestUri} is longer than {MaxResponseBytes} bytes; the rest was not read."));
            }
            await buffer.WriteAsync(chunk.AsMemory(0, n), token).ConfigureAwait(false);
        }
        return buffer.ToArray();
    }

    private static AcmeException Problem(HttpResponseMessage response, byte[] body, string what)
    {
        string? type = null;
        string? detail = null;
        try
        {
            using var json = JsonDocument.Parse(body);
            if (json.RootElement.ValueKind == JsonValueKind.Object)
            {
                type = json.RootElement.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
                detail = json.RootElement.TryGetProperty("detail", out var d) && d.ValueKind == JsonValueKind.String ? d.GetString() : null;
            }
        }
        catch (JsonException)
        {
            // Not a problem document: the status code alone says what went wrong.
        }
        var message = what + (type is null ? "" : " (" + type + ")") + (detail is null ? "." : ": " + MessageText.Clause(detail) + ".");
        _ = response;
        return new AcmeException(message, type, detail);
    }

    internal static JsonDocument Parse(byte[] body, Uri from)
    {
        try
        {
            var json = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 16 });
            if (json.RootElement.ValueKind != JsonValueKind.Object)
            {
                json.Dispose();
                throw new AcmeException($"The ACME directory's answer from {from} is not a JSON object.");
            }
            return json;
        }
        catch (JsonException ex)
        {
            throw new AcmeException($"The ACME directory's answer from {from} is not JSON: {MessageText.Clause(ex.Message)}.", ex);
        }
    }

    internal static Uri RequiredUrl(JsonElement element, string name, Uri from) =>
        OptionalUrl(element, name) ?? throw new AcmeException($"The ACME object from {from} has no usable '{name}' URL.");

    internal static Uri? OptionalUrl(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String &&
        Uri.TryCreate(value.GetString(), UriKind.Absolute, out var url) && (url.Scheme == Uri.UriSchemeHttps || url.Scheme == Uri.UriSchemeHttp) ? url : null;

    /// <summary>One successful answer: its JSON (or text), Location, Retry-After and alternate links.</summary>
    private sealed class AcmeResponse : IDisposable
    {
        private readonly byte[] _body;
        private readonly Uri _from;
        private JsonDocument? _json;

        public AcmeResponse(HttpResponseMessage response, byte[] body, Uri from)
        {
            _body = body;
            _from = from;
            Location = response.Headers.Location is { IsAbsoluteUri: true } location ? location : null;
            RetryAfter = response.Headers.RetryAfter is { } retry
                ? retry.Delta ?? (retry.Date is { } date ? date - DateTimeOffset.UtcNow : null)
                : null;
            var alternates = new List<Uri>();
            if (response.Headers.TryGetValues("Link", out var links))
            {
                foreach (var link in links.SelectMany(l => l.Split(',')).Take(32))
                {
                    var trimmed = link.Trim();
                    var end = trimmed.IndexOf('>', StringComparison.Ordinal);
                    if (trimmed.StartsWith('<') && end > 1 &&
                        trimmed[(end + 1)..].Replace(" ", "", StringComparison.Ordinal).Contains("rel=\"alternate\"", StringComparison.OrdinalIgnoreCase) &&
                        Uri.TryCreate(from, trimmed[1..end], out var url))
                    {
                        alternates.Add(url);
                    }
                }
            }
            Alternates = alternates;
        }

        public Uri? Location { get; }
        public TimeSpan? RetryAfter { get; }
        public IReadOnlyList<Uri> Alternates { get; }
        public JsonDocument Json => _json ??= Parse(_body, _from);
        public string Text => Encoding.UTF8.GetString(_body);

        public void Dispose() => _json?.Dispose();
    }
}
