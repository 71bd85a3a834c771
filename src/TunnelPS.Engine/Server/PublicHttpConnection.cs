using System.Net;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using TunnelPS.Engine.Diagnostics;
using TunnelPS.Engine.Http;
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
/// The connection is a small set of parts, each with one owner: <see cref="VisitorRequestReader"/> reads the heads
/// (the main loop), <see cref="VisitorAdmission"/> routes and admits them, <see cref="TunnelForwarder"/> forwards them
/// and owns the <see cref="ResponsePump"/>, <see cref="VisitorNodeRelay"/> hands a connection to another node of the
/// cluster, and an upgrade is relayed raw (<see cref="Splicer.RelayAsync"/>). What the main loop, the pump and the
/// deadline timer share is the <see cref="PublicConnectionState"/> and the visitor's timestamps
/// (<see cref="VisitorChannel"/>).
/// </para>
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
/// buffer is pooled), and the connection's run ends, and its read buffer goes back, only after its pump has.
/// </para>
/// </summary>
internal sealed class PublicHttpConnection : IDeadlineWatched
{
    /// <summary>A node's first byte on a forwarded stream: it serves the host (its answer follows).</summary>
    internal static readonly byte[] ForwardHere = "Y"u8.ToArray();

    /// <summary>A node's only byte on a forwarded stream for a host it does not serve (the forwarder's route was stale).</summary>
    private static readonly byte[] ForwardNotHere = "N"u8.ToArray();

    private readonly TunnelServer _server;
    private readonly VisitorChannel _visitor;
    private readonly VisitorRequestReader _reader;
    private readonly VisitorAdmission _admission;
    private readonly TunnelForwarder _forwarder;
    private readonly string _scheme;
    private readonly string _remote;
    private readonly long _connectionId;
    private readonly ILogger _logger;
    private readonly bool _forwarded;
    private int _state;
    private bool _routedOnce;

    /// <param name="accepted">When the connection was accepted (a TimeProvider timestamp): the first request head is due
    /// within the head timeout of it, TLS handshake included; 0 for now.</param>
    /// <param name="forwarded">True for a visitor connection another node of the cluster forwarded here: it is served
    /// here or answered here, never forwarded again.</param>
    public PublicHttpConnection(TunnelServer server, Stream visitor, string scheme, EndPoint? remote, long connectionId, ILogger logger, long accepted = 0, bool forwarded = false)
    {
        var time = server.Options.TimeProvider;
        _forwarded = forwarded;
        _server = server;
        _scheme = scheme;
        _remote = ListenerSocket.Describe(remote);
        _connectionId = connectionId;
        _logger = logger;
        _visitor = new VisitorChannel(visitor, time);
        // The first request's head is due within the head timeout of the connection's start.
        _reader = new VisitorRequestReader(_visitor, time, accepted != 0 ? accepted : _visitor.LastActivity);
        // ACME HTTP-01 validations arrive on the plain HTTP port, never through another node.
        _admission = new VisitorAdmission(logger, connectionId, remote, _remote, scheme == "http" && !forwarded ? server.Acme?.Responder : null);
        _forwarder = new TunnelForwarder(server, _visitor, _reader, scheme, _remote, ListenerSocket.AddressOf(remote), connectionId, logger);
    }

    /// <summary>Where the connection stands now.</summary>
    internal PublicConnectionState State => (PublicConnectionState)Volatile.Read(ref _state);

