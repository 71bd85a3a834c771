using System.Globalization;
using System.Net;
using Microsoft.Extensions.Logging;
using TunnelPS.Engine.Cluster;
using TunnelPS.Engine.Diagnostics;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Server;

/// <summary>The server as its cluster node sees it (<see cref="IClusterHost"/>): what it serves, and how it serves a forwarded visitor.</summary>
internal sealed class ClusterHost(TunnelServer server, ILogger logger) : IClusterHost
{
    public TimeProvider Time => server.Options.TimeProvider;
    public TimeSpan ReconnectGrace => server.Options.ReconnectGrace;
    public TimeSpan HandshakeTimeout => server.Options.HandshakeTimeout;
    public int StreamWindow => server.Options.StreamWindow;
    public string Domain => server.Domain;
    public string ServerAddress => server.ServerAddress;
    public string CertificateThumbprint => server.CertificateThumbprint;
    public DateTimeOffset StartTime => server.StartTime;
    public int SessionCount => server.SessionCount;
    public LogThrottle Throttle => server.Connections.Throttle;
    public IEnumerable<IClusterTunnel> Tunnels => server.Registry.All();
    public IEnumerable<IClusterSession> Sessions => server.Sessions.All;

    public IEnumerable<(string TenantKey, IReadOnlySet<string> Hosts, IReadOnlySet<int> Ports)> Reservations =>
        server.Tenants.All.Select(t => (t.Key, t.ReservedHosts, t.ReservedTcpPorts));

    public MuxLinkLimits LinkLimits(string name, int maxStreams) => server.LinkLimits(name, maxStreams);
    public void Track(Task task) => server.Track(task);
    public IClusterTunnel? FindHttp(string scheme, string host) => server.Registry.FindHttp(scheme, host);
    public long NextConnectionId() => server.NextConnectionId();
    public void ConnectionClosed(long connectionId, string remote, string reason) => ServerLog.ConnectionClosed(logger, connectionId, remote, reason);

    public void LinkRefused(long connectionId, EndPoint? remote, string reason) =>
        server.Connections.Throttle.Warn("node", suppressed => ServerLog.ProxyRefused(logger, connectionId, ListenerSocket.Describe(remote), reason, suppressed));

    /// <summary>One forwarded visitor connection: served here with the visitor's own address, as if it had arrived here.</summary>
    public async Task ServeForwardedAsync(MuxStream stream, string url, string clientAddress)
    {
        var id = server.NextConnectionId();
        try
        {
            var scheme = url switch
            {
                "cluster:http" => "http",
                "cluster:https" => "https",
                _ => null,
            };
            if (scheme is null || !IPEndPoint.TryParse(clientAddress, out var visitor))
            {
                ServerLog.ConnectionClosed(logger, id, clientAddress, "a forwarded stream with an unknown kind or address: " + url);
                await stream.DisposeAsync().ConfigureAwait(false);
                return;
            }
            // The server-wide rules apply here again, to the visitor's own address: -DenyIP, and -MaxConnectionsPerIP
            // over the visitors this node serves (its own and forwarded ones).
            var context = server.Connections;
            if (!context.DenyList.IsAllowed(visitor.Address))
            {
                TunnelMetrics.RefusedConnections.Add(1, new KeyValuePair<string, object?>("reason", "deny_ip"));
                await RefuseForwardedAsync(stream, null).ConfigureAwait(false);
                return;
            }
            var slot = context.Limiter.TryAcquire(visitor.Address, out _, forwarded: true);
            if (slot is null)
            {
                TunnelMetrics.RefusedConnections.Add(1, new KeyValuePair<string, object?>("reason", "max_connections_per_ip"));
                context.Throttle.Warn("limit-address", suppressed => ServerLog.ConnectionLimitReached(logger,
                    string.Create(CultureInfo.InvariantCulture, $"{visitor.Address} holds {context.Limiter.MaxPerAddress} connections (-MaxConnectionsPerIP), forwarded ones included"), suppressed));
                await RefuseForwardedAsync(stream, TunnelServer.RefusedHttpResponse).ConfigureAwait(false);
                return;
            }
            try
            {
                await new PublicHttpConnection(server, stream, scheme, visitor, id, logger, forwarded: true).RunAsync(server.Stopping).ConfigureAwait(false);
            }
            finally
            {
                slot.Release();
            }
        }
#pragma warning disable CA1031 // One forwarded connection's failure must never end the link or reach the host.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            ServerLog.ConnectionClosed(logger, id, clientAddress, ex.Message);
            await stream.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Refuses a forwarded visitor as this node refuses its own: the forwarding node is told the host is served here
    /// (so it does not look for another node), then the visitor gets <paramref name="response"/>, if any, and the end.
    /// </summary>
    private static async Task RefuseForwardedAsync(MuxStream stream, byte[]? response)
    {
        await using (stream.ConfigureAwait(false))
        {
            await stream.WriteAsync(PublicHttpConnection.ForwardHere).ConfigureAwait(false);
            if (response is not null)
            {
                await stream.WriteAsync(response).ConfigureAwait(false);
            }
            await Splicer.ShutdownWriteAsync(stream).ConfigureAwait(false);
        }
    }
}
