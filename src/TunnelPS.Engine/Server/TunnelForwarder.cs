using System.Buffers;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using TunnelPS.Engine.Diagnostics;
using TunnelPS.Engine.Http;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Server;

/// <summary>
/// The forwarding part of a public connection: takes a connection to the tunnel's client (counted against the
/// tunnel's connection limit, and kept for the next requests of a keep-alive connection to the same tunnel), writes
/// each request's head and body to it, and owns the <see cref="ResponsePump"/> that copies the answers back. Only the
/// connection's main loop calls it; the deadline timer may only <see cref="Abort"/> it and read <see cref="Tracker"/>.
/// </summary>
internal sealed class TunnelForwarder(TunnelServer server, VisitorChannel visitor, VisitorRequestReader reader, string scheme, string remote, string remoteIp, long connectionId, ILogger logger)
{
    private Stream? _proxy;
    private RegisteredTunnel? _tunnel;
    private ResponsePump? _pump;
    private HttpBodyFramer? _framer;
    private byte[]? _startFrame;

    /// <summary>True while a connection to the client is held.</summary>
    public bool Attached => _proxy is not null;

    /// <summary>The response tracker of the connection to the client held now, if any.</summary>
    public HttpResponseTracker? Tracker => Volatile.Read(ref _proxy) is null ? null : Volatile.Read(ref _pump)?.Tracker;

    /// <summary>The pump of the last connection to the client (it may have ended).</summary>
    public Task PumpCompletion => _pump?.Completion ?? Task.CompletedTask;

    /// <summary>True when the connection held now serves <paramref name="tunnel"/> and can take another request.</summary>
    public bool CanReuseFor(RegisteredTunnel tunnel) => ReferenceEquals(_tunnel, tunnel) && Tracker is { IsClosed: false };

