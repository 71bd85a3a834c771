using System.Buffers;
using System.Net;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using TunnelPS.Engine.Cluster;
using TunnelPS.Engine.Diagnostics;
using TunnelPS.Engine.Http;
using TunnelPS.Engine.Protocol;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Server;

/// <summary>
/// One public HTTP or HTTPS connection. Every request head is parsed, routed by its authority (RFC 9112 3.2.2: an
/// absolute-form target's authority replaces Host) and checked against the tunnel's access rules (IP rules, basic auth,
/// connection limit) before any byte of it is forwarded; requests of a keep-alive connection to the same tunnel share
/// one proxy connection. Responses stream back as they arrive, but a response head is held until it has arrived in full
/// and parses, so the visitor never receives what is not HTTP: a garbage head, or a tunnel that closes before
/// answering, gives a 502 instead.
/// <para>
/// Deadlines (checked by the server's one <see cref="DeadlineMonitor"/>): a request head must arrive within an absolute
/// time from its first byte (trickling does not extend it), a write to the visitor must make progress, and a keep-alive
/// connection silent in both directions is closed — but never one that waits for a response it is owed. A connection
/// upgraded to another protocol (101) is idle-timed like any other; CONNECT is refused (405): a tunnel is a reverse
/// proxy, not a forward proxy. A connection relayed to the tunnel's node of the cluster has its first head and its
/// writes watched here, and ends when that node ends it (that node applies the head and idle deadlines to later
/// requests: only it follows them).
/// </para>
/// <para>
/// The response pump owns its <see cref="HttpResponseTracker"/>: it disposes it when it ends (the tracker's split-head
/// buffer is pooled), and the connection's run ends only after its pump has.
/// </para>
/// </summary>
internal sealed class PublicHttpConnection : IDeadlineWatched
{
    private const int InitialBufferSize = 16 * 1024;

    private readonly TunnelServer _server;
    private readonly Stream _visitor;
    private readonly string _scheme;
    private readonly EndPoint? _remoteEndPoint;
    private readonly string _remote;
    private readonly string _remoteIp;
    private readonly long _connectionId;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;

    private byte[] _buffer;
    private int _start;
    private int _end;
    private int _headStart;
    private readonly ForwardedRequest _request = new();
    private HttpBodyFramer? _framer;
    private byte[]? _lastAuthority;
    private int _lastAuthorityLength;
    private string? _lastHost;

    private Stream? _proxy;
    private RegisteredTunnel? _proxyTunnel;
    private HttpResponseTracker? _tracker;
    private Task _pump = Task.CompletedTask;
    private volatile bool _detaching;
    private volatile bool _visitorDone;
    private volatile bool _relayedToNode;
    private long _lastActivity;
    private long _headStarted;
    private long _writeStarted;
    private int _closedByDeadline;
    private readonly bool _forwarded;

    /// <summary>A node's first byte on a forwarded stream: it serves the host (its answer follows).</summary>
    internal static readonly byte[] ForwardHere = "Y"u8.ToArray();

    /// <summary>A node's only byte on a forwarded stream for a host it does not serve (the forwarder's route was stale).</summary>
    private static readonly byte[] ForwardNotHere = "N"u8.ToArray();
    private bool _routedOnce;

    /// <param name="accepted">When the connection was accepted (a TimeProvider timestamp): the first request head is due
    /// within the head timeout of it, TLS handshake included; 0 for now.</param>
    /// <param name="forwarded">True for a visitor connection another node of the cluster forwarded here: it is served
    /// here or answered here, never forwarded again.</param>
    public PublicHttpConnection(TunnelServer server, Stream visitor, string scheme, EndPoint? remote, long connectionId, ILogger logger, long accepted = 0, bool forwarded = false)
    {
        _forwarded = forwarded;
        _server = server;
        _visitor = visitor;
        _scheme = scheme;
        _remoteEndPoint = remote;
        _remote = ListenerSocket.Describe(remote);
        _remoteIp = ListenerSocket.AddressOf(remote);
        _connectionId = connectionId;
        _logger = logger;
        _time = server.Options.TimeProvider;
        _buffer = ArrayPool<byte>.Shared.Rent(InitialBufferSize);
        _lastActivity = _time.GetTimestamp();
        // The first request's head is due within the head timeout of the connection's start.
        _headStarted = accepted != 0 ? accepted : _lastActivity;
    }

