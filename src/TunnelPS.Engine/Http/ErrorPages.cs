using System.Globalization;
using System.Net;
using System.Text;

namespace TunnelPS.Engine.Http;

/// <summary>The small, clear pages a tunnel answers with when it cannot forward a request.</summary>
internal static class ErrorPages
{
    /// <summary>Renders a complete HTTP/1.1 response: status line, headers, an HTML body that states what happened and what to do.</summary>
    public static byte[] Render(int status, string reason, string title, string detail, bool keepAlive = false, IEnumerable<KeyValuePair<string, string>>? extraHeaders = null)
    {
        var body = new StringBuilder(512)
            .Append("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>")
            .Append(status.ToString(CultureInfo.InvariantCulture)).Append(' ').Append(WebUtility.HtmlEncode(title))
            .Append("</title><style>body{font-family:system-ui,sans-serif;margin:3em auto;max-width:42em;color:#222}h1{font-size:1.4em}code{background:#f2f2f2;padding:0 .2em}</style></head><body><h1>")
            .Append(WebUtility.HtmlEncode(title))
            .Append("</h1><p>")
            .Append(WebUtility.HtmlEncode(detail))
            .Append("</p><hr><p><small>TunnelPS</small></p></body></html>\n")
            .ToString();
        var bodyBytes = Encoding.UTF8.GetBytes(body);
        var head = new StringBuilder(256)
            .Append("HTTP/1.1 ").Append(status.ToString(CultureInfo.InvariantCulture)).Append(' ').Append(reason).Append("\r\n")
            .Append("Content-Type: text/html; charset=utf-8\r\n")
            .Append("Content-Length: ").Append(bodyBytes.Length.ToString(CultureInfo.InvariantCulture)).Append("\r\n")
            .Append("Cache-Control: no-store\r\n")
            .Append("X-TunnelPS-Error: ").Append(status.ToString(CultureInfo.InvariantCulture)).Append("\r\n")
            .Append(keepAlive ? "" : "Connection: close\r\n");
        if (extraHeaders is not null)
        {
            foreach (var header in extraHeaders)
            {
                head.Append(header.Key).Append(": ").Append(header.Value).Append("\r\n");
            }
        }
        head.Append("\r\n");
        var headBytes = Encoding.ASCII.GetBytes(head.ToString());
        var result = new byte[headBytes.Length + bodyBytes.Length];
        headBytes.CopyTo(result, 0);
        bodyBytes.CopyTo(result, headBytes.Length);
        return result;
    }

    public static byte[] TunnelNotFound(string host) =>
        Render(404, "Not Found", "Tunnel not found",
            $"No tunnel is open for the host '{host}' on this server. Check the URL, or start the tunnel with Start-Tunnel.");

    public static byte[] Unauthorized(string host, bool keepAlive) =>
        Render(401, "Unauthorized", "Authentication required",
            $"The tunnel '{host}' is protected by basic authentication. Give the user name and password its owner set.",
            keepAlive, [new("WWW-Authenticate", $"Basic realm=\"TunnelPS {host}\", charset=\"UTF-8\"")]);

    public static byte[] LocalServiceUnavailable(string localAddress, string error) =>
        Render(502, "Bad Gateway", "The local service is not answering",
            $"The tunnel is up, but the TunnelPS client could not connect to the local service at {localAddress}: {error}. Start the service, or point the tunnel at the right port.");

    public static byte[] LocalServiceClosed(string localAddress) =>
        Render(502, "Bad Gateway", "The local service closed the connection",
            $"The tunnel is up and the TunnelPS client passed the request on, but the local service at {localAddress} closed the connection before it answered. Check the local service's log for why it dropped the request.");

    public static byte[] LocalServiceTimeout(string localAddress, TimeSpan timeout) =>
        Render(504, "Gateway Timeout", "The local service did not answer in time",
            string.Create(CultureInfo.InvariantCulture, $"The tunnel is up, but the local service at {localAddress} did not accept the TunnelPS client's connection within {timeout.TotalSeconds:0.#} s. Check that the service is running and not overloaded."));

    public static byte[] ClientNotConnected(string host) =>
        Render(503, "Service Unavailable", "Tunnel client not connected",
            $"The tunnel '{host}' exists, but its TunnelPS client is not connected right now (it may be reconnecting). Try again in a moment.");

    public static byte[] ProxyTimeout(string host) =>
        Render(504, "Gateway Timeout", "Tunnel client did not answer in time",
            $"The TunnelPS client for '{host}' did not open a connection for this request in time. It may be overloaded or its network may be slow.");

    public static byte[] Forbidden(string host) =>
        Render(403, "Forbidden", "Address not allowed",
            $"The tunnel '{host}' does not accept visitors from your address. Its owner limits it to certain addresses.");

    /// <summary>The answer to CONNECT on an http tunnel.</summary>
    public static byte[] ConnectNotAllowed() =>
        Render(405, "Method Not Allowed", "CONNECT is not supported",
            "This address is a tunnel to a web service, not a forward proxy: it does not open CONNECT tunnels to other hosts. Send requests to the tunnel's URL with an ordinary method; for a protocol that is not HTTP, open a TCP tunnel (Start-Tunnel -Tcp).",
            extraHeaders: [new("Allow", "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS, TRACE")]);

    public static byte[] TunnelBusy(string host) =>
        Render(503, "Service Unavailable", "Too many connections to this tunnel",
            $"The tunnel '{host}' has as many open connections as it may. Close some connections, or try again in a moment.",
            extraHeaders: [new("Retry-After", "5")]);

    public static byte[] BadGateway(string host, string detail) =>
        Render(502, "Bad Gateway", "The tunnel did not deliver a response",
            $"The tunnel '{host}' is up, but {detail}");

    public static byte[] BadRequest(string detail, int status = 400) =>
        Render(status, status == 431 ? "Request Header Fields Too Large" : "Bad Request", "Bad request", detail);
}
