using System.Buffers;
using Microsoft.Extensions.Logging;
using TunnelPS.Engine.Diagnostics;
using TunnelPS.Engine.Http;
using TunnelPS.Engine.Inspection;
using TunnelPS.Engine.Protocol;
using TunnelPS.Engine.Transport;
using System.Net.Security;

namespace TunnelPS.Engine.Client;

/// <summary>
/// Serves visitors on the client side: each one arrives as a stream of a multiplexed link or on a pooled proxy
/// connection, is matched to its tunnel by URL, and is spliced to the tunnel's local service (through the capture tap
/// for http tunnels); an http visitor whose service does not answer gets a 502 page that names the service.
/// </summary>
internal sealed class LocalForwarder
{
    private readonly TunnelClientOptions _options;
    private readonly Func<ServerAddress> _currentServer;
    private readonly ILogger _logger;
    private readonly Func<string, TunnelEndpoint?> _findEndpoint;
    private readonly Func<TunnelDefinition, CaptureStore?> _captureFor;
    private readonly Dictionary<TunnelDefinition, LocalDialer> _dialers = [];
    private readonly LogThrottle _throttle;
    private long _connectionIds;
    private long _proxyDials;
    private int _proxyDialsOutstanding;
    private int _visitorsOpen;
    private long _lastStartedConnectionId;

    /// <param name="currentServer">The server the client's session is on now (pooled proxy connections go there).</param>
    public LocalForwarder(TunnelClientOptions options, ILogger logger, Func<string, TunnelEndpoint?> findEndpoint, Func<TunnelDefinition, CaptureStore?> captureFor, Func<ServerAddress> currentServer)
    {
        _currentServer = currentServer;
        _options = options;
        _logger = logger;
        _findEndpoint = findEndpoint;
        _captureFor = captureFor;
        _throttle = new LogThrottle(options.TimeProvider, TimeSpan.FromSeconds(30));
        foreach (var definition in options.Tunnels)
        {
            _dialers[definition] = new LocalDialer(definition.Local, options.LocalConnectTimeout, inlineCompletions: options.InlineSocketCompletions, time: options.TimeProvider);
        }
    }

    /// <summary>Proxy connections dialled so far (none when visitors travel over multiplexed links).</summary>
    public long ProxyDialCount => Interlocked.Read(ref _proxyDials);

    /// <summary>Proxy connections dialled for a ReqProxy and not yet given a visitor.</summary>
    public int ProxyDialsOutstanding => Volatile.Read(ref _proxyDialsOutstanding);

    /// <summary>Visitors served now (streams and pooled proxy connections).</summary>
    public int VisitorsOpen => Volatile.Read(ref _visitorsOpen);

    /// <summary>The id of the visitor connection served most recently.</summary>
    public long LastStartedConnectionId => Interlocked.Read(ref _lastStartedConnectionId);

