using System.Globalization;
using System.Net;
using TunnelPS.Engine.Configuration;

namespace TunnelPS.Engine.Inspector;

/// <summary>
/// Who may use the inspector. The inspector answers only requests addressed to it by an address (the bound one,
/// localhost, 127.0.0.1 or [::1], on its port), so a web page whose DNS name was rebound to 127.0.0.1 is refused; it
/// sends no CORS headers, so no other origin can read an answer; the API refuses requests the browser marks as
/// cross-site, and any foreign Origin; and a call that changes something (replay, clear) needs the
/// <c>X-TunnelPS-Request</c> header, which a cross-site form, image or script cannot send without a preflight that
/// the inspector never grants, unless it is a DELETE or a JSON POST, which a cross-site page cannot send without that
/// preflight either (see <see cref="CannotComeFromAForm"/>).
/// </summary>
internal static class InspectorAccess
{
    /// <summary>The header a mutating call must carry, with the value "1".</summary>
    public const string RequestHeader = "X-TunnelPS-Request";

    /// <summary>Why <paramref name="request"/> is refused, or null when it may be served.</summary>
    public static string? Refusal(InspectorRequest request, IPEndPoint bound)
    {
        var host = request.Header("Host");
        if (string.IsNullOrWhiteSpace(host))
        {
            return "the request has no Host header";
        }
        if (!IsAllowedHost(host.Trim(), bound))
        {
            return $"the Host '{host}' is not this inspector's address (use http://{InspectorAddress.Format(bound.Address, bound.Port)}/ or http://localhost:{bound.Port.ToString(CultureInfo.InvariantCulture)}/)";
        }
        var isApi = request.Path.StartsWith("/api/", StringComparison.Ordinal);
        var site = request.Header("Sec-Fetch-Site");
        if (isApi && site is not null && site is not ("same-origin" or "none"))
        {
            return $"the browser marked the request as {site} (Sec-Fetch-Site); the API answers the inspector's own page only";
        }
        var origin = request.Header("Origin");
        if (origin is not null && !IsSameOrigin(origin, host.Trim()))
        {
            return $"the request comes from the origin '{origin}'; the inspector answers its own page only";
        }
        if (IsMutating(request.Method) && request.Header(RequestHeader) != "1" && !CannotComeFromAForm(request))
        {
            return $"a call that changes something needs the header '{RequestHeader}: 1', or must be a DELETE or a POST of Content-Type application/json (a cross-site form can send neither); this one is a {request.Method} of Content-Type '{request.Header("Content-Type") ?? "(none)"}'";
        }
        return null;
    }

    /// <summary>
    /// True for a DELETE, or a POST whose Content-Type is exactly application/json (parameters allowed): a cross-site
    /// form or image can send neither, and a cross-site script only after a CORS preflight the inspector never grants.
    /// So these are taken without <see cref="RequestHeader"/>, as ngrok's agent API takes them (its clients, such as the
    /// npm ngrok package's NgrokClient, do not send the header). A form-encoded, multipart or text/plain POST, which a
    /// form can send, still needs it.
    /// </summary>
    public static bool CannotComeFromAForm(InspectorRequest request) => request.Method switch
    {
        "DELETE" => true,
        "POST" => IsJson(request.Header("Content-Type")),
        _ => false,
    };

    private static bool IsJson(string? contentType)
    {
        if (contentType is null)
        {
            return false;
        }
        var semicolon = contentType.IndexOf(';', StringComparison.Ordinal);
        var mediaType = (semicolon < 0 ? contentType : contentType[..semicolon]).Trim();
        return mediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>
    /// Why <paramref name="request"/> is refused for who sent it, or null: a process of the inspector's own user (or
    /// root) is served; another user's is refused whatever it sends; one whose owner is unknown needs
    /// <paramref name="key"/> (the header, the cookie, or the keyed link to the page).
    /// </summary>
    public static string? OwnerRefusal(InspectorRequest request, InspectorKey? key, uint? ownUid)
    {
        switch (request.Peer.Kind)
        {
            case InspectorPeerKind.SameUser:
                return null;
            case InspectorPeerKind.OtherUser:
                return $"the connection comes from a process of another user (uid {request.Peer.Uid}); only the user who started the web inspector (uid {ownUid}) may read or replay its captures";
        }
        if (key is not null && (key.Matches(InspectorKey.Carried(request))
            || (request.Path == "/" && request.Method is "GET" or "HEAD" && key.Matches(request.Query(InspectorKey.QueryName)))))
        {
            return null;
        }
        return key is null
            ? "this platform does not tell which user a connection comes from, and the inspector has no access key to ask for"
            : $"this platform does not tell which user a connection comes from: open the inspector from the link with its key (Start-Tunnel shows it), or send the key in '{key.Path}' as the header '{InspectorKey.HeaderName}'";
    }

    public static bool IsMutating(string method) => method is not ("GET" or "HEAD");

    /// <summary>
    /// True when <paramref name="host"/> (a Host header) names this inspector by address: localhost, 127.0.0.1, [::1]
    /// or the bound address (any IP address when bound to every interface), with the bound port.
    /// </summary>
    public static bool IsAllowedHost(string host, IPEndPoint bound)
    {
        if (!TrySplit(host, out var name, out var port))
        {
            return false;
        }
        if (port != bound.Port && !(port == -1 && bound.Port == 80))
        {
            return false;
        }
        if (name.Equals("localhost", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }
        var literal = name.StartsWith('[') && name.EndsWith(']') ? name[1..^1] : name;
        if (!IPAddress.TryParse(literal, out var address) || (name.Contains(':', StringComparison.Ordinal) && !name.StartsWith('[')))
        {
            // A DNS name other than localhost: exactly what DNS rebinding sends.
            return false;
        }
        if (address.Equals(IPAddress.Loopback) || address.Equals(IPAddress.IPv6Loopback) || address.Equals(bound.Address))
        {
            return true;
        }
        return bound.Address.Equals(IPAddress.Any) || bound.Address.Equals(IPAddress.IPv6Any);
    }

    /// <summary>True when <paramref name="origin"/> is http://<paramref name="host"/> (the page's own origin).</summary>
    private static bool IsSameOrigin(string origin, string host) =>
        origin.Equals("http://" + host, StringComparison.OrdinalIgnoreCase);

    private static bool TrySplit(string host, out string name, out int port)
    {
        port = -1;
        name = host;
        var portText = (string?)null;
        if (host.StartsWith('['))
        {
            var close = host.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                return false;
            }
            name = host[..(close + 1)];
            var rest = host[(close + 1)..];
            if (rest.Length > 0)
            {
                if (rest[0] != ':')
                {
                    return false;
                }
                portText = rest[1..];
            }
        }
        else
        {
            var colon = host.LastIndexOf(':');
            if (colon >= 0)
            {
                if (host.IndexOf(':', StringComparison.Ordinal) != colon)
                {
                    return false;
                }
                name = host[..colon];
                portText = host[(colon + 1)..];
            }
        }
        if (portText is not null && (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port > 65535))
        {
            return false;
        }
        return name.Length > 0;
    }
}
