namespace TunnelPS.Engine.Transport;

/// <summary>
/// What one CONNECT dial through a proxy saw, for the connectivity probe: the proxy's last answer, the
/// authentication schemes it offered and the one the dial used. Filled in by <see cref="HttpConnectDialer"/>.
/// </summary>
internal sealed class HttpConnectTrace
{
    /// <summary>The status of the proxy's last answer; null when it never answered.</summary>
    public int? StatusCode { get; private set; }

    /// <summary>The status line of the proxy's last answer: "HTTP/1.1 200 Connection established".</summary>
    public string? StatusLine { get; private set; }

    /// <summary>The schemes of the Proxy-Authenticate challenges of the last 407 (Basic, NTLM, Negotiate); empty when none came.</summary>
    public IReadOnlyList<string> OfferedSchemes { get; private set; } = [];

    /// <summary>The scheme of the Proxy-Authorization the last CONNECT carried; null when it carried none.</summary>
    public string? UsedScheme { get; private set; }

    internal void Record(HttpConnectResponse response, string? authorization)
    {
        StatusCode = response.StatusCode;
        StatusLine = $"HTTP/1.{(response.IsHttp10 ? 0 : 1)} {response.StatusText}";
        UsedScheme = authorization is null ? null : authorization.Split(' ', 2)[0];
        if (response.StatusCode == 407)
        {
            var schemes = new List<string>();
            foreach (var (scheme, _) in response.Challenges())
            {
                if (!schemes.Contains(scheme, StringComparer.OrdinalIgnoreCase))
                {
                    schemes.Add(scheme);
                }
            }
            OfferedSchemes = schemes;
        }
    }
}
