using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using TunnelPS.Engine.Diagnostics;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Server;

/// <summary>
/// The listening sockets of one server port (one, or 127.0.0.1 and ::1 for a loopback-only server) and their accept
/// loops. Each accepted connection is checked against the server-wide deny list and the connection limits before any
/// work is spent on it; a refused one is closed at once. Running out of descriptors or buffers backs off and retries
/// instead of spinning, and nothing an accept can throw ends the loop while the listener is open.
/// </summary>
internal sealed class ServerListener : IAsyncDisposable
{
    private static readonly TimeSpan s_minBackoff = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan s_maxBackoff = TimeSpan.FromSeconds(1);

    private readonly Socket[] _sockets;
    private readonly CancellationTokenSource _stop = new();
    private Task _loops = Task.CompletedTask;
    private ILogger _logger = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

    private ServerListener(Socket[] sockets)
    {
        _sockets = sockets;
        Port = ListenerSocket.PortOf(sockets[0]);
    }

    public int Port { get; }

    /// <summary>The local endpoints, for logs ("127.0.0.1:8443, [::1]:8443").</summary>
    public string Endpoints => string.Join(", ", _sockets.Select(s => ListenerSocket.Describe(SafeLocal(s))));

    /// <summary>Binds the port as <see cref="Open"/> does; a port in use, not allowed or on an address not of this host is a configuration error that says what to do.</summary>
    public static ServerListener OpenOrExplain(IPAddress? address, bool loopbackOnly, int port, string what)
    {
        try
        {
            return Open(address, loopbackOnly, port);
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            throw new TunnelConfigurationException(
                string.Create(CultureInfo.InvariantCulture, $"The {what} port {port} is already in use by another program. Stop it, or choose another port (0 picks a free one)."),
                TunnelErrorKind.Conflict);
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AccessDenied)
        {
            throw new TunnelConfigurationException(
                string.Create(CultureInfo.InvariantCulture, $"Not allowed to listen on the {what} port {port}: {MessageText.Clause(ex.Message)}. Ports below 1024 need administrator rights (or CAP_NET_BIND_SERVICE on Linux)."));
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressNotAvailable)
        {
            throw new TunnelConfigurationException(
                string.Create(CultureInfo.InvariantCulture, $"Cannot listen on {address} for the {what} port {port}: {MessageText.Clause(ex.Message)}. Give an address of this host with -BindAddress."));
        }
    }

    /// <summary>Binds the port (0 = a free one); throws SocketException when it is taken.</summary>
    public static ServerListener Open(IPAddress? address, bool loopbackOnly, int port) =>
        new(ListenerSocket.OpenSet(address, loopbackOnly, port));

    /// <summary>Starts the accept loops; <paramref name="handler"/> runs once per admitted connection and owns its socket.</summary>
    public void Start(ConnectionContext context, Func<Socket, ConnectionLimiter.ConnectionSlot, Task> handler, byte[]? refusalResponse = null)
    {
        var token = _stop.Token;
        _logger = context.Logger;
        _loops = Task.WhenAll(_sockets.Select(s => AcceptLoopAsync(s, context, handler, refusalResponse, token)));
    }

