using System.Globalization;
using System.Net.Sockets;
using System.Security.Cryptography;
using TunnelPS.Engine.Configuration;
using TunnelPS.Engine.Diagnostics;
using TunnelPS.Engine.Protocol;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Server;

/// <summary>
/// Turns one protocol of a ReqTunnel into a registered tunnel, or the error to send back: which host names a client may
/// have (names under the domain, hostnames the server allows, never the domain or its parents, never another tenant's
/// reserved or held name, nor one nested under or above it), which TCP ports (inside the server's range, or reserved
/// for the token; never privileged ones otherwise), and the tunnel's access rules and limits.
/// </summary>
internal sealed class TunnelRegistrar(TunnelServer server)
{
    private TunnelServerOptions Options => server.Options;

    /// <summary>
    /// Registers one protocol of a request: on this server, then (in a cluster) in the cluster store, which has the
    /// last word on whether the name or port is free across every node.
    /// </summary>
    public async Task<(RegisteredTunnel? Tunnel, string? Error)> RegisterAsync(ControlSession session, string protocol, ReqTunnel request)
    {
        var (tunnel, error) = Register(session, protocol, request);
        if (tunnel is null || server.Cluster is not { } cluster)
        {
            return (tunnel, error);
        }
        if (await cluster.ClaimAsync(tunnel, session).ConfigureAwait(false) is { } refused)
        {
            server.ReleaseTunnel(tunnel);
            return (null, refused);
        }
        return (tunnel, null);
    }

    private (RegisteredTunnel? Tunnel, string? Error) Register(ControlSession session, string protocol, ReqTunnel request)
    {
        IPAccessList access;
        try
        {
            access = IPAccessList.Parse(request.AllowIP, request.DenyIP, "The tunnel's IP rules");
        }
        catch (TunnelConfigurationException ex)
        {
            return (null, ex.Message);
        }
        var now = Options.TimeProvider.GetUtcNow();
        return protocol switch
        {
            "http" or "https" => RegisterHttp(session, protocol, request, access, now),
            "tcp" => RegisterTcp(session, request, access, now),
            _ => (null, $"Unknown tunnel protocol '{protocol}'; use http, https or tcp."),
        };
    }

