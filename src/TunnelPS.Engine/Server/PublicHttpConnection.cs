using System.Buffers;
using System.Net;
using Microsoft.Extensions.Logging;
using TunnelPS.Engine.Diagnostics;
using TunnelPS.Engine.Http;
using TunnelPS.Engine.Protocol;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Server;

/// <summary>
/// One public HTTP or HTTPS connection. Every request head is parsed, routed by Host and checked against the
/// tunnel's access rules before any byte of it is forwarded; requests of a keep-alive connection to the same tunnel
/// share one proxy connection, and responses stream back untouched while a tracker follows their framing so the
/// server knows when it may answer by itself (404, 401, 503) or switch tunnels.
/// </summary>
internal sealed class PublicHttpConnection
{
    private const int InitialBufferSize = 16 * 1024;

    private readonly TunnelServer _server;
    private readonly Stream _visitor;
    private readonly string _scheme;
    private readonly string _remote;
    private readonly string _remoteIp;
    private readonly long _connectionId;
    private readonly ILogger _logger;

    private byte[] _buffer;
    private int _start;
    private int _end;

    private Stream? _proxy;
    private RegisteredTunnel? _proxyTunnel;
    private HttpResponseTracker? _tracker;
    private Task _pump = Task.CompletedTask;
    private volatile bool _detaching;
    private volatile bool _visitorDone;
    private long _lastActivity;

    public PublicHttpConnection(TunnelServer server, Stream visitor, string scheme, EndPoint? remote, long connectionId, ILogger logger)
    {
        _server = server;
        _visitor = visitor;
        _scheme = scheme;
        _remote = ListenerSocket.Describe(remote);
        _remoteIp = ListenerSocket.AddressOf(remote);
        _connectionId = connectionId;
        _logger = logger;
        _buffer = ArrayPool<byte>.Shared.Rent(InitialBufferSize);
        _lastActivity = server.Options.TimeProvider.GetTimestamp();
    }