    private async Task AcceptLoopAsync(Socket listener, ConnectionContext context, Func<Socket, ConnectionLimiter.ConnectionSlot, Task> handler, byte[]? refusalResponse, CancellationToken token)
    {
        var backoff = TimeSpan.Zero;
        while (!token.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(token).ConfigureAwait(false);
                backoff = TimeSpan.Zero;
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted)
            {
                continue;
            }
#pragma warning disable CA1031 // Out of descriptors or buffers (or anything else): back off and keep serving what the server has.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                if (token.IsCancellationRequested)
                {
                    return;
                }
                backoff = backoff == TimeSpan.Zero ? s_minBackoff : TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, s_maxBackoff.Ticks));
                TunnelMetrics.AcceptFailures.Add(1);
                context.Throttle.Warn("accept", (suppressed) =>
                    ServerLog.AcceptFailed(context.Logger, ListenerSocket.Describe(SafeLocal(listener)), ex.Message, (long)backoff.TotalMilliseconds, suppressed));
                try
                {
                    await Task.Delay(backoff, context.Time, token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                continue;
            }
            Admit(socket, context, handler, refusalResponse);
        }
    }

    private static void Admit(Socket socket, ConnectionContext context, Func<Socket, ConnectionLimiter.ConnectionSlot, Task> handler, byte[]? refusalResponse)
    {
        var remote = SafeRemote(socket);
        var address = (remote as IPEndPoint)?.Address;
        if (address is not null && !context.DenyList.IsAllowed(address))
        {
            TunnelMetrics.RefusedConnections.Add(1, new KeyValuePair<string, object?>("reason", "deny_ip"));
            Close(socket, null, context.Logger);
            return;
        }
        var slot = context.Limiter.TryAcquire(address, out var refusal);
        if (slot is null)
        {
            TunnelMetrics.RefusedConnections.Add(1, new KeyValuePair<string, object?>("reason", refusal == LimitRefusal.Total ? "max_connections" : "max_connections_per_ip"));
            context.Throttle.Warn(refusal == LimitRefusal.Total ? "limit-total" : "limit-address", suppressed =>
                ServerLog.ConnectionLimitReached(context.Logger,
                    refusal == LimitRefusal.Total
                        ? string.Create(CultureInfo.InvariantCulture, $"the server holds {context.Limiter.MaxTotal} connections (-MaxConnections)")
                        : string.Create(CultureInfo.InvariantCulture, $"{ListenerSocket.AddressOf(remote)} holds {context.Limiter.MaxPerAddress} connections (-MaxConnectionsPerIP)"),
                    suppressed));
            Close(socket, refusalResponse, context.Logger);
            return;
        }
        try
        {
            SocketTuning.Apply(socket);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            slot.Release();
            socket.Dispose();
            return;
        }
        context.Track(RunAsync(socket, slot, handler));
    }

    private static async Task RunAsync(Socket socket, ConnectionLimiter.ConnectionSlot slot, Func<Socket, ConnectionLimiter.ConnectionSlot, Task> handler)
    {
        try
        {
            await handler(socket, slot).ConfigureAwait(false);
        }
        finally
        {
            slot.ReleaseUnlessHandedOff();
        }
    }

    /// <summary>Closes a refused connection at once, with a short answer first when there is one (best effort, never blocking).</summary>
    private static void Close(Socket socket, byte[]? answer, ILogger logger)
    {
        try
        {
            if (answer is not null)
            {
                socket.Blocking = false;
                socket.Send(answer, SocketFlags.None, out _);
                socket.Shutdown(SocketShutdown.Send);
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            ServerLifecycleLog.RefusalNotSent(logger, ListenerSocket.Describe(SafeRemote(socket)), ex.Message);
        }
        socket.Dispose();
    }

    private static EndPoint? SafeRemote(Socket socket)
    {
        try
        {
            return socket.RemoteEndPoint;
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            return null;
        }
    }

    private static EndPoint? SafeLocal(Socket socket)
    {
        try
        {
            return socket.LocalEndPoint;
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        foreach (var socket in _sockets)
        {
            socket.Dispose();
        }
        try
        {
            await _loops.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
        {
            ServerLifecycleLog.AcceptLoopEnded(_logger, ex.Message);
        }
        _stop.Dispose();
    }
}

/// <summary>What every listener of one server shares: limits, the server-wide deny list, logging and task tracking.</summary>
internal sealed record ConnectionContext(
    ConnectionLimiter Limiter,
    IPAccessList DenyList,
    ILogger Logger,
    LogThrottle Throttle,
    TimeProvider Time,
    Action<Task> Track);