    public async Task RunAsync(CancellationToken serverStopping)
    {
        using var connection = CancellationTokenSource.CreateLinkedTokenSource(serverStopping);
        _server.Deadlines.Add(this);
        try
        {
            await ServeAsync(connection).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException or System.Net.Sockets.SocketException)
        {
            ServerLog.ConnectionClosed(_logger, _connectionId, _remote, ex.Message);
        }
        finally
        {
            _server.Deadlines.Remove(this);
            await connection.CancelAsync().ConfigureAwait(false);
            await DetachAsync(wait: false).ConfigureAwait(false);
            await _visitor.DisposeAsync().ConfigureAwait(false);
            await EndPumpAsync().ConfigureAwait(false);
            if (_buffer.Length > 0)
            {
                ArrayPool<byte>.Shared.Return(_buffer);
            }
        }
    }

    /// <summary>A request refused before it was forwarded (or a body cut short), counted by why.</summary>
    private static void CountRefused(string reason) =>
        TunnelMetrics.RefusedVisitors.Add(1, new KeyValuePair<string, object?>("reason", reason));

    /// <inheritdoc />
    public void CheckDeadlines(long now)
    {
        var options = _server.Options;
        string? missed = null;
        var headStarted = Interlocked.Read(ref _headStarted);
        var writeStarted = Interlocked.Read(ref _writeStarted);
        if (headStarted != 0 && _time.GetElapsedTime(headStarted, now) >= options.RequestHeadTimeout)
        {
            missed = "head";
        }
        else if (writeStarted != 0 && _time.GetElapsedTime(writeStarted, now) >= options.VisitorWriteTimeout)
        {
            missed = "write";
        }
        else if (writeStarted == 0 && !_relayedToNode && _time.GetElapsedTime(Interlocked.Read(ref _lastActivity), now) >= options.PublicIdleTimeout)
        {
            // Silent both ways: closed unless a response is still owed to a visitor waiting for it (long downloads and
            // slow answers are never cut). An upgraded connection (WebSocket) is idle-timed like any other: its ends
            // keep it open by sending (pings), as behind any reverse proxy. A connection relayed to another node is
            // left to that node's idle deadline: only it knows whether a response is owed, and its end ends this one.
            var tracker = _tracker;
            if (!(tracker is { Outstanding: > 0, Upgraded: false } && !_visitorDone))
            {
                missed = "idle";
            }
        }
        if (missed is null || Interlocked.Exchange(ref _closedByDeadline, 1) == 1)
        {
            return;
        }
        TunnelMetrics.DeadlineCloses.Add(1, new KeyValuePair<string, object?>("deadline", missed));
        ServerLog.DeadlineMissed(_logger, _connectionId, _remote, missed switch
        {
            "head" => $"the request head did not arrive within {options.RequestHeadTimeout.TotalSeconds:0} s",
            "write" => $"the visitor read nothing for {options.VisitorWriteTimeout.TotalSeconds:0} s",
            _ => $"idle for {options.PublicIdleTimeout.TotalSeconds:0} s",
        });
        try
        {
            _visitor.Dispose();
            _proxy?.Dispose();
        }
#pragma warning disable CA1031 // Runs on the deadline timer: it must never throw.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    /// <summary>The response tracker of the current tunnel connection, if any (tests watch its lifetime).</summary>
    internal HttpResponseTracker? Tracker => _tracker;

    private void Touch() => Interlocked.Exchange(ref _lastActivity, _time.GetTimestamp());

    private async Task ServeAsync(CancellationTokenSource connection)
    {
        var token = connection.Token;
        while (!token.IsCancellationRequested)
        {
            bool gotHead;
            try
            {
                gotHead = await ReadHeadAsync(token).ConfigureAwait(false);
            }
            catch (HttpParseException ex)
            {
                CountRefused(ex.StatusCode == 431 ? "head_too_large" : "bad_request");
                await RespondAndCloseAsync(ErrorPages.BadRequest(ex.Message + " The request was not forwarded.", ex.StatusCode), token).ConfigureAwait(false);
                return;
            }
            if (!gotHead)
            {
                _visitorDone = true;
                await FinishAsync(token).ConfigureAwait(false);
                return;
            }
            if (_tracker is { Unparsed: true })
            {
                // The local service's responses cannot be followed, so later requests cannot be routed safely.
                await FinishAsync(token).ConfigureAwait(false);
                return;
            }
            if (_request.Check(HeadSpan) is { } problem)
            {
                CountRefused("bad_request");
                await RespondAndCloseAsync(ErrorPages.BadRequest(problem + " The request was not forwarded."), token).ConfigureAwait(false);
                return;
            }
            if (_request.IsConnect)
            {
                await RefuseConnectAsync(token).ConfigureAwait(false);
                return;
            }

            var host = RoutingHost(_request.Authority(HeadSpan));
            if (host is null)
            {
                CountRefused("bad_request");
                await RespondAndCloseAsync(ErrorPages.BadRequest("The request has no Host header, so it cannot be routed to a tunnel."), token).ConfigureAwait(false);
                return;
            }
            var tunnel = _server.Registry.FindHttp(_scheme, host);
            var first = !_routedOnce;
            _routedOnce = true;
            if (_forwarded && first)
            {
                // The forwarding node waits for this answer before the response: "not here" lets it find the name's
                // node again (its cached route was stale), "here" is followed by what this node answers.
                await WriteVisitorAsync(tunnel is null ? ForwardNotHere : ForwardHere, token).ConfigureAwait(false);
                if (tunnel is null)
                {
                    await _visitor.FlushAsync(token).ConfigureAwait(false);
                    await Splicer.ShutdownWriteAsync(_visitor).ConfigureAwait(false);
                    return;
                }
            }
            if (tunnel is null)
            {
                if (first && !_forwarded && _server.Cluster is { } cluster)
                {
                    await RouteToNodeAsync(cluster, host, connection).ConfigureAwait(false);
                    return;
                }
                await RespondAndCloseAsync(ErrorPages.TunnelNotFound(host), token).ConfigureAwait(false);
                return;
            }
            if (!tunnel.Access.IsAllowed(_remoteEndPoint))
            {
                TunnelMetrics.RefusedVisitors.Add(1, new KeyValuePair<string, object?>("reason", "ip_rules"));
                ServerLog.VisitorRefused(_logger, _connectionId, _remote, tunnel.Url, "the tunnel's IP rules do not allow the address");
                await RespondAndCloseAsync(ErrorPages.Forbidden(host), token).ConfigureAwait(false);
                return;
            }
            if (tunnel.Auth is { } auth && !auth.IsAuthorized(_request.Authorization(HeadSpan)))
            {
                await RespondAndCloseAsync(ErrorPages.Unauthorized(host, keepAlive: false), token).ConfigureAwait(false);
                return;
            }
            var session = tunnel.Session;
            if (session is null)
            {
                await RespondAndCloseAsync(ErrorPages.ClientNotConnected(host), token).ConfigureAwait(false);
                return;
            }
            if (_proxy is not null && (!ReferenceEquals(_proxyTunnel, tunnel) || _tracker!.IsClosed))
            {
                await WaitIdleAsync(token).ConfigureAwait(false);
                await DetachAsync(wait: true).ConfigureAwait(false);
            }

            byte[]? startFrame = null;
            if (_proxy is null)
            {
                if (!tunnel.TryOpenConnection())
                {
                    TunnelMetrics.RefusedVisitors.Add(1, new KeyValuePair<string, object?>("reason", "max_connections_per_tunnel"));
                    ServerLog.VisitorRefused(_logger, _connectionId, _remote, tunnel.Url, "the tunnel has as many open connections as it may");
                    await RespondAndCloseAsync(ErrorPages.TunnelBusy(host), token).ConfigureAwait(false);
                    return;
                }
                ProxyConnection? opened;
                try
                {
                    using var linked = CancellationTokenSource.CreateLinkedTokenSource(token, session.Stopping);
                    opened = await session.OpenProxyAsync(tunnel.Url, _remote, _server.Options.ProxyWaitTimeout, linked.Token).ConfigureAwait(false);
                }
                catch
                {
                    tunnel.CloseConnection();
                    throw;
                }
                if (opened is not { } connected)
                {
                    tunnel.CloseConnection();
                    ServerLog.NoProxyConnection(_logger, _connectionId, _remote, tunnel.Url, "no proxy connection arrived in time");
                    TunnelMetrics.ProxyWaitTimeouts.Add(1);
                    await RespondAndCloseAsync(ErrorPages.ProxyTimeout(host), token).ConfigureAwait(false);
                    return;
                }
                TunnelMetrics.PublicConnections.Add(1);
                var proxy = connected.Stream;
                _proxy = proxy;
                _proxyTunnel = tunnel;
                _tracker = new HttpResponseTracker();
                _detaching = false;
                startFrame = connected.StartFrame;
                _pump = PumpResponsesAsync(proxy, _tracker, host, connection);
            }

            // One framer per connection, restarted for each request.
            var framer = _framer ??= HttpBodyFramer.ForRequest(_request.Framing);
            framer.StartRequest(_request.Framing);
            _tracker!.RequestForwarded(_request.Method);
            try
            {
                await ForwardHeadAsync(startFrame, tunnel.HostHeader, framer, token).ConfigureAwait(false);
                while (!framer.IsComplete)
                {
                    if (!await FillAsync(token).ConfigureAwait(false))
                    {
                        _visitorDone = true;
                        // The visitor left in the middle of a request body: end the request towards the tunnel too.
                        await Splicer.ShutdownWriteAsync(_proxy!).ConfigureAwait(false);
                        await _pump.ConfigureAwait(false);
                        return;
                    }
                    var n = framer.Advance(_buffer.AsSpan(_start, _end - _start), out _);
                    await _proxy!.WriteAsync(_buffer.AsMemory(_start, n), token).ConfigureAwait(false);
                    _start += n;
                }
            }
            catch (HttpParseException ex)
            {
                // A malformed body (chunk framing): the local service has a request cut short; the visitor gets a 400
                // if no part of a response has reached it yet.
                CountRefused("bad_body");
                await AbortWithAsync(ErrorPages.BadRequest(ex.Message + " The rest of the request was not forwarded.", ex.StatusCode), token).ConfigureAwait(false);
                return;
            }

            if (_request.IsUpgrade)
            {
                await WaitIdleAsync(token).ConfigureAwait(false);
                if (_tracker.Upgraded)
                {
                    await RelayRawAsync(token).ConfigureAwait(false);
                    return;
                }
            }
            if (!_request.KeepAlive)
            {
                await FinishAsync(token).ConfigureAwait(false);
                return;
            }
        }
    }

    /// <summary>
    /// The first request of a connection is for a host another node of the cluster serves: the whole connection (the
    /// head read so far included) goes to that node over the link to it, where basic auth, IP rules and limits apply as
    /// for its own visitors (it sees the visitor's address). The connection is then relayed as raw bytes, its writes to
    /// the visitor under this node's write deadline (a visitor that reads nothing is cut here: that node's write
    /// deadline cannot reach a write stuck on this node), and it ends when that node ends the stream (its head and idle
    /// deadlines for later requests, or its answer), whatever the visitor does.
    /// </summary>
    private async Task RouteToNodeAsync(ClusterNode cluster, string host, CancellationTokenSource connection)
    {
        var token = connection.Token;
        var route = await cluster.Router.RouteAsync(host, fresh: false, token).ConfigureAwait(false);
        while (true)
        {
            switch (route.Kind)
            {
                case NodeRouteKind.Remote:
                    break;
                case NodeRouteKind.Reserved:
                    await RespondAndCloseAsync(ErrorPages.ClientNotConnected(host), token).ConfigureAwait(false);
                    return;
                case NodeRouteKind.Unavailable:
                    ServerLog.NoProxyConnection(_logger, _connectionId, _remote, host, route.Problem ?? "the cluster cannot route it now");
                    await RespondAndCloseAsync(ErrorPages.ClientNotConnected(host), token).ConfigureAwait(false);
                    return;
                default:
                    await RespondAndCloseAsync(ErrorPages.TunnelNotFound(host), token).ConfigureAwait(false);
                    return;
            }
            var stream = await OpenForwardAsync(route, host, token).ConfigureAwait(false);
            if (stream is not null)
            {
                // The head went with the stream's first bytes. From here the node's answers are pumped to the visitor
                // as they come (no tracker: that node follows the responses), and the visitor's bytes relayed to it.
                _start = _end;
                _proxy = stream;
                _relayedToNode = true;
                _pump = PumpResponsesAsync(stream, tracker: null, host, connection);
                await RelayRawAsync(token).ConfigureAwait(false);
                return;
            }
            // The node did not take it (the route was stale, or its link is gone): forget the route and ask the cluster
            // store once; a route that came from the store just now is not asked again.
            cluster.Router.Forget(host);
            if (!route.Cached)
            {
                await RespondAndCloseAsync(ErrorPages.ClientNotConnected(host), token).ConfigureAwait(false);
                return;
            }
            route = await cluster.Router.RouteAsync(host, fresh: true, token).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Opens a stream to the route's node and sends it what the visitor sent so far; the stream once that node says it
    /// serves the host, or null when it does not (or cannot be reached).
    /// </summary>
    private async Task<MuxStream?> OpenForwardAsync(NodeRoute route, string host, CancellationToken token)
    {
        MuxStream stream;
        try
        {
            stream = route.Link!.Open("cluster:" + _scheme, _remote);
        }
        catch (IOException)
        {
            return null;
        }
        ClusterLog.Forwarded(_logger, _connectionId, _remote, host, route.Node!);
        var answer = new byte[1];
        try
        {
            await stream.WriteAsync(_buffer.AsMemory(_headStart, _end - _headStart), token).ConfigureAwait(false);
            if (await stream.ReadAsync(answer, token).ConfigureAwait(false) == 1 && answer[0] == ForwardHere[0])
            {
                return stream;
            }
        }
        catch (IOException)
        {
            // The link ended under the stream: as if the node had said no.
        }
        await stream.DisposeAsync().ConfigureAwait(false);
        return null;
    }

    /// <summary>The current request's head in the buffer.</summary>
    private ReadOnlySpan<byte> HeadSpan => _buffer.AsSpan(_headStart, _request.HeadLength);

    private async Task ForwardHeadAsync(byte[]? startFrame, string? hostOverride, HttpBodyFramer framer, CancellationToken token)
    {
        // StartProxy, the head and the body bytes already read go out in one write (one TLS record where they fit).
        var bodyAvailable = framer.IsComplete ? 0 : framer.Advance(_buffer.AsSpan(_start, _end - _start), out _);
        var frameLength = startFrame?.Length ?? 0;
        var output = ArrayPool<byte>.Shared.Rent(frameLength + _request.MaxForwardedLength(hostOverride, _remoteIp) + bodyAvailable);
        try
        {
            startFrame?.CopyTo(output, 0);
            var headLength = _request.WriteForwarded(HeadSpan, output.AsSpan(frameLength), hostOverride, _remoteIp, _scheme);
            _buffer.AsSpan(_start, bodyAvailable).CopyTo(output.AsSpan(frameLength + headLength));
            _start += bodyAvailable;
            await _proxy!.WriteAsync(output.AsMemory(0, frameLength + headLength + bodyAvailable), token).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(output);
        }
    }

    /// <summary>
    /// Copies responses to the visitor. Bytes of a response head are held until the head has arrived and parses; a
    /// head that does not parse, or a tunnel that closes while a response is owed and none has begun, answers the
    /// visitor with a 502 instead. Without a tracker (a connection relayed to another node) every byte goes on as it
    /// comes. The pump owns the tracker: it disposes it when it ends, as nothing reads it after the pump.
    /// </summary>
    private async Task PumpResponsesAsync(Stream proxy, HttpResponseTracker? tracker, string host, CancellationTokenSource connection)
    {
        byte[]? buffer = null;
        var held = 0;
        var lastRead = 0;
        try
        {
            while (true)
            {
                if (buffer is null)
                {
                    // Nothing owed and nothing held: wait for the next response without holding a buffer (a zero-byte
                    // read), so an idle keep-alive connection costs no pooled buffer on this side.
                    await proxy.ReadAsync(Memory<byte>.Empty, connection.Token).ConfigureAwait(false);
                    buffer = ArrayPool<byte>.Shared.Rent(Splicer.BufferSize);
                }
                else if (held == 0 && (tracker is null || tracker.InBody) && buffer.Length < Splicer.BulkBufferSize && lastRead >= buffer.Length / 2)
                {
                    // A body that fills the buffer: read and write it in larger pieces.
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = ArrayPool<byte>.Shared.Rent(Splicer.BulkBufferSize);
                }
                else if (buffer.Length - held < Splicer.BufferSize / 2)
                {
                    // A long head held back: make room (the tracker refuses a head above 64 KiB, so this is bounded).
                    var larger = ArrayPool<byte>.Shared.Rent(held + Splicer.BufferSize);
                    Buffer.BlockCopy(buffer, 0, larger, 0, held);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }
                var read = await proxy.ReadAsync(buffer.AsMemory(held), connection.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }
                lastRead = held + read;
                var total = held + read;
                var forward = tracker is null ? read : held + tracker.Observe(buffer.AsSpan(held, read));
                if (forward > 0)
                {
                    await WriteVisitorAsync(buffer.AsMemory(0, forward), connection.Token).ConfigureAwait(false);
                }
                Touch();
                if (tracker is { Unparsed: true })
                {
                    break;
                }
                held = total - forward;
                if (held > 0 && forward > 0)
                {
                    Buffer.BlockCopy(buffer, forward, buffer, 0, held);
                }
                else if (held == 0 && (tracker is null ? read < buffer.Length : tracker.Outstanding == 0))
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = null;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException or System.Net.Sockets.SocketException)
        {
        }
        finally
        {
            tracker?.ConnectionClosed();
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
            if (!_detaching)
            {
                // The tunnel side ended (the local service closed, or answered with something that is not HTTP; or the
                // node a relayed connection went to ended it): the visitor connection ends with it, after a 502 when it
                // is owed a response none of which it has.
                if (tracker is not null)
                {
                    await AnswerOwedResponseAsync(tracker, host, connection.Token).ConfigureAwait(false);
                }
                await connection.CancelAsync().ConfigureAwait(false);
                await Splicer.ShutdownWriteAsync(_visitor).ConfigureAwait(false);
            }
            // The last reader of the tracker is this pump: its pooled head buffer goes back now, never earlier.
            tracker?.Dispose();
        }
    }

    private async Task AnswerOwedResponseAsync(HttpResponseTracker tracker, string host, CancellationToken token)
    {
        if (tracker.Outstanding == 0)
        {
            return;
        }
        byte[]? page = null;
        if (tracker.Unparsed && tracker.UnparsedAtHead)
        {
            page = ErrorPages.BadGateway(host, $"the local service's response is not HTTP ({tracker.UnparsedReason}). Check that the tunnel points at an HTTP service.");
        }
        else if (!tracker.Unparsed && !tracker.InBody)
        {
            // The client answers a request its local service dropped with a page of its own (when it captures the
            // tunnel's traffic); without capture, or when the client itself went, the server can only say this much.
            page = ErrorPages.BadGateway(host, "the TunnelPS client ended the connection before a response came: the local service closed it without answering, or the client lost its connection. Try again; if it keeps happening, check the local service's log.");
        }
        if (page is null)
        {
            return;
        }
        try
        {
            await WriteVisitorAsync(page, token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException or System.Net.Sockets.SocketException)
        {
        }
    }

    /// <summary>A write to the visitor, watched by the write-progress deadline.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask WriteVisitorAsync(ReadOnlyMemory<byte> data, CancellationToken token)
    {
        Interlocked.Exchange(ref _writeStarted, _time.GetTimestamp());
        try
        {
            await _visitor.WriteAsync(data, token).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Exchange(ref _writeStarted, 0);
        }
    }

    private async Task WaitIdleAsync(CancellationToken token)
    {
        if (_tracker is null)
        {
            return;
        }
        await _tracker.WaitIdleAsync(token).ConfigureAwait(false);
    }

    private async Task DetachAsync(bool wait)
    {
        var proxy = _proxy;
        if (proxy is null)
        {
            return;
        }
        _detaching = true;
        _proxy = null;
        _proxyTunnel?.CloseConnection();
        _proxyTunnel = null;
        await proxy.DisposeAsync().ConfigureAwait(false);
        if (wait)
        {
            await _pump.ConfigureAwait(false);
        }
        // The pump disposes the tracker when it ends (it may still be reading it now).
        _tracker = null;
    }

    /// <summary>
    /// Waits for the response pump to end (its streams are closed by now, so it ends promptly): the connection's run
    /// lasts until its pump has, and the pump's fault is observed here.
    /// </summary>
    private async Task EndPumpAsync()
    {
        try
        {
            await _pump.ConfigureAwait(false);
        }
#pragma warning disable CA1031 // The connection is ending: a fault of its pump is logged, never passed on to the listener.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            ServerLog.ConnectionClosed(_logger, _connectionId, _remote, "the response pump failed: " + ex.Message);
        }
    }

    /// <summary>
    /// CONNECT asks for a tunnel to another host, which is a forward proxy's job: an http tunnel is a reverse proxy, so
    /// it answers 405 (with Allow), as Apache httpd does without mod_proxy_connect, and closes the connection. The
    /// local service never sees the request.
    /// </summary>
    private async Task RefuseConnectAsync(CancellationToken token)
    {
        TunnelMetrics.RefusedVisitors.Add(1, new KeyValuePair<string, object?>("reason", "connect_method"));
        ServerLog.ConnectionClosed(_logger, _connectionId, _remote, "CONNECT refused: an http tunnel is not a forward proxy");
        if (_forwarded && !_routedOnce)
        {
            // The forwarding node waits for this node's word before any answer: the answer is this node's.
            _routedOnce = true;
            await WriteVisitorAsync(ForwardHere, token).ConfigureAwait(false);
        }
        await RespondAndCloseAsync(ErrorPages.ConnectNotAllowed(), token).ConfigureAwait(false);
    }

    /// <summary>Cuts the tunnel connection short, then answers the visitor with <paramref name="page"/> if no response to it has begun.</summary>
    private async Task AbortWithAsync(byte[] page, CancellationToken token)
    {
        var tracker = _tracker;
        var responseBegun = tracker is null || tracker.InBody || tracker.Upgraded;
        await DetachAsync(wait: true).ConfigureAwait(false);
        if (!responseBegun)
        {
            await WriteVisitorAsync(page, token).ConfigureAwait(false);
            await _visitor.FlushAsync(token).ConfigureAwait(false);
        }
        await Splicer.ShutdownWriteAsync(_visitor).ConfigureAwait(false);
    }

    /// <summary>The visitor is done sending: let outstanding responses finish, then close.</summary>
    private async Task FinishAsync(CancellationToken token)
    {
        if (_proxy is null)
        {
            return;
        }
        if (_visitorDone && _tracker is { Outstanding: > 0 })
        {
            // The visitor half-closed with responses still owed: pass the end on and let the responses drain.
            await Splicer.ShutdownWriteAsync(_proxy).ConfigureAwait(false);
            await _pump.WaitAsync(token).ConfigureAwait(false);
            return;
        }
        if (_tracker is { Unparsed: true } or { Upgraded: true })
        {
            await Splicer.ShutdownWriteAsync(_proxy).ConfigureAwait(false);
            await _pump.WaitAsync(token).ConfigureAwait(false);
            return;
        }
        await WaitIdleAsync(token).ConfigureAwait(false);
        await DetachAsync(wait: true).ConfigureAwait(false);
    }

    /// <summary>
    /// Relays the visitor's bytes as they come (an upgraded connection, or one relayed to another node) until the
    /// visitor ends its side. Once a read has drained what the visitor sent, it waits for more with a zero-byte read
    /// and holds no pooled buffer meanwhile, so a quiet connection costs little.
    /// </summary>
    private async Task RelayRawAsync(CancellationToken token)
    {
        var proxy = _proxy!;
        if (_end > _start)
        {
            await proxy.WriteAsync(_buffer.AsMemory(_start, _end - _start), token).ConfigureAwait(false);
        }
        _start = _end = 0;
        var drained = true;
        while (true)
        {
            if (drained)
            {
                if (_buffer.Length > 0)
                {
                    ArrayPool<byte>.Shared.Return(_buffer);
                    _buffer = [];
                }
                await _visitor.ReadAsync(Memory<byte>.Empty, token).ConfigureAwait(false);
                _buffer = ArrayPool<byte>.Shared.Rent(InitialBufferSize);
            }
            var read = await _visitor.ReadAsync(_buffer, token).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }
            Touch();
            await proxy.WriteAsync(_buffer.AsMemory(0, read), token).ConfigureAwait(false);
            drained = read < _buffer.Length;
        }
        await Splicer.ShutdownWriteAsync(proxy).ConfigureAwait(false);
        await _pump.ConfigureAwait(false);
    }

    private async Task RespondAndCloseAsync(byte[] page, CancellationToken token)
    {
        if (_proxy is not null)
        {
            await WaitIdleAsync(token).ConfigureAwait(false);
            await DetachAsync(wait: true).ConfigureAwait(false);
        }
        await WriteVisitorAsync(page, token).ConfigureAwait(false);
        await _visitor.FlushAsync(token).ConfigureAwait(false);
        await Splicer.ShutdownWriteAsync(_visitor).ConfigureAwait(false);
    }

    /// <summary>Reads until a whole request head is in the buffer and scanned into <see cref="_request"/>; false at end of stream.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> ReadHeadAsync(CancellationToken token)
    {
        if (_end > _start && Interlocked.Read(ref _headStarted) == 0)
        {
            // Bytes of the next request already arrived with the previous one: its deadline runs from now.
            Interlocked.Exchange(ref _headStarted, _time.GetTimestamp());
        }
        while (true)
        {
            if (_end > _start && _request.TryScan(_buffer.AsSpan(_start, _end - _start)))
            {
                _headStart = _start;
                _start += _request.HeadLength;
                Interlocked.Exchange(ref _headStarted, 0);
                return true;
            }
            if (!await FillAsync(token, waitingForHead: true).ConfigureAwait(false))
            {
                return false;
            }
            if (Interlocked.Read(ref _headStarted) == 0)
            {
                // The first byte of a head: from now on it must be complete within the head timeout, however it trickles.
                Interlocked.Exchange(ref _headStarted, _time.GetTimestamp());
            }
        }
    }

    /// <summary>
    /// Reads more visitor bytes into the buffer (compacting or growing it); false at end of stream. Between requests
    /// (<paramref name="waitingForHead"/> with nothing buffered) it waits with a zero-byte read first and holds no
    /// pooled buffer meanwhile, so an idle keep-alive connection costs little.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> FillAsync(CancellationToken token, bool waitingForHead = false)
    {
        if (_start == _end)
        {
            _start = _end = 0;
            if (waitingForHead)
            {
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = [];
                await _visitor.ReadAsync(Memory<byte>.Empty, token).ConfigureAwait(false);
                _buffer = ArrayPool<byte>.Shared.Rent(InitialBufferSize);
            }
        }
        else if (_end == _buffer.Length)
        {
            var used = _end - _start;
            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, used);
            }
            else
            {
                var larger = ArrayPool<byte>.Shared.Rent(Math.Min(_buffer.Length * 2, HttpHeadParser.MaxHeadLength + InitialBufferSize));
                Buffer.BlockCopy(_buffer, 0, larger, 0, used);
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = larger;
            }
            _start = 0;
            _end = used;
        }
        var read = await _visitor.ReadAsync(_buffer.AsMemory(_end), token).ConfigureAwait(false);
        if (read == 0)
        {
            return false;
        }
        Touch();
        _end += read;
        return true;
    }

    /// <summary>
    /// The host a request is routed by (without port or trailing dot, lowercased), from its authority bytes; null when
    /// there is none. A keep-alive connection sends the same name again and again: the last one is remembered, so it
    /// costs no string after the first request.
    /// </summary>
    private string? RoutingHost(ReadOnlySpan<byte> authority)
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

    /// <summary>The host of an authority (host[:port]) without port or trailing dot, lowercased; null when empty.</summary>
    internal static string? NormalizeHost(ReadOnlySpan<byte> authority)
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
