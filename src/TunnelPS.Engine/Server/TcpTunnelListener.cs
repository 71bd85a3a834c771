using System.Net;
using System.Net.Sockets;
using TunnelPS.Engine.Diagnostics;
using TunnelPS.Engine.Protocol;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Server;

/// <summary>
/// The public port of one tcp tunnel, bound where the server binds: each visitor the tunnel's IP rules and connection
/// limit let in is spliced onto a pooled proxy connection of its client. Visitors count against the server's
/// connection limits like every other connection.
/// </summary>
internal sealed class TcpTunnelListener : IAsyncDisposable
{
    private readonly ServerListener _listener;
    private readonly TunnelServer _server;
    private readonly CancellationTokenSource _stop = new();

    private TcpTunnelListener(ServerListener listener, TunnelServer server)
    {
        _listener = listener;
        _server = server;
        Port = listener.Port;
    }

    public int Port { get; }

    public RegisteredTunnel? Tunnel { get; set; }

    /// <summary>Binds the port (0 = a free one) where the server listens; throws SocketException when it is taken.</summary>
    public static TcpTunnelListener Bind(TunnelServer server, int port) => new(server.BindTcpPort(port), server);

    public void Start()
    {
        var token = _stop.Token;
        _listener.Start(_server.Connections, (socket, _) => HandleVisitorAsync(socket, token));
    }

    private async Task HandleVisitorAsync(Socket visitor, CancellationToken token)
    {
        var logger = _server.Connections.Logger;
        var connectionId = _server.NextConnectionId();
        EndPoint? remoteEndPoint = null;
        if (_server.Options.InlineSocketCompletions)
        {
            InlineCompletions.TryEnable(visitor);
        }
        var visitorStream = new NetworkStream(visitor, ownsSocket: true);
        Stream? proxy = null;
        RegisteredTunnel? counted = null;
        try
        {
            remoteEndPoint = visitor.RemoteEndPoint;
            var remote = ListenerSocket.Describe(remoteEndPoint);
            var tunnel = Tunnel;
            var session = tunnel?.Session;
            if (tunnel is null || session is null)
            {
                ServerLog.NoProxyConnection(logger, connectionId, remote, tunnel?.Url ?? $"tcp port {Port}", "the client is not connected");
                return;
            }
            if (!tunnel.Access.IsAllowed(remoteEndPoint))
            {
                TunnelMetrics.RefusedVisitors.Add(1, new KeyValuePair<string, object?>("reason", "ip_rules"));
                ServerLog.VisitorRefused(logger, connectionId, remote, tunnel.Url, "the tunnel's IP rules do not allow the address");
                return;
            }
            if (!tunnel.TryOpenConnection())
            {
                TunnelMetrics.RefusedVisitors.Add(1, new KeyValuePair<string, object?>("reason", "max_connections_per_tunnel"));
                ServerLog.VisitorRefused(logger, connectionId, remote, tunnel.Url, "the tunnel has as many open connections as it may");
                return;
            }
            counted = tunnel;
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(token, session.Stopping);
            var opened = await session.OpenProxyAsync(tunnel.Url, remote, _server.Options.ProxyWaitTimeout, linked.Token).ConfigureAwait(false);
            if (opened is not { } connected)
            {
                ServerLog.NoProxyConnection(logger, connectionId, remote, tunnel.Url, "no proxy connection arrived in time");
                TunnelMetrics.ProxyWaitTimeouts.Add(1);
                return;
            }
            proxy = connected.Stream;
            TunnelMetrics.PublicConnections.Add(1);
            if (connected.StartFrame is { } startFrame)
            {
                await proxy.WriteAsync(startFrame, linked.Token).ConfigureAwait(false);
            }
            await Splicer.RunAsync(visitorStream, proxy, null, linked.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            ServerLog.ConnectionClosed(logger, connectionId, ListenerSocket.Describe(remoteEndPoint), ex.Message);
        }
        finally
        {
            counted?.CloseConnection();
            if (proxy is not null)
            {
                await proxy.DisposeAsync().ConfigureAwait(false);
            }
            await visitorStream.DisposeAsync().ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _listener.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
    }
}
