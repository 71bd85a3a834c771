using System.Globalization;
using System.Text;
using System.Text.Json;

namespace TunnelPS.Engine.Inspection;

/// <summary>
/// Reads HAR 1.2 files (written by <see cref="HarWriter"/> or by browsers) back into <see cref="CapturedExchange"/>
/// objects that <see cref="ExchangeReplayer"/> accepts. HTTP/2 pseudo-headers (":authority") are dropped and a Host
/// header is added from the URL when missing. Imported exchanges have no id until added to a
/// <see cref="CaptureStore"/>.
/// </summary>
internal static class HarReader
{
    /// <summary>The largest single entry <see cref="ReadEntries"/> holds by default (larger ones are skipped and counted): 64 MiB.</summary>
    public const int DefaultMaxEntryBytes = 64 * 1024 * 1024;

    /// <summary>Reads every entry of the HAR document in <paramref name="stream"/> (all held at once: for small files).</summary>
    /// <exception cref="TunnelException">The document is not JSON or lacks log.entries.</exception>
    public static IReadOnlyList<CapturedExchange> Read(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var entries = new HarEntryStream(stream, DefaultMaxEntryBytes);
        var result = new List<CapturedExchange>();
        while (entries.TryReadNext(out var exchange))
        {
            result.Add(exchange);
        }
        return result;
    }