    public async Task RunAsync(CancellationToken serverStopping)
    {
        using var connection = CancellationTokenSource.CreateLinkedTokenSource(serverStopping);
        var period = _server.Options.PublicIdleTimeout / 4;
        using var watchdog = _server.Options.TimeProvider.CreateTimer(static state => ((PublicHttpConnection)state!).CheckIdle(), this, period, period);
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
            await connection.CancelAsync().ConfigureAwait(false);
            await DetachAsync(wait: false).ConfigureAwait(false);
            await _visitor.DisposeAsync().ConfigureAwait(false);
            ArrayPool<byte>.Shared.Return(_buffer);
        }
    }

    /// <summary>
    /// Closes a connection that has been silent in both directions for the idle timeout, unless a response is still
    /// owed to a visitor who is waiting for it, or the connection was upgraded (WebSocket) and lives as long as its ends.
    /// Long downloads and quiet streaming responses are never cut.
    /// </summary>
    private void CheckIdle()
    {
        var silent = _server.Options.TimeProvider.GetElapsedTime(Interlocked.Read(ref _lastActivity));
        if (silent < _server.Options.PublicIdleTimeout)
        {
            return;
        }
        var tracker = _tracker;
        if (tracker is { Upgraded: true } || (tracker is { Outstanding: > 0 } && !_visitorDone))
        {
            return;
        }
        ServerLog.ConnectionClosed(_logger, _connectionId, _remote, "idle timeout");
        try
        {
            _visitor.Dispose();
            _proxy?.Dispose();
        }
#pragma warning disable CA1031 // A timer callback must never throw: that would end the host process.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    private void Touch() => Interlocked.Exchange(ref _lastActivity, _server.Options.TimeProvider.GetTimestamp());

    private async Task ServeAsync(CancellationTokenSource connection)
    {
        var token = connection.Token;
        while (!token.IsCancellationRequested)
        {
            HttpRequestHead? head;
            try
            {
                head = await ReadHeadAsync(token).ConfigureAwait(false);
            }
            catch (HttpParseException ex)
            {
                await RespondAndCloseAsync(ErrorPages.BadRequest(ex.Message + " The request was not forwarded.", ex.StatusCode), token).ConfigureAwait(false);
                return;
            }
            if (head is null)
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

            var host = NormalizeHost(head.Host);
            if (host is null)
            {
                await RespondAndCloseAsync(ErrorPages.BadRequest("The request has no Host header, so it cannot be routed to a tunnel."), token).ConfigureAwait(false);
                return;
            }
            var tunnel = _server.Registry.FindHttp(_scheme, host);
            if (tunnel is null)
            {
                await RespondAndCloseAsync(ErrorPages.TunnelNotFound(host), token).ConfigureAwait(false);
                return;
            }
            if (tunnel.Auth is { } auth && !auth.IsAuthorized(head.Headers["Authorization"]))
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
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(token, session.Stopping);
                var proxy = await session.Pool.TakeAsync(_server.Options.ProxyWaitTimeout, linked.Token).ConfigureAwait(false);
                if (proxy is null)
                {
                    ServerLog.NoProxyConnection(_logger, _connectionId, _remote, tunnel.Url, "no proxy connection arrived in time");
                    TunnelMetrics.ProxyWaitTimeouts.Add(1);
                    await RespondAndCloseAsync(ErrorPages.ProxyTimeout(host), token).ConfigureAwait(false);
                    return;
                }
                tunnel.CountConnection();
                TunnelMetrics.PublicConnections.Add(1);
                _proxy = proxy;
                _proxyTunnel = tunnel;
                _tracker = new HttpResponseTracker();
                _detaching = false;
                startFrame = FrameCodec.Encode(new StartProxy { Url = tunnel.Url, ClientAddr = _remote });
                _pump = PumpResponsesAsync(proxy, _tracker, connection);
            }

            AddForwardingHeaders(head);
            if (tunnel.HostHeader is { } rewritten)
            {
                head.Headers.Set("Host", rewritten);
            }
            var framer = HttpBodyFramer.ForRequest(head);
            _tracker!.RequestForwarded(head.Method);
            await ForwardHeadAsync(startFrame, head, framer, token).ConfigureAwait(false);
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

            if (head.IsUpgradeRequest)
            {
                await WaitIdleAsync(token).ConfigureAwait(false);
                if (_tracker.Upgraded)
                {
                    await RelayRawAsync(token).ConfigureAwait(false);
                    return;
                }
            }
            if (!head.KeepAlive)
            {
                await FinishAsync(token).ConfigureAwait(false);
                return;
            }
        }
    }

    private async Task ForwardHeadAsync(byte[]? startFrame, HttpRequestHead head, HttpBodyFramer framer, CancellationToken token)
    {
        // StartProxy, the head and the body bytes already read go out in one write (one TLS record where they fit).
        var headLength = head.GetSerializedLength();
        var bodyAvailable = framer.IsComplete ? 0 : framer.Advance(_buffer.AsSpan(_start, _end - _start), out _);
        var frameLength = startFrame?.Length ?? 0;
        var total = frameLength + headLength + bodyAvailable;
        var output = ArrayPool<byte>.Shared.Rent(total);
        try
        {
            startFrame?.CopyTo(output, 0);
            head.WriteTo(output.AsSpan(frameLength, headLength));
            _buffer.AsSpan(_start, bodyAvailable).CopyTo(output.AsSpan(frameLength + headLength));
            _start += bodyAvailable;
            await _proxy!.WriteAsync(output.AsMemory(0, total), token).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(output);
        }
    }

    private void AddForwardingHeaders(HttpRequestHead head)
    {
        var headers = head.Headers;
        // Append the visitor to any existing chain (several X-Forwarded-For fields are joined, as RFC 9110 allows).
        string? existing = null;
        foreach (var header in headers)
        {
            if (string.Equals(header.Key, "X-Forwarded-For", StringComparison.OrdinalIgnoreCase))
            {
                existing = existing is null ? header.Value : existing + ", " + header.Value;
            }
        }
        headers.Set("X-Forwarded-For", existing is null ? _remoteIp : existing + ", " + _remoteIp);
        headers.Set("X-Forwarded-Proto", _scheme);
        if (head.Host is { } host)
        {
            headers.Set("X-Forwarded-Host", host);
        }
    }

    private async Task PumpResponsesAsync(Stream proxy, HttpResponseTracker tracker, CancellationTokenSource connection)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(Splicer.BufferSize);
        try
        {
            while (true)
            {
                var read = await proxy.ReadAsync(buffer.AsMemory(0, Splicer.BufferSize), connection.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }
                await _visitor.WriteAsync(buffer.AsMemory(0, read), connection.Token).ConfigureAwait(false);
                Touch();
                tracker.Observe(buffer.AsSpan(0, read));
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException or System.Net.Sockets.SocketException)
        {
        }
        finally
        {
            tracker.ConnectionClosed();
            ArrayPool<byte>.Shared.Return(buffer);
            if (!_detaching)
            {
                // The tunnel side ended (the local service closed): the visitor connection ends with it.
                await connection.CancelAsync().ConfigureAwait(false);
                await Splicer.ShutdownWriteAsync(_visitor).ConfigureAwait(false);
            }
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
        _proxyTunnel = null;
        await proxy.DisposeAsync().ConfigureAwait(false);
        if (wait)
        {
            await _pump.ConfigureAwait(false);
        }
        _tracker?.Dispose();
        _tracker = null;
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

    private async Task RelayRawAsync(CancellationToken token)
    {
        var proxy = _proxy!;
        if (_end > _start)
        {
            await proxy.WriteAsync(_buffer.AsMemory(_start, _end - _start), token).ConfigureAwait(false);
            _start = _end;
        }
        while (true)
        {
            var read = await _visitor.ReadAsync(_buffer, token).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }
            await proxy.WriteAsync(_buffer.AsMemory(0, read), token).ConfigureAwait(false);
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
        await _visitor.WriteAsync(page, token).ConfigureAwait(false);
        await _visitor.FlushAsync(token).ConfigureAwait(false);
        await Splicer.ShutdownWriteAsync(_visitor).ConfigureAwait(false);
    }

    private async Task<HttpRequestHead?> ReadHeadAsync(CancellationToken token)
    {
        while (true)
        {
            if (_end > _start && HttpHeadParser.TryParseRequestHead(_buffer.AsSpan(_start, _end - _start), out var head, out var length))
            {
                _start += length;
                return head;
            }
            if (!await FillAsync(token).ConfigureAwait(false))
            {
                return null;
            }
        }
    }

    /// <summary>Reads more visitor bytes into the buffer (compacting or growing it); false at end of stream.</summary>
    private async Task<bool> FillAsync(CancellationToken token)
    {
        if (_start == _end)
        {
            _start = _end = 0;
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

    /// <summary>The host of a Host header without port or trailing dot, lowercased; null when absent or empty.</summary>
    internal static string? NormalizeHost(string? hostHeader)
    {
        if (string.IsNullOrWhiteSpace(hostHeader))
        {
            return null;
        }
        var host = hostHeader.Trim();
        if (host.StartsWith('['))
        {
            var close = host.IndexOf(']', StringComparison.Ordinal);
            host = close > 0 ? host[..(close + 1)] : host;
        }
        else
        {
            var colon = host.LastIndexOf(':');
            if (colon >= 0)
            {
                host = host[..colon];
            }
        }
        host = host.TrimEnd('.').ToLowerInvariant();
        return host.Length == 0 ? null : host;
    }
}
