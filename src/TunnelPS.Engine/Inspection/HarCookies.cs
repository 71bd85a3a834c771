using System.Globalization;
using System.Text.Json;

namespace TunnelPS.Engine.Inspection;

/// <summary>The cookies of a HAR entry: parsed from Cookie (request) and Set-Cookie (response) headers, and written.</summary>
internal static class HarCookies
{
    /// <summary>One cookie as HAR 1.2 lists it.</summary>
    internal sealed record Cookie(string Name, string Value, string? Path, string? Domain, string? Expires, bool HttpOnly, bool Secure);

    /// <summary>The cookies of the request's Cookie headers.</summary>
    public static List<Cookie> FromRequest(IReadOnlyList<KeyValuePair<string, string>> headers)
    {
        var cookies = new List<Cookie>();
        foreach (var header in headers)
        {
            if (!string.Equals(header.Key, "Cookie", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }
            foreach (var part in header.Value.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                var eq = part.IndexOf('=', StringComparison.Ordinal);
                cookies.Add(eq < 0 ? new Cookie(part, string.Empty, null, null, null, false, false) : new Cookie(part[..eq], part[(eq + 1)..], null, null, null, false, false));
            }
        }
        return cookies;
    }

    /// <summary>The cookies the response sets (Set-Cookie), with their attributes.</summary>
    public static List<Cookie> FromResponse(IReadOnlyList<KeyValuePair<string, string>> headers)
    {
        var cookies = new List<Cookie>();
        foreach (var header in headers)
        {
            if (!string.Equals(header.Key, "Set-Cookie", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }
            var parts = header.Value.Split(';', StringSplitOptions.TrimEntries);
            var eq = parts[0].IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                continue;
            }
            string? path = null, domain = null, expires = null;
            bool httpOnly = false, secure = false;
            foreach (var attribute in parts.AsSpan(1))
            {
                var aeq = attribute.IndexOf('=', StringComparison.Ordinal);
                var name = aeq < 0 ? attribute : attribute[..aeq];
                var value = aeq < 0 ? string.Empty : attribute[(aeq + 1)..];
                switch (name.ToUpperInvariant())
                {
                    case "PATH": path = value; break;
                    case "DOMAIN": domain = value; break;
                    case "EXPIRES":
                        expires = DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var when)
                            ? when.ToString("yyyy-MM-dd'T'HH:mm:ss.fffzzz", CultureInfo.InvariantCulture)
                            : null;
                        break;
                    case "HTTPONLY": httpOnly = true; break;
                    case "SECURE": secure = true; break;
                }
            }
            cookies.Add(new Cookie(parts[0][..eq], parts[0][(eq + 1)..], path, domain, expires, httpOnly, secure));
        }
        return cookies;
    }

    /// <summary>A HAR "cookies" array; -Redact hides every value.</summary>
    public static void Write(Utf8JsonWriter w, List<Cookie> cookies, HarWriterOptions options)
    {
        // Cookies are credentials (session ids): -Redact hides every cookie value.
        var redact = options.Redact;
        w.WriteStartArray("cookies");
        foreach (var cookie in cookies)
        {
            w.WriteStartObject();
            w.WriteString("name", cookie.Name);
            w.WriteString("value", redact ? HarRedactor.Marker : cookie.Value);
            if (cookie.Path is not null)
            {
                w.WriteString("path", cookie.Path);
            }
            if (cookie.Domain is not null)
            {
                w.WriteString("domain", cookie.Domain);
            }
            if (cookie.Expires is not null)
            {
                w.WriteString("expires", cookie.Expires);
            }
            if (cookie.HttpOnly)
            {
                w.WriteBoolean("httpOnly", true);
            }
            if (cookie.Secure)
            {
                w.WriteBoolean("secure", true);
            }
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }
}
