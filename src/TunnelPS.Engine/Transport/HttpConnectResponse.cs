namespace TunnelPS.Engine.Transport;

/// <summary>The parsed head of a proxy's answer to CONNECT.</summary>
internal sealed class HttpConnectResponse
{
    public HttpConnectResponse(bool isHttp10, int statusCode, string reasonPhrase, IReadOnlyList<KeyValuePair<string, string>> headers)
    {
        IsHttp10 = isHttp10;
        StatusCode = statusCode;
        ReasonPhrase = reasonPhrase;
        Headers = headers;
    }

    public bool IsHttp10 { get; }

    public int StatusCode { get; }

    public string ReasonPhrase { get; }

    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; }

    public bool IsSuccess => StatusCode is >= 200 and <= 299;

    /// <summary>"407 Proxy Authentication Required", for messages.</summary>
    public string StatusText => ReasonPhrase.Length == 0 ? StatusCode.ToString(System.Globalization.CultureInfo.InvariantCulture) : $"{StatusCode} {ReasonPhrase}";

    public IEnumerable<string> Values(string name)
    {
        foreach (var header in Headers)
        {
            if (header.Key.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                yield return header.Value;
            }
        }
    }

    public string? Value(string name) => Values(name).FirstOrDefault();

    /// <summary>The Proxy-Authenticate challenges, one per scheme (a header may list several, comma-separated).</summary>
    public IReadOnlyList<(string Scheme, string? Data)> Challenges()
    {
        var result = new List<(string, string?)>();
        foreach (var value in Values("Proxy-Authenticate"))
        {
            // Schemes we act on (NTLM, Negotiate) carry a single token68 or nothing; Basic carries auth-params.
            // Splitting at commas is good enough to find scheme names; params of Basic are not used.
            foreach (var part in value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                var space = part.IndexOf(' ', StringComparison.Ordinal);
                var scheme = space < 0 ? part : part[..space];
                if (scheme.Contains('=', StringComparison.Ordinal))
                {
                    continue; // an auth-param of the previous challenge, e.g. charset="UTF-8"
                }
                result.Add((scheme, space < 0 ? null : part[(space + 1)..].Trim()));
            }
        }
        return result;
    }

    /// <summary>Whether the proxy will close the connection after this response.</summary>
    public bool ClosesConnection()
    {
        foreach (var name in new[] { "Connection", "Proxy-Connection" })
        {
            foreach (var value in Values(name))
            {
                if (value.Contains("close", StringComparison.OrdinalIgnoreCase))
                {
                    return true;
                }
                if (value.Contains("keep-alive", StringComparison.OrdinalIgnoreCase))
                {
                    return false;
                }
            }
        }
        return IsHttp10;
    }
}