    private (RegisteredTunnel?, string?) RegisterHttp(ControlSession session, string scheme, ReqTunnel request, IPAccessList access, DateTimeOffset now)
    {
        if (scheme == "http" && server.HttpPort < 0)
        {
            return (null, "This server has no plain HTTP port; request an https tunnel.");
        }
        BasicAuthentication? auth = null;
        if (!string.IsNullOrEmpty(request.HttpAuth))
        {
            if (!BasicAuthentication.IsValidPair(request.HttpAuth))
            {
                return (null, "Basic auth must be given as user:password.");
            }
            auth = new BasicAuthentication(request.HttpAuth);
        }
        if (!string.IsNullOrEmpty(request.HostHeader) && (request.HostHeader.Length > 255 || request.HostHeader.Trim().Any(c => char.IsWhiteSpace(c) || char.IsControl(c))))
        {
            return (null, "The requested host header rewrite is not a valid host (host or host:port).");
        }
        var tenant = session.Tenant;
        string host;
        if (!string.IsNullOrWhiteSpace(request.Hostname))
        {
            host = request.Hostname.Trim().TrimEnd('.').ToLowerInvariant();
            if (!HostNames.IsValidHostname(host))
            {
                return (null, $"'{request.Hostname}' is not a valid host name.");
            }
            if (HostnameProblem(host) is { } problem)
            {
                return (null, problem);
            }
        }
        else if (!string.IsNullOrWhiteSpace(request.Subdomain))
        {
            var label = request.Subdomain.Trim().TrimEnd('.').ToLowerInvariant();
            if (!label.Split('.').All(HostNames.IsValidLabel))
            {
                return (null, $"'{request.Subdomain}' is not a valid subdomain: use letters, digits and '-', at most 63 characters, not starting or ending with '-'.");
            }
            host = label + "." + server.Domain;
            if (host.Length > 253)
            {
                return (null, $"'{request.Subdomain}' is too long: the host name may have at most 253 characters.");
            }
        }
        else
        {
            host = "";
            for (var attempt = 0; attempt < 16; attempt++)
            {
                var candidate = HostNames.RandomName() + "." + server.Domain;
                if (server.Registry.IsHostFree(candidate) && !server.Tenants.IsReserved(candidate))
                {
                    host = candidate;
                    break;
                }
            }
            if (host.Length == 0)
            {
                return (null, "Could not find a free random name; try again.");
            }
        }
        if (server.Tenants.ReservationConflict(host, tenant.Key) is { } reserved)
        {
            return (null, reserved + " Choose another -Subdomain or -Hostname.");
        }
        var port = scheme == "https" ? server.Port : server.HttpPort;
        var defaultPort = scheme == "https" ? 443 : 80;
        var url = port == defaultPort ? $"{scheme}://{host}" : string.Create(CultureInfo.InvariantCulture, $"{scheme}://{host}:{port}");
        var tunnel = new RegisteredTunnel
        {
            Url = url,
            Protocol = scheme,
            Host = host,
            Port = port,
            Owner = tenant.Key,
            OwnerName = tenant.Name,
            Auth = auth,
            Access = access,
            MaxConnections = tenant.MaxConnectionsPerTunnel,
            HostHeader = string.IsNullOrWhiteSpace(request.HostHeader) ? null : request.HostHeader.Trim(),
            StartTime = now,
            Session = session,
        };
        if (server.Registry.TryAddHttp(scheme, tunnel, now) is { } error)
        {
            return (null, error);
        }
        // With ACME, a name a tunnel now holds gets its public certificate ordered (served by SNI once issued).
        server.Acme?.Request(host);
        return (tunnel, null);
    }

    /// <summary>Why a client may not ask for <paramref name="host"/> as a Hostname, or null.</summary>
    private string? HostnameProblem(string host)
    {
        if (HostNames.IsSameOrParent(host, server.Domain))
        {
            return $"'{host}' is the server's own domain (or a parent of it), which is never given to a tunnel: cookies set there would reach every tunnel. Ask for a name under it.";
        }
        if (HostNames.IsUnder(host, server.Domain))
        {
            return null;
        }
        foreach (var pattern in Options.AllowedHostnames)
        {
            if (HostNames.Matches(pattern, host))
            {
                return null;
            }
        }
        return Options.AllowedHostnames.Count == 0
            ? $"This server gives out only names under {server.Domain}; '{host}' is not one. Ask for -Subdomain, or ask the server's admin to allow it with -AllowedHostname."
            : $"This server does not give out '{host}': allowed are names under {server.Domain} and {string.Join(", ", Options.AllowedHostnames)}.";
    }

