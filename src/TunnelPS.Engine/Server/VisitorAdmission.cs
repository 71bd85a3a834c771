using System.Net;
using Microsoft.Extensions.Logging;
using TunnelPS.Engine.Acme;
using TunnelPS.Engine.Diagnostics;
using TunnelPS.Engine.Http;

namespace TunnelPS.Engine.Server;

/// <summary>
/// Admission and routing of a public connection's requests: the host a request is routed by (remembered across a
/// keep-alive connection, so the same name costs no string after the first request) and the tunnel's access rules
/// (IP rules, basic auth, a connected client) a request must pass before any byte of it is forwarded. The tunnel's
/// connection limit is checked where a connection to the client is taken (<see cref="TunnelForwarder"/>); whether an
/// unknown host goes to another node of the cluster is the connection's decision (only its first request may).
/// With ACME (<paramref name="acme"/>), an HTTP-01 validation in flight is answered before any routing.
/// </summary>
internal sealed class VisitorAdmission(ILogger logger, long connectionId, EndPoint? remoteEndPoint, string remote, AcmeChallengeResponder? acme = null)
{
    private byte[]? _lastAuthority;
    private int _lastAuthorityLength;
    private string? _lastHost;

    /// <summary>
    /// Routes a request: null when it goes on to the tunnel of <paramref name="host"/>, or the page the server answers
    /// it with itself (then <paramref name="host"/> is empty): an ACME HTTP-01 validation of a name this server orders
    /// a certificate for (answered before Host routing, so a tunnel holding the name never sees it), or a 400 for a
    /// request with no host.
    /// </summary>
    public byte[]? Route(ReadOnlySpan<byte> head, ForwardedRequest request, out string host)
    {
        host = "";
        if (acme is not null && AcmeHttpChallenge.TryAnswer(head, acme) is { } challenge)
        {
            return challenge;
        }
        if (RoutingHost(request.Authority(head)) is not { } routed)
        {
            TunnelMetrics.RefusedVisitors.Add(1, new KeyValuePair<string, object?>("reason", "bad_request"));
            return ErrorPages.BadRequest("The request has no Host header, so it cannot be routed to a tunnel.");
        }
        host = routed;
        return null;
    }

    /// <summary>
    /// The host a request is routed by (without port or trailing dot, lowercased), from its authority bytes; null when
    /// there is none.
    /// </summary>
    public string? RoutingHost(ReadOnlySpan<byte> authority)
    {
        if (_lastHost is not null && authority.SequenceEqual(_lastAuthority.AsSpan(0, _lastAuthorityLength)))
        {
            return _lastHost;
        }
        var host = NormalizeHost(authority);
        if (host is not null && authority.Length <= 255)
        {
            _lastAuthority ??= new byte[255];
            authority.CopyTo(_lastAuthority);
            _lastAuthorityLength = authority.Length;
            _lastHost = host;
        }
        return host;
    }

    /// <summary>
    /// Checks a request for <paramref name="tunnel"/> against its access rules: the page to refuse it with, or null
    /// when it may be forwarded (the tunnel's client is then connected: <see cref="RegisteredTunnel.Session"/>).
    /// </summary>
    public byte[]? Refusal(RegisteredTunnel tunnel, string host, ForwardedRequest request, ReadOnlySpan<byte> head)
    {
        if (!tunnel.Access.IsAllowed(remoteEndPoint))
        {
            TunnelMetrics.RefusedVisitors.Add(1, new KeyValuePair<string, object?>("reason", "ip_rules"));
            ServerLog.VisitorRefused(logger, connectionId, remote, tunnel.Url, "the tunnel's IP rules do not allow the address");
            return ErrorPages.Forbidden(host);
        }
        if (tunnel.Auth is { } auth && !auth.IsAuthorized(request.Authorization(head)))
        {
            return ErrorPages.Unauthorized(host, keepAlive: false);
        }
        return tunnel.Session is null ? ErrorPages.ClientNotConnected(host) : null;
    }

    /// <summary>The host of an authority (host[:port]) without port or trailing dot, lowercased; null when empty.</summary>
    public static string? NormalizeHost(ReadOnlySpan<byte> authority)
    {
        var host = authority.Trim(" \t"u8);
        if (!host.IsEmpty && host[0] == (byte)'[')
        {
            var close = host.IndexOf((byte)']');
            host = close > 0 ? host[..(close + 1)] : host;
        }
        else
        {
            var colon = host.LastIndexOf((byte)':');
            if (colon >= 0)
            {
                host = host[..colon];
            }
        }
        host = host.TrimEnd((byte)'.');
        if (host.IsEmpty)
        {
            return null;
        }
        return string.Create(host.Length, host.ToArray(), static (chars, bytes) =>
        {
            for (var i = 0; i < bytes.Length; i++)
            {
                chars[i] = (char)bytes[i] is >= 'A' and <= 'Z' ? (char)(bytes[i] + 32) : (char)bytes[i];
            }
        });
    }
}
