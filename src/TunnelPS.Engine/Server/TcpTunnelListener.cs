using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using TunnelPS.Engine.Diagnostics;
using TunnelPS.Engine.Protocol;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Server;

/// <summary>The public port of one tcp tunnel: each visitor is spliced onto a pooled proxy connection of its client.</summary>
internal sealed class TcpTunnelListener : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly TunnelServer _server;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private Task _acceptLoop = Task.CompletedTask;

    private TcpTunnelListener(Socket socket, TunnelServer server, ILogger logger)
    {
        _socket = socket;
        Port = ListenerSocket.PortOf(socket);
        _server = server;
        _logger = logger;
    }

    public int Port { get; }

    public RegisteredTunnel? Tunnel { get; set; }

    /// <summary>Binds the port (0 = a free one); throws SocketException when it is taken.</summary>
    public static TcpTunnelListener Bind(IPAddress? address, int port, TunnelServer server, ILogger logger) =>
        new(ListenerSocket.Open(address, port), server, logger);

    public void Start() => _acceptLoop = AcceptLoopAsync(_stop.Token);

    private async Task AcceptLoopAsync(CancellationToken token)
    {
        try
        {
            while (!token.IsCancellationRequested)
            {
                var visitor = await _socket.AcceptAsync(token).ConfigureAwait(false);
                _server.Track(HandleVisitorAsync(visitor, token));
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
        {
        }
    }

    private async Task HandleVisitorAsync(Socket visitor, CancellationToken token)
    {
        SocketTuning.Apply(visitor);
        var connectionId = _server.NextConnectionId();
        var remote = ListenerSocket.Describe(visitor.RemoteEndPoint);
        var visitorStream = new NetworkStream(visitor, ownsSocket: true);
        Stream? proxy = null;
        try
        {
            var tunnel = Tunnel;
            var session = tunnel?.Session;
            if (tunnel is null || session is null)
            {
                ServerLog.NoProxyConnection(_logger, connectionId, remote, tunnel?.Url ?? $"tcp port {Port}", "the client is not connected");
                return;
            }
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(token, session.Stopping);
            proxy = await session.Pool.TakeAsync(_server.Options.ProxyWaitTimeout, linked.Token).ConfigureAwait(false);
            if (proxy is null)
            {
                ServerLog.NoProxyConnection(_logger, connectionId, remote, tunnel.Url, "no proxy connection arrived in time");
                TunnelMetrics.ProxyWaitTimeouts.Add(1);
                return;
            }
            tunnel.CountConnection();
            TunnelMetrics.PublicConnections.Add(1);
            await FrameCodec.WriteAsync(proxy, new StartProxy { Url = tunnel.Url, ClientAddr = remote }, linked.Token).ConfigureAwait(false);
            await Splicer.RunAsync(visitorStream, proxy, null, linked.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            ServerLog.ConnectionClosed(_logger, connectionId, remote, ex.Message);
        }
        finally
        {
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
        _socket.Dispose();
        await _acceptLoop.ConfigureAwait(false);
        _stop.Dispose();
    }
}