    private (RegisteredTunnel?, string?) RegisterTcp(ControlSession session, ReqTunnel request, IPAccessList access, DateTimeOffset now)
    {
        if (request.RemotePort is < 0 or > 65535)
        {
            return (null, string.Create(CultureInfo.InvariantCulture, $"Remote port {request.RemotePort} is not a port number (1-65535, or 0 for any)."));
        }
        var tenant = session.Tenant;
        var port = request.RemotePort;
        var reclaimed = port > 0 ? server.Registry.FindReclaimableTcp(port, tenant.Key, now) : null;
        TcpTunnelListener? listener = reclaimed?.Listener;
        if (reclaimed is null)
        {
            if (server.Registry.TcpPortCount(tenant.Key) >= tenant.MaxTcpPorts)
            {
                return (null, string.Create(CultureInfo.InvariantCulture, $"This token already holds {tenant.MaxTcpPorts} TCP ports, the most it may have. Close a tcp tunnel first, or ask the server's admin for a higher limit."));
            }
            if (port > 0 && PortProblem(port, tenant) is { } problem)
            {
                return (null, problem);
            }
            try
            {
                listener = port > 0 ? Bind(port) : BindAny(tenant);
            }
            catch (SocketException ex)
            {
                return (null, string.Create(CultureInfo.InvariantCulture, $"The remote port {port} is not available on this server: {MessageText.Clause(ex.Message)}. Ask for another -RemotePort, or 0 for any."));
            }
            catch (TunnelRequestException ex)
            {
                return (null, ex.Message);
            }
        }
        var actualPort = listener!.Port;
        var tunnel = new RegisteredTunnel
        {
            Url = string.Create(CultureInfo.InvariantCulture, $"tcp://{server.Domain}:{actualPort}"),
            Protocol = "tcp",
            Host = server.Domain,
            Port = actualPort,
            Owner = tenant.Key,
            OwnerName = tenant.Name,
            Access = access,
            MaxConnections = tenant.MaxConnectionsPerTunnel,
            StartTime = reclaimed?.StartTime ?? now,
            Session = session,
            Listener = listener,
        };
        if (server.Registry.TryAddTcp(tunnel, now) is { } error)
        {
            if (reclaimed is null)
            {
                server.Track(listener.DisposeAsync().AsTask());
            }
            return (null, error);
        }
        listener.Tunnel = tunnel;
        if (reclaimed is null)
        {
            listener.Start();
        }
        return (tunnel, null);
    }

    /// <summary>Why <paramref name="tenant"/> may not ask for the TCP port <paramref name="port"/> by number, or null.</summary>
    private string? PortProblem(int port, Tenant tenant)
    {
        var owner = server.Tenants.PortOwner(port);
        if (owner is not null)
        {
            return owner.Key == tenant.Key
                ? null
                : string.Create(CultureInfo.InvariantCulture, $"The remote port {port} is reserved for another token. Ask for another -RemotePort, or 0 for any.");
        }
        if (server.Registry.FindTcp(port) is { } held && !held.IsExpired(Options.TimeProvider.GetUtcNow()))
        {
            return string.Create(CultureInfo.InvariantCulture, $"The remote port {port} is already used by another tunnel ({held.Url}). Ask for another -RemotePort, or 0 for any.");
        }
        if (Options.TcpPortRange is { } range)
        {
            return port >= range.First && port <= range.Last
                ? null
                : string.Create(CultureInfo.InvariantCulture, $"The remote port {port} is outside this server's TCP port range {range.First}-{range.Last}. Ask for a port in the range, or 0 for any.");
        }
        return port < 1024
            ? string.Create(CultureInfo.InvariantCulture, $"The remote port {port} is a privileged port, which this server does not give to tunnels. Ask for a port from 1024 up, or 0 for any.")
            : null;
    }

    private TcpTunnelListener Bind(int port) => TcpTunnelListener.Bind(server, port);

    private TcpTunnelListener BindAny(Tenant tenant)
    {
        if (Options.TcpPortRange is null)
        {
            return Bind(0);
        }
        var (first, last) = Options.TcpPortRange.Value;
        var span = last - first + 1;
        var start = RandomNumberGenerator.GetInt32(span);
        for (var i = 0; i < span; i++)
        {
            var candidate = first + ((start + i) % span);
            if (server.Registry.FindTcp(candidate) is not null || server.Tenants.PortOwner(candidate) is { } owner && owner.Key != tenant.Key)
            {
                continue;
            }
            try
            {
                return Bind(candidate);
            }
            catch (SocketException ex)
            {
                ServerLifecycleLog.PortUnavailable(server.Connections.Logger, candidate, ex.Message);
            }
        }
        throw new TunnelRequestException(string.Create(CultureInfo.InvariantCulture, $"Every port of the server's TCP range {first}-{last} is in use."), TunnelErrorKind.LimitReached);
    }
}