    /// <summary>The response tracker of the current tunnel connection, if any (tests watch its lifetime).</summary>
    internal HttpResponseTracker? Tracker => _forwarder.Tracker;

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
            await _forwarder.DetachAsync(wait: false).ConfigureAwait(false);
            await _visitor.Stream.DisposeAsync().ConfigureAwait(false);
            // Its streams are closed, so the pump ends promptly; it is awaited before anything pooled of the connection
            // goes back (the pump returns its own buffer and tracker as it ends): nothing is returned while it runs.
            await _forwarder.EndAsync().ConfigureAwait(false);
            _reader.Dispose();
        }
    }

    /// <summary>Moves from <see cref="PublicConnectionState.Serving"/> to <paramref name="next"/> (a deadline's close wins over it).</summary>
    private void Leave(PublicConnectionState next) =>
        Interlocked.CompareExchange(ref _state, (int)next, (int)PublicConnectionState.Serving);

    /// <inheritdoc />
    public void CheckDeadlines(long now)
    {
        var state = State;
        if (state == PublicConnectionState.Closed || MissedDeadline(now, state) is not { } missed
            || Interlocked.Exchange(ref _state, (int)PublicConnectionState.Closed) == (int)PublicConnectionState.Closed)
        {
            return;
        }
        var options = _server.Options;
        missed.CountClose();
        ServerLog.DeadlineMissed(_logger, _connectionId, _remote, missed switch
        {
            VisitorDeadline.Head => $"the request head did not arrive within {options.RequestHeadTimeout.TotalSeconds:0} s",
            VisitorDeadline.Write => $"the visitor read nothing for {options.VisitorWriteTimeout.TotalSeconds:0} s",
            _ => $"idle for {options.PublicIdleTimeout.TotalSeconds:0} s",
        });
        try
        {
            _visitor.Stream.Dispose();
            _forwarder.Abort();
        }
#pragma warning disable CA1031 // Runs on the deadline timer: it must never throw.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            ServerLog.ConnectionClosed(_logger, _connectionId, _remote, "closing it after its deadline failed: " + ex.Message);
        }
    }

    /// <summary>The deadline the connection has missed at <paramref name="now"/>, if any.</summary>
    private VisitorDeadline? MissedDeadline(long now, PublicConnectionState state)
    {
        var options = _server.Options;
        var time = options.TimeProvider;
        var headStarted = _reader.HeadStarted;
        var writeStarted = _visitor.WriteStarted;
        if (headStarted != 0 && time.GetElapsedTime(headStarted, now) >= options.RequestHeadTimeout)
        {
            return VisitorDeadline.Head;
        }
        if (writeStarted != 0 && time.GetElapsedTime(writeStarted, now) >= options.VisitorWriteTimeout)
        {
            return VisitorDeadline.Write;
        }
        if (writeStarted == 0 && state != PublicConnectionState.RelayedToNode && time.GetElapsedTime(_visitor.LastActivity, now) >= options.PublicIdleTimeout)
        {
            // Silent both ways: closed unless a response is still owed to a visitor waiting for it (long downloads and
            // slow answers are never cut). An upgraded connection (WebSocket) is idle-timed like any other: its ends
            // keep it open by sending (pings), as behind any reverse proxy. A connection relayed to another node is
            // left to that node's idle deadline: only it knows whether a response is owed, and its end ends this one.
            var owed = _forwarder.Tracker is { Outstanding: > 0, Upgraded: false } && state != PublicConnectionState.VisitorDone;
            return owed ? null : VisitorDeadline.Idle;
        }
        return null;
    }

    private async Task ServeAsync(CancellationTokenSource connection)
    {
        while (!connection.IsCancellationRequested)
        {
            if (!await ServeRequestAsync(connection).ConfigureAwait(false))
            {
                return;
            }
        }
    }

    /// <summary>Reads, routes, admits and forwards one request; false when done. Pooled: a keep-alive request allocates nothing.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> ServeRequestAsync(CancellationTokenSource connection)
    {
        var token = connection.Token;
        if (!await ReadRequestAsync(token).ConfigureAwait(false))
        {
            return false;
        }
        if (_admission.Route(_reader.Head, _reader.Request, out var host) is { } answer)
        {
            await RespondAndCloseAsync(answer, token).ConfigureAwait(false);
            return false;
        }
        var tunnel = _server.Registry.FindHttp(_scheme, host);
        var first = !_routedOnce;
        _routedOnce = true;
        if (_forwarded && first && !await AnswerForwardingNodeAsync(tunnel is not null, token).ConfigureAwait(false))
        {
            return false;
        }
        if (tunnel is null)
        {
            await NotHereAsync(host, first, connection).ConfigureAwait(false);
            return false;
        }
        if (_admission.Refusal(tunnel, host, _reader.Request, _reader.Head) is { } refusal)
        {
            await RespondAndCloseAsync(refusal, token).ConfigureAwait(false);
            return false;
        }
        if (_forwarder.Attached && !_forwarder.CanReuseFor(tunnel))
        {
            await _forwarder.WaitIdleAsync(token).ConfigureAwait(false);
            await _forwarder.DetachAsync(wait: true).ConfigureAwait(false);
        }
        if (!_forwarder.Attached && await _forwarder.AttachAsync(tunnel, tunnel.Session!, host, connection).ConfigureAwait(false) is { } busy)
        {
            await RespondAndCloseAsync(busy, token).ConfigureAwait(false);
            return false;
        }
        return await ForwardAsync(tunnel, token).ConfigureAwait(false);
    }

    /// <summary>Reads the next request head and checks it; false (after any answer it is owed) when none is to be served.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> ReadRequestAsync(CancellationToken token)
    {
        bool gotHead;
        try
        {
            gotHead = await _reader.ReadHeadAsync(token).ConfigureAwait(false);
        }
        catch (HttpParseException ex)
        {
            CountRefused(ex.StatusCode == 431 ? "head_too_large" : "bad_request");
            await RespondAndCloseAsync(ErrorPages.BadRequest(ex.Message + " The request was not forwarded.", ex.StatusCode), token).ConfigureAwait(false);
            return false;
        }
        if (!gotHead)
        {
            Leave(PublicConnectionState.VisitorDone);
            await FinishAsync(token).ConfigureAwait(false);
            return false;
        }
        if (_forwarder.Tracker is { Unparsed: true })
        {
            // The local service's responses cannot be followed, so later requests cannot be routed safely.
            await FinishAsync(token).ConfigureAwait(false);
            return false;
        }
        if (_reader.Request.Check(_reader.Head) is { } problem)
        {
            CountRefused("bad_request");
            await RespondAndCloseAsync(ErrorPages.BadRequest(problem + " The request was not forwarded."), token).ConfigureAwait(false);
            return false;
        }
        if (_reader.Request.IsConnect)
        {
            await RefuseConnectAsync(token).ConfigureAwait(false);
            return false;
        }
        return true;
    }

    /// <summary>Forwards the admitted request and relays an upgrade; false when the connection is done.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> ForwardAsync(RegisteredTunnel tunnel, CancellationToken token)
    {
        try
        {
            if (!await _forwarder.ForwardRequestAsync(tunnel.HostHeader, token).ConfigureAwait(false))
            {
                // The visitor left in the middle of a request body: end the request towards the tunnel too.
                Leave(PublicConnectionState.VisitorDone);
                await _forwarder.DrainAsync(token: null).ConfigureAwait(false);
                return false;
            }
        }
        catch (HttpParseException ex)
        {
            // A malformed body (chunk framing): the local service has a request cut short; the visitor gets a 400
            // if no part of a response has reached it yet.
            CountRefused("bad_body");
            await AbortWithAsync(ErrorPages.BadRequest(ex.Message + " The rest of the request was not forwarded.", ex.StatusCode), token).ConfigureAwait(false);
            return false;
        }
        if (_reader.Request.IsUpgrade)
        {
            await _forwarder.WaitIdleAsync(token).ConfigureAwait(false);
            if (_forwarder.Tracker is { Upgraded: true })
            {
                await _forwarder.RelayRawAsync(token).ConfigureAwait(false);
                return false;
            }
        }
        if (!_reader.Request.KeepAlive)
        {
            await FinishAsync(token).ConfigureAwait(false);
            return false;
        }
        return true;
    }

    /// <summary>
    /// The forwarding node waits for this node's word: "not here" (false, the end) lets it find the name's node again
    /// (its cached route was stale), "here" is followed by what this node answers.
    /// </summary>
    private async Task<bool> AnswerForwardingNodeAsync(bool here, CancellationToken token)
    {
        await _visitor.WriteAsync(here ? ForwardHere : ForwardNotHere, token).ConfigureAwait(false);
        if (!here)
        {
            await _visitor.Stream.FlushAsync(token).ConfigureAwait(false);
            await _visitor.ShutdownWriteAsync().ConfigureAwait(false);
        }
        return here;
    }

    /// <summary>No tunnel here serves <paramref name="host"/>: the connection's first request may go to another node of the cluster; otherwise 404.</summary>
    private async Task NotHereAsync(string host, bool first, CancellationTokenSource connection)
    {
        if (first && !_forwarded && _server.Cluster is { } cluster)
        {
            var relay = new VisitorNodeRelay(cluster, _visitor, _reader, _forwarder, _scheme, _remote, _connectionId, _logger);
            await relay.RunAsync(host, connection, () => Leave(PublicConnectionState.RelayedToNode)).ConfigureAwait(false);
            return;
        }
        await RespondAndCloseAsync(ErrorPages.TunnelNotFound(host), connection.Token).ConfigureAwait(false);
    }

    /// <summary>A request refused before it was forwarded (or a body cut short), counted by why.</summary>
    private static void CountRefused(string reason) => TunnelMetrics.RefusedVisitors.Add(1, new KeyValuePair<string, object?>("reason", reason));

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
            await _visitor.WriteAsync(ForwardHere, token).ConfigureAwait(false);
        }
        await RespondAndCloseAsync(ErrorPages.ConnectNotAllowed(), token).ConfigureAwait(false);
    }

    /// <summary>Cuts the tunnel connection short, then answers the visitor with <paramref name="page"/> if no response to it has begun.</summary>
    private async Task AbortWithAsync(byte[] page, CancellationToken token)
    {
        var tracker = _forwarder.Tracker;
        var responseBegun = tracker is null || tracker.InBody || tracker.Upgraded;
        await _forwarder.DetachAsync(wait: true).ConfigureAwait(false);
        if (!responseBegun)
        {
            await _visitor.WriteAsync(page, token).ConfigureAwait(false);
            await _visitor.Stream.FlushAsync(token).ConfigureAwait(false);
        }
        await _visitor.ShutdownWriteAsync().ConfigureAwait(false);
    }

    /// <summary>The visitor is done sending (or asked to close): let outstanding responses finish, then close.</summary>
    private async Task FinishAsync(CancellationToken token)
    {
        if (!_forwarder.Attached)
        {
            return;
        }
        var tracker = _forwarder.Tracker;
        if ((State == PublicConnectionState.VisitorDone && tracker is { Outstanding: > 0 }) || tracker is { Unparsed: true } or { Upgraded: true })
        {
            // The visitor half-closed with responses still owed (or the tunnel side is raw now): pass the end on and let
            // the responses drain.
            await _forwarder.DrainAsync(token).ConfigureAwait(false);
            return;
        }
        await _forwarder.WaitIdleAsync(token).ConfigureAwait(false);
        await _forwarder.DetachAsync(wait: true).ConfigureAwait(false);
    }

    private async Task RespondAndCloseAsync(byte[] page, CancellationToken token)
    {
        if (_forwarder.Attached)
        {
            await _forwarder.WaitIdleAsync(token).ConfigureAwait(false);
            await _forwarder.DetachAsync(wait: true).ConfigureAwait(false);
        }
        await _visitor.AnswerAndCloseAsync(page, token).ConfigureAwait(false);
    }
}
