using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace TunnelPS.Engine.Inspection;

/// <summary>
/// What <see cref="HarWriter"/> hides with <see cref="HarWriterOptions.Redact"/>: credential headers, and the values of
/// secret-looking names in query strings, form bodies and JSON bodies. A hidden value is replaced by
/// <see cref="Marker"/>; names, structure and everything else are kept, so the HAR stays valid and readable.
/// </summary>
internal static partial class HarRedactor
{
    /// <summary>What a hidden value is replaced by.</summary>
    public const string Marker = "REDACTED";

    private static readonly byte[] s_jsonMarker = Encoding.UTF8.GetBytes("\"" + Marker + "\"");

    private static readonly HashSet<string> s_secretHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        "Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie", "X-Api-Key", "Api-Key", "X-Auth-Token",
        "X-Access-Token", "X-Csrf-Token", "X-XSRF-Token",
    };

    /// <summary>The last dash-separated part of a header name that marks a credential (X-Goog-Api-Key, Stripe-Signature).</summary>
    private static readonly HashSet<string> s_secretHeaderSuffixes = new(StringComparer.OrdinalIgnoreCase)
    {
        "Token", "Key", "Secret", "Signature", "Password",
    };

    /// <summary>Headers whose value is a URL: their query string is redacted, not the whole value.</summary>
    private static readonly HashSet<string> s_urlHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        "Location", "Content-Location", "Referer",
    };

    /// <summary>Query, form and JSON names that hold secrets, compared lower-case with '-' read as '_'.</summary>
    private static readonly HashSet<string> s_secretNames = new(StringComparer.Ordinal)
    {
        "token", "access_token", "refresh_token", "id_token", "api_key", "apikey", "key", "secret", "client_secret",
        "password", "passwd", "pwd", "sig", "signature", "code", "auth", "authorization", "session",
    };

    /// <summary>True for a header whose whole value is a credential.</summary>
    public static bool IsSecretHeader(string name)
    {
        if (s_secretHeaders.Contains(name))
        {
            return true;
        }
        var dash = name.LastIndexOf('-');
        if (dash >= 0 && s_secretHeaderSuffixes.Contains(name[(dash + 1)..]))
        {
            return true;
        }
        // X-Hub-Signature-256 and the like: a signature with a version after it.
        return name.Contains("-Signature-", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>True for a header whose value is a URL (its query string is redacted).</summary>
    public static bool IsUrlHeader(string name) => s_urlHeaders.Contains(name);

    /// <summary>
    /// True for a query, form or JSON name that looks like it holds a secret: a known name (token, access_token,
    /// api_key, password, code, session, …), a name containing token, secret, password, signature or session, or a
    /// name ending in _key, -key or Key (privateKey).
    /// </summary>
    public static bool IsSecretName(string name)
    {
        if (name.Length == 0)
        {
            return false;
        }
        var lower = name.ToLowerInvariant().Replace('-', '_');
        if (s_secretNames.Contains(lower)
            || lower.Contains("token", StringComparison.Ordinal)
            || lower.Contains("secret", StringComparison.Ordinal)
            || lower.Contains("password", StringComparison.Ordinal)
            || lower.Contains("signature", StringComparison.Ordinal)
            || lower.Contains("session", StringComparison.Ordinal)
            || lower.EndsWith("_key", StringComparison.Ordinal))
        {
            return true;
        }
        // camelCase: privateKey, accessKey (but not "monkey").
        return name.Length > 3 && name.EndsWith("Key", StringComparison.Ordinal) && char.IsLower(name[^4]);
    }

    /// <summary>The URL with the values of secret query parameters replaced (the rest is kept as written).</summary>
    public static string RedactUrl(string url)
    {
        var q = url.IndexOf('?', StringComparison.Ordinal);
        if (q < 0)
        {
            return url;
        }
        var hash = url.IndexOf('#', q + 1);
        var end = hash < 0 ? url.Length : hash;
        var query = url[(q + 1)..end];
        var redacted = RedactPairs(query);
        return ReferenceEquals(redacted, query) ? url : string.Concat(url.AsSpan(0, q + 1), redacted, url.AsSpan(end));
    }

    /// <summary>
    /// name=value pairs joined by '&amp;' (a query string or an application/x-www-form-urlencoded body) with the
    /// values of secret names replaced; the same instance when nothing was.
    /// </summary>
    public static string RedactPairs(string pairs)
    {
        if (pairs.Length == 0)
        {
            return pairs;
        }
        var parts = pairs.Split('&');
        var changed = false;
        for (var i = 0; i < parts.Length; i++)
        {
            var eq = parts[i].IndexOf('=', StringComparison.Ordinal);
            if (eq >= 0 && IsSecretName(UnescapeForm(parts[i][..eq])))
            {
                parts[i] = parts[i][..(eq + 1)] + Marker;
                changed = true;
            }
        }
        return changed ? string.Join('&', parts) : pairs;
    }

    /// <summary>Decodes one name or value of a query string or form body ('+' is a space).</summary>
    public static string UnescapeForm(string value)
    {
        try
        {
            return Uri.UnescapeDataString(value.Replace('+', ' '));
        }
        catch (UriFormatException)
        {
            return value;
        }
    }

    /// <summary>
    /// JSON text with the value of every property whose name looks secret replaced by "REDACTED", at any depth (an
    /// object or array value is replaced whole). The rest keeps its exact text. A body cut short by the capture limit
    /// is handled up to the cut (a secret value cut in the middle is replaced to the end); text that is not JSON
    /// falls back to replacing "name": value pairs wherever they appear.
    /// </summary>
    public static string RedactJson(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var ranges = new List<(int Start, int End)>();
        var reader = new Utf8JsonReader(bytes, isFinalBlock: false, new JsonReaderState(new JsonReaderOptions
        {
            AllowTrailingCommas = true,
            CommentHandling = JsonCommentHandling.Skip,
            MaxDepth = 256,
        }));
        var pendingSecret = false;
        var secretDepth = -1;
        var secretStart = 0;
        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.PropertyName:
                        pendingSecret = secretDepth < 0 && IsSecretName(reader.GetString() ?? string.Empty);
                        break;
                    case JsonTokenType.StartObject or JsonTokenType.StartArray:
                        if (pendingSecret)
                        {
                            secretDepth = reader.CurrentDepth;
                            secretStart = (int)reader.TokenStartIndex;
                        }
                        pendingSecret = false;
                        break;
                    case JsonTokenType.EndObject or JsonTokenType.EndArray:
                        if (secretDepth >= 0 && reader.CurrentDepth == secretDepth)
                        {
                            ranges.Add((secretStart, (int)reader.BytesConsumed));
                            secretDepth = -1;
                        }
                        break;
                    case JsonTokenType.String or JsonTokenType.Number:
                        if (pendingSecret)
                        {
                            ranges.Add(((int)reader.TokenStartIndex, (int)reader.BytesConsumed));
                        }
                        pendingSecret = false;
                        break;
                    default:
                        pendingSecret = false;
                        break;
                }
            }
        }
        catch (JsonException)
        {
            return RedactJsonLike(Splice(bytes, ranges));
        }

        AddUnfinishedSecret(bytes, ranges, secretDepth >= 0 ? secretStart : -1, pendingSecret, (int)reader.BytesConsumed);
        return ranges.Count == 0 ? text : Splice(bytes, ranges);
    }

    /// <summary>
    /// The data ended (a whole document, or one cut short by the capture limit): a secret object or array still open
    /// (<paramref name="openSecretStart"/>, or -1) or a secret name whose value was cut is redacted to the end.
    /// </summary>
    private static void AddUnfinishedSecret(byte[] bytes, List<(int Start, int End)> ranges, int openSecretStart, bool pendingSecret, int consumed)
    {
        if (openSecretStart >= 0)
        {
            ranges.Add((openSecretStart, bytes.Length));
        }
        else if (pendingSecret)
        {
            var start = consumed;
            while (start < bytes.Length && bytes[start] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n' or (byte)':')
            {
                start++;
            }
            if (start < bytes.Length)
            {
                ranges.Add((start, bytes.Length));
            }
        }
    }

    /// <summary>The UTF-8 text with each range replaced by "REDACTED" (quoted).</summary>
    private static string Splice(byte[] bytes, List<(int Start, int End)> ranges)
    {
        if (ranges.Count == 0)
        {
            return Encoding.UTF8.GetString(bytes);
        }
        using var output = new MemoryStream(bytes.Length);
        var at = 0;
        foreach (var (start, end) in ranges)
        {
            output.Write(bytes, at, start - at);
            output.Write(s_jsonMarker);
            at = end;
        }
        output.Write(bytes, at, bytes.Length - at);
        return Encoding.UTF8.GetString(output.GetBuffer(), 0, (int)output.Length);
    }

    /// <summary>For text that does not read as JSON: replaces the value of each "secret name": "value" or number pair.</summary>
    private static string RedactJsonLike(string text) =>
        JsonPair().Replace(text, match => IsSecretName(match.Groups["name"].Value)
            ? string.Concat(match.Groups["head"].Value, "\"", Marker, "\"")
            : match.Value);

    [GeneratedRegex("""(?<head>"(?<name>[^"\\\r\n]{1,128})"\s*:\s*)(?:"(?:[^"\\]|\\.)*(?:"|$)|-?[0-9][0-9.eE+\-]*)""", RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 1000)]
    private static partial Regex JsonPair();
}
