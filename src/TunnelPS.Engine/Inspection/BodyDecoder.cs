using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using TunnelPS.Engine.Diagnostics;

namespace TunnelPS.Engine.Inspection;

/// <summary>
/// Helpers to show captured bodies: undo Content-Encoding (gzip, deflate, br) with a bounded output, decode text by
/// the declared charset, and recognise JSON and text. Failures yield null, never exceptions.
/// </summary>
public static class BodyDecoder
{
    /// <summary>The most bytes <see cref="Decompress"/> produces by default: 16 MiB.</summary>
    public const int DefaultMaxDecodedSize = 16 * 1024 * 1024;

    /// <summary>
    /// Undoes the Content-Encoding codings (listed in order of application, e.g. "gzip" or "deflate, br").
    /// Returns the body unchanged for no or "identity" encoding; null for an unknown coding, corrupt data, or output
    /// beyond <paramref name="maxDecodedSize"/>.
    /// </summary>
    public static byte[]? Decompress(ReadOnlySpan<byte> body, string? contentEncoding, int maxDecodedSize = DefaultMaxDecodedSize)
    {
        var current = body.ToArray();
        if (string.IsNullOrWhiteSpace(contentEncoding))
        {
            return current;
        }
        var codings = contentEncoding.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        for (var i = codings.Length - 1; i >= 0; i--)
        {
            var coding = codings[i].ToUpperInvariant();
            if (coding == "IDENTITY")
            {
                continue;
            }
            var decoded = coding switch
            {
                "GZIP" or "X-GZIP" => Inflate(current, static s => new GZipStream(s, CompressionMode.Decompress), maxDecodedSize),
                "DEFLATE" => InflateDeflate(current, maxDecodedSize),
                "BR" => Inflate(current, static s => new BrotliStream(s, CompressionMode.Decompress), maxDecodedSize),
                _ => null,
            };
            if (decoded is null)
            {
                return null;
            }
            current = decoded;
        }
        return current;
    }

    /// <summary>The body decompressed per the headers' Content-Encoding (see <see cref="Decompress"/>).</summary>
    public static byte[]? DecodeContent(ReadOnlyMemory<byte> body, IReadOnlyList<KeyValuePair<string, string>> headers, int maxDecodedSize = DefaultMaxDecodedSize)
    {
        ArgumentNullException.ThrowIfNull(headers);
        return Decompress(body.Span, GetHeader(headers, "Content-Encoding"), maxDecodedSize);
    }

    /// <summary>The charset parameter of a Content-Type, or null.</summary>
    public static string? GetCharset(string? contentType)
    {
        if (contentType is null)
        {
            return null;
        }
        foreach (var part in contentType.Split(';', StringSplitOptions.TrimEntries))
        {
            if (part.StartsWith("charset=", StringComparison.OrdinalIgnoreCase))
            {
                return part[8..].Trim('"', '\'', ' ');
            }
        }
        return null;
    }

    /// <summary>Decodes text with the Content-Type's charset, falling back to UTF-8 (unknown charsets, too). A UTF-8 BOM is skipped.</summary>
    public static string DecodeText(ReadOnlySpan<byte> body, string? contentType)
    {
        var encoding = Encoding.UTF8;
        var charset = GetCharset(contentType);
        if (charset is not null)
        {
            try
            {
                encoding = Encoding.GetEncoding(charset);
            }
            catch (ArgumentException)
            {
                encoding = Encoding.UTF8;
            }
        }
        if (encoding.CodePage == Encoding.UTF8.CodePage && body.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
        {
            body = body[3..];
        }
        return encoding.GetString(body);
    }

    /// <summary>The media type of a Content-Type without parameters, lower-cased ("application/json"), or null.</summary>
    public static string? GetMediaType(string? contentType)
    {
        if (string.IsNullOrWhiteSpace(contentType))
        {
            return null;
        }
        var semi = contentType.IndexOf(';', StringComparison.Ordinal);
        return (semi < 0 ? contentType : contentType[..semi]).Trim().ToLowerInvariant();
    }

    /// <summary>True if the content type says JSON (application/json, */*+json), or, when it says nothing specific, the body parses as JSON.</summary>
    public static bool IsJson(ReadOnlySpan<byte> body, string? contentType)
    {
        var media = GetMediaType(contentType);
        if (media is not null && (media == "application/json" || media.EndsWith("+json", StringComparison.Ordinal) || media == "text/json"))
        {
            return true;
        }
        if (media is not null && media != "text/plain" && media != "application/octet-stream")
        {
            return false;
        }
        var trimmed = body.TrimStart(" \t\r\n"u8);
        if (trimmed.IsEmpty || (trimmed[0] != (byte)'{' && trimmed[0] != (byte)'['))
        {
            return false;
        }
        try
        {
            var reader = new Utf8JsonReader(body);
            while (reader.Read())
            {
            }
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>
    /// True if the body is best shown as text: a textual content type (text/*, JSON, XML, JavaScript, form data), or,
    /// without one, valid UTF-8 with no control characters other than whitespace.
    /// </summary>
    public static bool IsText(ReadOnlySpan<byte> body, string? contentType)
    {
        var media = GetMediaType(contentType);
        if (media is not null)
        {
            if (media.StartsWith("text/", StringComparison.Ordinal) || media.EndsWith("+json", StringComparison.Ordinal)
                || media.EndsWith("+xml", StringComparison.Ordinal) || media is "application/json" or "application/xml"
                or "application/javascript" or "application/x-www-form-urlencoded" or "application/graphql" or "application/x-ndjson")
            {
                return true;
            }
            if (media != "application/octet-stream")
            {
                return false;
            }
        }
        if (!Utf8.IsValid(body))
        {
            return false;
        }
        foreach (var b in body)
        {
            if (b < 0x20 && b is not (byte)'\t' and not (byte)'\n' and not (byte)'\r')
            {
                return false;
            }
        }
        return true;
    }

    private static string? GetHeader(IReadOnlyList<KeyValuePair<string, string>> headers, string name)
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

    private static byte[]? InflateDeflate(byte[] data, int max)
    {
        // "deflate" is meant to be zlib-wrapped, but some servers send raw deflate: try both.
        return Inflate(data, static s => new ZLibStream(s, CompressionMode.Decompress), max)
            ?? Inflate(data, static s => new DeflateStream(s, CompressionMode.Decompress), max);
    }

    private static byte[]? Inflate(byte[] data, Func<Stream, Stream> open, int max)
    {
        try
        {
            using var input = new MemoryStream(data, writable: false);
            using var decoder = open(input);
            using var output = new MemoryStream();
            var buffer = new byte[16 * 1024];
            int read;
            while ((read = decoder.Read(buffer, 0, buffer.Length)) > 0)
            {
                if (output.Length + read > max)
                {
                    TunnelMetrics.LimitReached("decoded_body");
                    return null;
                }
                output.Write(buffer, 0, read);
            }
            return output.ToArray();
        }
        catch (InvalidDataException)
        {
            return null;
        }
        catch (IOException)
        {
            return null;
        }
    }
}
