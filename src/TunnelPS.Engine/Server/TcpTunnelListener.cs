using System.Diagnostics.CodeAnalysis;
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
        var visitorStream = new WriteWatchedStream(new NetworkStream(visitor, ownsSocket: true), _server.Options.TimeProvider);
        Stream? proxy = null;
        RegisteredTunnel? counted = null;
        WriteDeadline? deadline = null;
        try
        {
            remoteEndPoint = visitor.RemoteEndPoint;
            var remote = ListenerSocket.Describe(remoteEndPoint);
            deadline = new WriteDeadline(_server, visitorStream, connectionId, remote);
            _server.Deadlines.Add(deadline);
            var tunnel = Tunnel;
            var session = tunnel?.Session;
            if (!Admit(tunnel, session, remoteEndPoint, remote, connectionId))
            {
                return;
            }
            counted = tunnel!;
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(token, session!.Stopping);
            var opened = await session.OpenProxyAsync(counted.Url, remote, _server.Options.ProxyWaitTimeout, linked.Token).ConfigureAwait(false);
            if (opened is not { } connected)
            {
                ServerLog.NoProxyConnection(logger, connectionId, remote, counted.Url, "no proxy connection arrived in time");
                TunnelMetrics.ProxyWaitTimeouts.Add(1);
                return;
            }
            proxy = connected.Stream;
            TunnelMetrics.PublicConnections.Add(1);
            if (connected.StartFrame is { } startFrame)
            {
                await proxy.WriteAsync(startFrame, linked.Token).ConfigureAwait(false);
            }
            await Splicer.RunAsync(visitorStream, proxy, null, logger, connectionId, linked.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            ServerLog.ConnectionClosed(logger, connectionId, ListenerSocket.Describe(remoteEndPoint), ex.Message);
        }
        finally
        {
            if (deadline is not null)
            {
                _server.Deadlines.Remove(deadline);
            }
            counted?.CloseConnection();
            if (proxy is not null)
            {
                await proxy.DisposeAsync().ConfigureAwait(false);
            }
            await visitorStream.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Whether a visitor may be forwarded: the tunnel's client is connected, its IP rules allow the address and it has
    /// a connection to spare (counted now: the caller gives it back). A refusal is logged and counted.
    /// </summary>
    private bool Admit([NotNullWhen(true)] RegisteredTunnel? tunnel, [NotNullWhen(true)] ControlSession? session, EndPoint? remoteEndPoint, string remote, long connectionId)
    {
        var logger = _server.Connections.Logger;
        if (tunnel is null || session is null)
        {
            ServerLog.NoProxyConnection(logger, connectionId, remote, tunnel?.Url ?? $"tcp port {Port}", "the client is not connected");
            return false;
        }
        if (!tunnel.Access.IsAllowed(remoteEndPoint))
        {
            TunnelMetrics.RefusedVisitors.Add(1, new KeyValuePair<string, object?>("reason", "ip_rules"));
            ServerLog.VisitorRefused(logger, connectionId, remote, tunnel.Url, "the tunnel's IP rules do not allow the address");
            return false;
        }
        if (!tunnel.TryOpenConnection())
        {
            TunnelMetrics.RefusedVisitors.Add(1, new KeyValuePair<string, object?>("reason", "max_connections_per_tunnel"));
            ServerLog.VisitorRefused(logger, connectionId, remote, tunnel.Url, "the tunnel has as many open connections as it may");
            return false;
        }
        return true;
    }

    /// <summary>
    /// A TCP visitor's write-progress deadline: a visitor that reads nothing for <see cref="TunnelServerOptions.VisitorWriteTimeout"/>
    /// while bytes wait for it is closed, as an HTTP visitor is; a quiet connection (nothing to write) is never cut.
    /// </summary>
    private sealed class WriteDeadline(TunnelServer server, WriteWatchedStream visitor, long connectionId, string remote) : IDeadlineWatched
    {
        private int _closed;

        public void CheckDeadlines(long now)
        {
            var started = visitor.WriteStarted;
            var timeout = server.Options.VisitorWriteTimeout;
            if (started == 0 || server.Options.TimeProvider.GetElapsedTime(started, now) < timeout || Interlocked.Exchange(ref _closed, 1) == 1)
            {
                return;
            }
            VisitorDeadline.Write.CountClose();
            ServerLog.DeadlineMissed(server.Connections.Logger, connectionId, remote, $"the visitor of a tcp tunnel read nothing for {timeout.TotalSeconds:0} s");
            try
            {
                visitor.Dispose();
            }
            catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
            {
                ServerLog.ConnectionClosed(server.Connections.Logger, connectionId, remote, ex.Message);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _listener.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
    }
}