    /// <summary>Answers one ReqProxy: dial, RegProxy, wait in the server's pool for StartProxy, then serve the visitor.</summary>
    public async Task ServePooledConnectionAsync(string clientId, string? proxyKey, CancellationToken token)
    {
        // Counted before the first await: a burst of ReqProxy is held to the cap in the order it arrives.
        if (Interlocked.Increment(ref _proxyDialsOutstanding) > _options.MaxProxyDials)
        {
            Interlocked.Decrement(ref _proxyDialsOutstanding);
            TunnelMetrics.ClientRefusedProxyRequests.Add(1);
            _throttle.Warn("proxy-dials", suppressed => ClientLog.ProxyDialsCapped(_logger, _currentServer().ToString(), _options.MaxProxyDials, suppressed));
            return;
        }
        var outstanding = true;
        var connectionId = Interlocked.Increment(ref _connectionIds);
        Interlocked.Increment(ref _proxyDials);
        TunnelMetrics.ProxyConnections.Add(1);
        SslStream? proxy = null;
        try
        {
            proxy = await TunnelDialer.DialAsync(_currentServer(), _options.Trust, _options.Proxy, _options.ConnectTimeout, _options.TimeProvider, token).ConfigureAwait(false);
            await FrameCodec.WriteAsync(proxy, new RegProxy { ClientId = clientId, ProxyKey = proxyKey }, token).ConfigureAwait(false);
            var message = await FrameCodec.ReadAsync(proxy, token).ConfigureAwait(false);
            Interlocked.Decrement(ref _proxyDialsOutstanding);
            outstanding = false;
            if (message is not StartProxy start)
            {
                return;
            }
            await ServeVisitorAsync(proxy, start.Url, start.ClientAddr, connectionId, token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException or System.Net.Sockets.SocketException or TunnelException or System.Security.Authentication.AuthenticationException)
        {
            ClientLog.ProxyEnded(_logger, connectionId, ex.Message);
        }
        finally
        {
            if (outstanding)
            {
                Interlocked.Decrement(ref _proxyDialsOutstanding);
            }
            if (proxy is not null)
            {
                await proxy.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>A visitor's stream arrived on a multiplexed link: serve it.</summary>
    public async Task ServeStreamAsync(MuxStream stream, string url, string clientAddress, CancellationToken token)
    {
        var connectionId = Interlocked.Increment(ref _connectionIds);
        try
        {
            await ServeVisitorAsync(stream, url, clientAddress, connectionId, token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException or System.Net.Sockets.SocketException or TunnelException or System.Security.Authentication.AuthenticationException)
        {
            ClientLog.ProxyEnded(_logger, connectionId, ex.Message);
        }
        finally
        {
            await stream.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Serves one visitor whose connection (<paramref name="proxy"/>) is ready: finds its tunnel and counts the
    /// connection as open while it is served. The caller closes <paramref name="proxy"/>.
    /// </summary>
    private async Task ServeVisitorAsync(Stream proxy, string url, string clientAddress, long connectionId, CancellationToken token)
    {
        // Each visitor holds a connection to a local service: the server may not make the client open any number.
        if (Interlocked.Increment(ref _visitorsOpen) > _options.MaxOpenStreams)
        {
            Interlocked.Decrement(ref _visitorsOpen);
            TunnelMetrics.ClientRefusedVisitors.Add(1);
            _throttle.Warn("visitors", suppressed => ClientLog.VisitorsCapped(_logger, _currentServer().ToString(), _options.MaxOpenStreams, suppressed));
            return;
        }
        try
        {
            await ServeKnownVisitorAsync(proxy, url, clientAddress, connectionId, token).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _visitorsOpen);
        }
    }

    private async Task ServeKnownVisitorAsync(Stream proxy, string url, string clientAddress, long connectionId, CancellationToken token)
    {
        if (_findEndpoint(url) is not { } endpoint)
        {
            ClientLog.UnknownUrl(_logger, connectionId, url);
            return;
        }
        endpoint.CountConnection();
        endpoint.ConnectionOpened();
        try
        {
            await DialAndSpliceAsync(proxy, endpoint, url, clientAddress, connectionId, token).ConfigureAwait(false);
        }
        finally
        {
            endpoint.ConnectionClosed();
        }
    }

    /// <summary>
    /// Dials the local service and splices, or answers an http visitor with a 502 page when the service does not
    /// answer (recorded on the endpoint as a local failure).
    /// </summary>
    private async Task DialAndSpliceAsync(Stream proxy, TunnelEndpoint endpoint, string url, string clientAddress, long connectionId, CancellationToken token)
    {
        Interlocked.Exchange(ref _lastStartedConnectionId, connectionId);
        var target = endpoint.Definition.Local;
        Stream local;
        try
        {
            local = await _dialers[endpoint.Definition].DialAsync(token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is System.Net.Sockets.SocketException or IOException or OperationCanceledException or System.Security.Authentication.AuthenticationException && !token.IsCancellationRequested)
        {
            var timedOut = ex is OperationCanceledException;
            var why = timedOut ? "the connection timed out" : ex.Message;
            TunnelMetrics.LocalConnectFailures.Add(1);
            ClientLog.LocalUnavailable(_logger, connectionId, target.ToString(), url, why);
            ReportLocalFailure(endpoint, why);
            endpoint.RecordLocalFailure(new LocalFailure(_options.TimeProvider.GetUtcNow(), endpoint.Protocol == "tcp" ? 0 : timedOut ? 504 : 502, why, connectionId));
            if (endpoint.Protocol != "tcp")
            {
                var page = timedOut ? ErrorPages.LocalServiceTimeout(target.ToString(), _options.LocalConnectTimeout) : ErrorPages.LocalServiceUnavailable(target.ToString(), why);
                await AnswerVisitorAsync(proxy, page, endpoint, connectionId, clientAddress, $"The client answered {(timedOut ? 504 : 502)} itself: the local service {target} {(timedOut ? "did not accept the connection in time" : "could not be reached")} ({why}).", token).ConfigureAwait(false);
            }
            return;
        }
        if (endpoint.Status == TunnelStatus.Degraded)
        {
            ReportLocalAnswered(endpoint);
        }
        await using (local.ConfigureAwait(false))
        {
            // A request the local service drops (closes or resets the connection before answering) gets a 502 that
            // names the service, captured with the reason.
            var tap = CreateTap(endpoint, connectionId, clientAddress, answeredByClient: null, answersForLocal: true);
            await Splicer.RunAsync(proxy, local, tap, token).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Answers an http visitor with <paramref name="page"/> because the local service did not answer. With capture on,
    /// the request head is read first (briefly) so that the exchange is captured with the page's status and the reason
    /// as its Error.
    /// </summary>
    private async Task AnswerVisitorAsync(Stream proxy, byte[] page, TunnelEndpoint endpoint, long connectionId, string clientAddress, string reason, CancellationToken token)
    {
        var tap = CreateTap(endpoint, connectionId, clientAddress, reason);
        if (tap is not null)
        {
            var buffer = ArrayPool<byte>.Shared.Rent(HttpHeadParser.MaxHeadLength);
            try
            {
                var length = await ReadRequestHeadAsync(proxy, buffer, token).ConfigureAwait(false);
                tap.OnVisitorData(buffer.AsSpan(0, length));
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
        if (tap is not null)
        {
            // Recorded before the visitor has the page, so that a visitor's next request is captured after this one.
            tap.OnLocalData(page);
            tap.OnClosed();
        }
        await proxy.WriteAsync(page, token).ConfigureAwait(false);
        await proxy.FlushAsync(token).ConfigureAwait(false);
        await Splicer.ShutdownWriteAsync(proxy).ConfigureAwait(false);
    }

    /// <summary>
    /// The visitor's first bytes up to the end of the request head (the server sends the head it read as soon as the
    /// connection starts): at most <see cref="HttpHeadParser.MaxHeadLength"/> bytes, for at most a second; whatever
    /// arrived when that ends.
    /// </summary>
    private async Task<int> ReadRequestHeadAsync(Stream proxy, byte[] buffer, CancellationToken token)
    {
        var length = 0;
        var limit = Math.Min(buffer.Length, HttpHeadParser.MaxHeadLength);
        using var timer = new CancellationTokenSource(TimeSpan.FromSeconds(1), _options.TimeProvider);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(token, timer.Token);
        try
        {
            while (length < limit)
            {
                var read = await proxy.ReadAsync(buffer.AsMemory(length, limit - length), deadline.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }
                var from = Math.Max(0, length - 3);
                length += read;
                if (buffer.AsSpan(from, length - from).IndexOf("\r\n\r\n"u8) >= 0)
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (!token.IsCancellationRequested)
        {
            // The head did not arrive in time: capture what did.
        }
        return length;
    }

    private void ReportLocalFailure(TunnelEndpoint endpoint, string why)
    {
        foreach (var sibling in endpoint.Client.Endpoints)
        {
            if (ReferenceEquals(sibling.Definition, endpoint.Definition) && sibling.ReportLocalFailure(why))
            {
                // A tcp tunnel has no error page: its visitors' connections are closed.
                if (sibling.Protocol == "tcp")
                {
                    ClientLog.DegradedTcp(_logger, sibling.Name, sibling.PublicUrl, sibling.LocalAddress, why);
                }
                else
                {
                    ClientLog.Degraded(_logger, sibling.Name, sibling.PublicUrl, sibling.LocalAddress, why);
                }
            }
        }
    }

    private void ReportLocalAnswered(TunnelEndpoint endpoint)
    {
        foreach (var sibling in endpoint.Client.Endpoints)
        {
            if (ReferenceEquals(sibling.Definition, endpoint.Definition) && sibling.ReportLocalAnswered())
            {
                ClientLog.Recovered(_logger, sibling.Name, sibling.PublicUrl, sibling.LocalAddress);
            }
        }
    }

    private HttpTapObserver? CreateTap(TunnelEndpoint endpoint, long connectionId, string clientAddress, string? answeredByClient, bool answersForLocal = false) =>
        _captureFor(endpoint.Definition) is { } store
            ? new HttpTapObserver(
                ConnectionCapture.CreateTap(store, new CaptureContext
            {
                TunnelName = endpoint.Name,
                PublicUrl = endpoint.PublicUrl,
                LocalAddress = endpoint.LocalAddress,
                ConnectionId = connectionId,
                ClientAddress = clientAddress,
                TimeProvider = _options.TimeProvider,
                AnsweredByClient = answeredByClient,
            }),
                answersForLocal ? endpoint.Definition.Local.ToString() : null,
                _logger,
                connectionId)
            : null;
}