    /// <summary>
    /// Takes a connection to <paramref name="tunnel"/>'s client and starts its response pump; the page to refuse the
    /// visitor with when the tunnel is at its connection limit or no connection came in time, else null.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<byte[]?> AttachAsync(RegisteredTunnel tunnel, ControlSession session, string host, CancellationTokenSource connection)
    {
        if (!tunnel.TryOpenConnection())
        {
            TunnelMetrics.RefusedVisitors.Add(1, new KeyValuePair<string, object?>("reason", "max_connections_per_tunnel"));
            ServerLog.VisitorRefused(logger, connectionId, remote, tunnel.Url, "the tunnel has as many open connections as it may");
            return ErrorPages.TunnelBusy(host);
        }
        ProxyConnection? opened;
        try
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(connection.Token, session.Stopping);
            opened = await session.OpenProxyAsync(tunnel.Url, remote, server.Options.ProxyWaitTimeout, linked.Token).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Whatever ended the wait, the tunnel's connection count is given back before it goes on.
            tunnel.CloseConnection();
            throw;
        }
        if (opened is not { } connected)
        {
            tunnel.CloseConnection();
            ServerLog.NoProxyConnection(logger, connectionId, remote, tunnel.Url, "no proxy connection arrived in time");
            TunnelMetrics.ProxyWaitTimeouts.Add(1);
            return ErrorPages.ProxyTimeout(host);
        }
        TunnelMetrics.PublicConnections.Add(1);
        _tunnel = tunnel;
        _startFrame = connected.StartFrame;
        Start(connected.Stream, new HttpResponseTracker(), host, connection);
        return null;
    }

    /// <summary>Holds <paramref name="stream"/> to another node of the cluster; its answers go to the visitor as they come (that node follows the responses).</summary>
    public void AttachRelay(Stream stream, string host, CancellationTokenSource connection) => Start(stream, tracker: null, host, connection);

    private void Start(Stream proxy, HttpResponseTracker? tracker, string host, CancellationTokenSource connection)
    {
        Volatile.Write(ref _proxy, proxy);
        Volatile.Write(ref _pump, ResponsePump.Start(proxy, tracker, visitor, host, connection, logger, connectionId, remote));
    }

    /// <summary>
    /// Forwards the current request: its head (with StartProxy first on a pooled connection, and the body bytes
    /// already read, in one write), then the rest of its body as it arrives. False when the visitor ended its side
    /// within the body. Throws <see cref="HttpParseException"/> for a malformed body.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<bool> ForwardRequestAsync(string? hostOverride, CancellationToken token)
    {
        var request = reader.Request;
        // One framer per connection, restarted for each request.
        var framer = _framer ??= HttpBodyFramer.ForRequest(request.Framing);
        framer.StartRequest(request.Framing);
        _pump!.Tracker!.RequestForwarded(request.Method);
        await ForwardHeadAsync(hostOverride, framer, token).ConfigureAwait(false);
        while (!framer.IsComplete)
        {
            if (!await reader.FillAsync(token).ConfigureAwait(false))
            {
                return false;
            }
            var n = framer.Advance(reader.Buffered, out _);
            await _proxy!.WriteAsync(reader.BufferedMemory(n), token).ConfigureAwait(false);
            reader.Consume(n);
        }
        return true;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ForwardHeadAsync(string? hostOverride, HttpBodyFramer framer, CancellationToken token)
    {
        var request = reader.Request;
        var startFrame = _startFrame;
        _startFrame = null;
        // StartProxy, the head and the body bytes already read go out in one write (one TLS record where they fit).
        var bodyAvailable = framer.IsComplete ? 0 : framer.Advance(reader.Buffered, out _);
        var frameLength = startFrame?.Length ?? 0;
        var output = ArrayPool<byte>.Shared.Rent(frameLength + request.MaxForwardedLength(hostOverride, remoteIp) + bodyAvailable);
        try
        {
            startFrame?.CopyTo(output, 0);
            var headLength = request.WriteForwarded(reader.Head, output.AsSpan(frameLength), hostOverride, remoteIp, scheme);
            reader.Buffered[..bodyAvailable].CopyTo(output.AsSpan(frameLength + headLength));
            reader.Consume(bodyAvailable);
            await _proxy!.WriteAsync(output.AsMemory(0, frameLength + headLength + bodyAvailable), token).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(output);
        }
    }

    /// <summary>
    /// Relays the visitor's bytes as they come (an upgraded connection, or one relayed to another node) until the
    /// visitor ends its side, then waits for the response pump to end.
    /// </summary>
    public async Task RelayRawAsync(CancellationToken token)
    {
        var proxy = _proxy!;
        if (!reader.Buffered.IsEmpty)
        {
            await proxy.WriteAsync(reader.BufferedMemory(reader.Buffered.Length), token).ConfigureAwait(false);
        }
        reader.Release();
        await Splicer.RelayAsync(visitor.Stream, proxy, visitor, logger, connectionId, token).ConfigureAwait(false);
        await PumpCompletion.ConfigureAwait(false);
    }

    /// <summary>
    /// Ends the request direction towards the client and waits for the pump to drain what is owed (within
    /// <paramref name="token"/>, or until the pump ends when it is null).
    /// </summary>
    public async Task DrainAsync(CancellationToken? token)
    {
        await Splicer.ShutdownWriteAsync(_proxy!).ConfigureAwait(false);
        await (token is { } wait ? PumpCompletion.WaitAsync(wait) : PumpCompletion).ConfigureAwait(false);
    }

    /// <summary>Waits until no response is owed on the connection held now.</summary>
    public async Task WaitIdleAsync(CancellationToken token)
    {
        if (Tracker is { } tracker)
        {
            await tracker.WaitIdleAsync(token).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Lets go of the connection to the client: the pump is told first (so it leaves the visitor open), then the stream
    /// is closed; with <paramref name="wait"/>, returns once the pump has ended.
    /// </summary>
    public async Task DetachAsync(bool wait)
    {
        var proxy = _proxy;
        if (proxy is null)
        {
            return;
        }
        _pump?.Detach();
        Volatile.Write(ref _proxy, null);
        _tunnel?.CloseConnection();
        _tunnel = null;
        await proxy.DisposeAsync().ConfigureAwait(false);
        if (wait)
        {
            await PumpCompletion.ConfigureAwait(false);
        }
    }

    /// <summary>Closes the connection to the client now (a deadline passed); called from the deadline timer.</summary>
    public void Abort() => Volatile.Read(ref _proxy)?.Dispose();

    /// <summary>
    /// Waits for the response pump to end (its streams are closed by now, so it ends promptly): the connection's run
    /// lasts until its pump has, and the pump's fault is observed here.
    /// </summary>
    public async Task EndAsync()
    {
        try
        {
            await PumpCompletion.ConfigureAwait(false);
        }
#pragma warning disable CA1031 // The connection is ending: a fault of its pump is logged, never passed on to the listener.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            ServerLog.ConnectionClosed(logger, connectionId, remote, "the response pump failed: " + ex.Message);
        }
    }
}