    /// <summary>
    /// Reads the entries of the HAR document in <paramref name="stream"/> one at a time, as the enumeration asks for
    /// them: only the entry being read is held (at most <paramref name="maxEntryBytes"/> of its JSON; a larger one
    /// is skipped without being held, and counted in <paramref name="progress"/>).
    /// </summary>
    /// <exception cref="TunnelException">The document is not JSON, lacks log.entries, or an entry is malformed (the entries before it have been returned).</exception>
    public static IEnumerable<CapturedExchange> ReadEntries(Stream stream, HarReadProgress? progress = null, int maxEntryBytes = DefaultMaxEntryBytes)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxEntryBytes, 1024);
        using var entries = new HarEntryStream(stream, maxEntryBytes);
        while (entries.TryReadNext(out var exchange))
        {
            if (progress is not null)
            {
                progress.Skipped = entries.Skipped;
                progress.Read = entries.Read;
            }
            yield return exchange;
        }
        if (progress is not null)
        {
            progress.Skipped = entries.Skipped;
            progress.Read = entries.Read;
        }
    }

    /// <summary>Reads every entry of the HAR document in <paramref name="json"/>.</summary>
    public static IReadOnlyList<CapturedExchange> ReadFromString(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        using var stream = new MemoryStream(Encoding.UTF8.GetBytes(json));
        return Read(stream);
    }

    /// <summary>One entry's JSON (a whole object) as an exchange.</summary>
    /// <exception cref="TunnelException">The entry is malformed.</exception>
    internal static CapturedExchange ReadEntry(ReadOnlyMemory<byte> json, long index)
    {
        try
        {
            using var document = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
            return ReadEntry(document.RootElement);
        }
        catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException or KeyNotFoundException)
        {
            throw new TunnelException($"HAR entry {index} is malformed: {ex.Message}", ex);
        }
    }

    private static CapturedExchange ReadEntry(JsonElement entry)
    {
        var request = entry.GetProperty("request");
        var response = entry.TryGetProperty("response", out var r) ? r : default;
        var (target, host, scheme, requestHeaders, requestBody) = ReadRequest(request);
        var (status, reason, responseHeaders, responseBody) = ReadResponse(response);
        var time = GetDouble(entry, "time");
        var wait = entry.TryGetProperty("timings", out var timings) ? GetDouble(timings, "wait") : 0;
        var started = GetString(entry, "startedDateTime");
        var version = NormaliseVersion(GetString(request, "httpVersion"));
        return new CapturedExchange
        {
            TunnelName = GetString(entry, "_tunnel") ?? string.Empty,
            PublicUrl = GetString(entry, "_publicUrl") ?? string.Empty,
            ConnectionId = GetLong(entry, "_connectionId") ?? 0,
            ClientAddress = GetString(entry, "_clientAddress") ?? string.Empty,
            Method = GetString(request, "method") ?? "GET",
            Target = target,
            HttpVersion = version,
            Host = host.Length > 0 ? host : null,
            Scheme = scheme,
            RequestHeaders = requestHeaders.ToArray(),
            RequestBody = requestBody,
            RequestBodySize = Math.Max(requestBody.Length, GetLong(request, "bodySize") ?? 0),
            RequestTruncated = GetBool(entry, "_requestTruncated"),
            Status = status,
            Reason = reason,
            ResponseHeaders = responseHeaders.ToArray(),
            ResponseBody = responseBody,
            ResponseBodySize = responseBody.Length,
            ResponseTruncated = GetBool(entry, "_responseTruncated"),
            StartTime = started is not null && DateTimeOffset.TryParse(started, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var when) ? when : default,
            Duration = TimeSpan.FromMilliseconds(Math.Max(0, time)),
            TimeToFirstByte = TimeSpan.FromMilliseconds(Math.Max(0, wait)),
            BytesIn = GetLong(entry, "_bytesIn") ?? 0,
            BytesOut = GetLong(entry, "_bytesOut") ?? 0,
            IsImported = true,
            IsReplay = GetBool(entry, "_isReplay"),
            ReplayOf = GetLong(entry, "_replayOf"),
            IsUnparsed = GetBool(entry, "_isUnparsed"),
            IsUpgrade = GetBool(entry, "_isUpgrade"),
            Error = GetString(entry, "_error"),
        };
    }

    /// <summary>The request's target, host and scheme (from its URL), its headers (with a Host when it had none) and body.</summary>
    private static (string Target, string Host, string Scheme, List<KeyValuePair<string, string>> Headers, byte[] Body) ReadRequest(JsonElement request)
    {
        var url = request.GetProperty("url").GetString() ?? string.Empty;
        string target = url, host = string.Empty, scheme = "http";
        if (Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            target = uri.PathAndQuery;
            host = uri.IsDefaultPort ? uri.Host : uri.Authority;
            scheme = uri.Scheme;
        }
        var headers = ReadHeaders(request);
        if (!ContainsHeader(headers, "Host") && host.Length > 0)
        {
            headers.Insert(0, new KeyValuePair<string, string>("Host", host));
        }
        byte[] body = [];
        if (request.TryGetProperty("postData", out var postData) && postData.ValueKind == JsonValueKind.Object)
        {
            body = ReadBody(postData, "_encoding");
        }
        return (target, host, scheme, headers, body);
    }

    /// <summary>The response's status, reason, headers and body (none of them when the entry has no response).</summary>
    private static (int Status, string Reason, List<KeyValuePair<string, string>> Headers, byte[] Body) ReadResponse(JsonElement response)
    {
        if (response.ValueKind != JsonValueKind.Object)
        {
            return (0, string.Empty, [], []);
        }
        var status = response.TryGetProperty("status", out var s) && s.ValueKind == JsonValueKind.Number ? s.GetInt32() : 0;
        var reason = GetString(response, "statusText") ?? string.Empty;
        var headers = ReadHeaders(response);
        byte[] body = [];
        if (response.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.Object)
        {
            body = ReadBody(content, "encoding");
        }
        return (status, reason, headers, body);
    }

    private static string NormaliseVersion(string? version) =>
        string.Equals(version, "HTTP/1.0", StringComparison.OrdinalIgnoreCase) ? "HTTP/1.0" : "HTTP/1.1";

    private static byte[] ReadBody(JsonElement element, string encodingProperty)
    {
        var text = GetString(element, "text");
        if (string.IsNullOrEmpty(text))
        {
            return [];
        }
        if (string.Equals(GetString(element, encodingProperty), "base64", StringComparison.OrdinalIgnoreCase))
        {
            return Convert.FromBase64String(text);
        }
        return Encoding.UTF8.GetBytes(text);
    }

    private static List<KeyValuePair<string, string>> ReadHeaders(JsonElement message)
    {
        var headers = new List<KeyValuePair<string, string>>();
        if (!message.TryGetProperty("headers", out var array) || array.ValueKind != JsonValueKind.Array)
        {
            return headers;
        }
        foreach (var header in array.EnumerateArray())
        {
            var name = GetString(header, "name");
            if (string.IsNullOrEmpty(name) || name.StartsWith(':'))
            {
                continue;
            }
            headers.Add(new KeyValuePair<string, string>(name, GetString(header, "value") ?? string.Empty));
        }
        return headers;
    }

    private static bool ContainsHeader(List<KeyValuePair<string, string>> headers, string name)
    {
        foreach (var header in headers)
        {
            if (string.Equals(header.Key, name, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }
        return false;
    }

    private static string? GetString(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static double GetDouble(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number ? value.GetDouble() : 0;

    private static long? GetLong(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var number) ? number : null;

    private static bool GetBool(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.True;
}
