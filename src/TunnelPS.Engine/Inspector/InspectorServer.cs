using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TunnelPS.Engine.Configuration;
using TunnelPS.Engine.Diagnostics;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Inspector;

/// <summary>
/// The web inspector: a page that lists every exchange the tunnels capture, live, with replay and edit-and-replay,
/// and a JSON API shaped like the ngrok agent API, served by the engine's own HTTP/1.1 code on one listening socket
/// (127.0.0.1:4040 by default).
/// <list type="bullet">
/// <item>GET / (the page), /app.js, /app.css, /favicon.svg</item>
/// <item>GET /api/status; GET /api/tunnels; GET /api/tunnels/{name}[?proto=http]</item>
/// <item>GET /api/requests/http?tunnel_name=&amp;method=&amp;status=&amp;path=&amp;id=&amp;limit= (newest first, no bodies)</item>
/// <item>GET /api/requests/http/{id} (with bodies); GET /api/requests/http/{id}/request/body and …/response/body</item>
/// <item>GET /api/requests/http/har (a HAR 1.2 download, same filters, redact=1)</item>
/// <item>POST /api/requests/http (replay, see <see cref="InspectorReplay"/>); DELETE /api/requests/http[?tunnel_name=]</item>
/// <item>GET /api/events (Server-Sent Events: request, tunnels, cleared)</item>
/// </list>
/// What it shows is its <see cref="Catalog"/>. Who may use it: see <see cref="InspectorAccess"/>. Every connection is
/// bounded (<see cref="InspectorOptions"/>); no failure of a request reaches the client as more than a status and a
/// message, and none stops the server.
/// </summary>
public sealed class InspectorServer : IAsyncDisposable
{
    private static readonly TimeSpan s_maxBackoff = TimeSpan.FromSeconds(1);

    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<InspectorConnection, Task> _connections = new(ReferenceEqualityComparer.Instance);
    private readonly InspectorApi _api;
    private readonly Task _acceptLoop;
    private long _connectionIds;
    private int _stopped;

    private InspectorServer(Socket listener, InspectorOptions options, InspectorKey? key)
    {
        _listener = listener;
        Options = options;
        Key = key;
        Logger = options.LoggerFactory?.CreateLogger("TunnelPS.Inspector") ?? NullLogger.Instance;
        EndPoint = (IPEndPoint)listener.LocalEndPoint!;
        Url = new Uri("http://" + InspectorAddress.Format(EndPoint.Address, EndPoint.Port) + "/");
        Deadlines = new DeadlineMonitor(options.TimeProvider, TimeSpan.FromSeconds(1));
        RefusalLog = new LogThrottle(options.TimeProvider, TimeSpan.FromSeconds(10));
        Events = new InspectorEvents(Catalog, options.MaxEventBacklog, options.TimeProvider, options.EventKeepAlive);
        _api = new InspectorApi(this);
        _acceptLoop = AcceptLoopAsync(_stop.Token);
    }

    /// <summary>The page's address, e.g. http://127.0.0.1:4040/.</summary>
    public Uri Url { get; }

    /// <summary>
    /// The page's address with the per-user key (http://127.0.0.1:4040/?key=…), for a browser on a platform that does
    /// not tell a connection's owner: opening it sets the key as a cookie. Null without <see cref="InspectorOptions.KeyFile"/>.
    /// </summary>
    public Uri? KeyedUrl => Key is null ? null : new Uri(Url, "/?" + InspectorKey.QueryName + "=" + Key.Value);

    /// <summary>True when this platform tells whose process a connection comes from, so no key is needed on this computer.</summary>
    public bool IdentifiesPeers => Options.IdentifyPeers && SocketOwner.IsSupported && SocketOwner.EffectiveUserId is not null;

    /// <summary>The address and port listened on.</summary>
    public IPEndPoint EndPoint { get; }

    /// <summary>The captures and tunnels shown.</summary>
    public InspectorCatalog Catalog { get; } = new();

    /// <summary>Completes when the server has stopped.</summary>
    public Task Completion => _acceptLoop;

    internal InspectorOptions Options { get; }

    internal InspectorKey? Key { get; }

    internal ILogger Logger { get; }

    internal DeadlineMonitor Deadlines { get; }

    /// <summary>Refusals are logged at most once per 10 s, the next line counting those left out.</summary>
    private LogThrottle RefusalLog { get; }

    internal InspectorEvents Events { get; }

    /// <summary>Connections open now.</summary>
    internal int ConnectionCount => _connections.Count;

    /// <summary>
    /// Listens on <see cref="InspectorOptions.Address"/> and starts serving. With <see cref="InspectorOptions.NextFreePort"/>,
    /// a taken port moves to the next one (then to any free one).
    /// </summary>
    /// <exception cref="TunnelConfigurationException">The address cannot be listened on (taken, not this host's, not allowed).</exception>
    public static InspectorServer Start(InspectorOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var address = options.Address;
        var logger = options.LoggerFactory?.CreateLogger("TunnelPS.Inspector") ?? NullLogger.Instance;
        var port = address.Port;
        // Where every peer can be identified (Linux, listening on loopback only), no key is needed and none is made.
        var identifiesEveryPeer = options.IdentifyPeers && SocketOwner.IsSupported && SocketOwner.EffectiveUserId is not null && IPAddress.IsLoopback(address.Address);
        var key = options.KeyFile is { } keyFile && !identifiesEveryPeer ? InspectorKey.LoadOrCreate(keyFile) : null;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var server = new InspectorServer(ListenerSocket.Open(address.Address, port, backlog: 64), options, key);
                if (port != address.Port)
                {
                    InspectorLog.PortTaken(logger, address.Port, server.Url.ToString());
                }
                InspectorLog.Listening(logger, server.Url.ToString());
                return server;
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse && options.NextFreePort && port != 0)
            {
                // The next port, and after PortAttempts of them, any free one.
                port = attempt < options.PortAttempts && port < 65535 ? port + 1 : 0;
            }
            catch (SocketException ex)
            {
                throw new TunnelConfigurationException(ex.SocketErrorCode switch
                {
                    SocketError.AddressAlreadyInUse => $"The web inspector cannot listen on {address}: the port is in use. Give another address (port 0 picks a free one), or 'disabled'.",
                    SocketError.AddressNotAvailable => $"The web inspector cannot listen on {address}: that address is not one of this computer's.",
                    SocketError.AccessDenied => $"The web inspector cannot listen on {address}: permission denied (ports below 1024 need privileges).",
                    _ => $"The web inspector cannot listen on {address}: {ex.Message}",
                }, ex);
            }
        }
    }

    /// <summary>Stops accepting, closes every connection (live streams included) and waits for them.</summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 1)
        {
            await _acceptLoop.ConfigureAwait(false);
            return;
        }
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        Events.Dispose();
        foreach (var connection in _connections.Keys)
        {
            connection.Close();
        }
        await _acceptLoop.ConfigureAwait(false);
        await Task.WhenAll(_connections.Values).ConfigureAwait(false);
        Deadlines.Dispose();
        _stop.Dispose();
        InspectorLog.Stopped(Logger, Url.ToString());
    }

    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);

    /// <summary>Checks who asks, then answers; a handler's failure is a 500 with no detail (the log has it).</summary>
    internal async Task<InspectorResponse> HandleAsync(InspectorRequest request, CancellationToken cancellationToken)
    {
        if (!request.Head.Target.StartsWith('/'))
        {
            return InspectorResponse.Error(400, "The request target must be a path (origin form).");
        }
        if ((InspectorAccess.Refusal(request, EndPoint) ?? InspectorAccess.OwnerRefusal(request, Key, SocketOwner.EffectiveUserId)) is { } refusal)
        {
            // Another user's process or a rebinding page can repeat this at will: one line per interval, with a count.
            RefusalLog.Warn("refused", suppressed => InspectorLog.Refused(Logger, request.ConnectionId, request.Method, request.Path, refusal, suppressed));
            TunnelMetrics.InspectorRefused.Add(1);
            // The API answers JSON; a page gets the sentence as plain text, which a browser shows as it is.
            return request.Path.StartsWith("/api/", StringComparison.Ordinal)
                ? InspectorResponse.Error(403, "Refused: " + refusal + ".")
                : InspectorResponse.Text(403, "403 Refused: " + refusal + ".\n");
        }
        if (Key is not null && request.Path == "/" && request.Query(InspectorKey.QueryName) is { } linkKey && Key.Matches(linkKey))
        {
            // The keyed link: the key becomes a cookie the page's own requests carry, and the address bar loses it.
            var redirect = InspectorResponse.Text(303, "See /\n");
            redirect.Headers.Add(new("Location", "/"));
            redirect.Headers.Add(new("Set-Cookie", $"{InspectorKey.CookieName}={Key.Value}; Path=/; HttpOnly; SameSite=Strict"));
            return redirect;
        }
        try
        {
            return await _api.HandleAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return InspectorResponse.Error(503, "The inspector is stopping.");
        }
#pragma warning disable CA1031 // Any failure of one request is that request's 500; the server goes on.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            InspectorLog.HandlerFailed(Logger, request.ConnectionId, request.Method, request.Path, ex);
            return InspectorResponse.Error(500, "The inspector could not answer this request; its log has the details.");
        }
    }

    /// <summary>Whose process the peer of <paramref name="socket"/> is, where the platform tells (Linux: /proc/net/tcp).</summary>
    internal InspectorPeer IdentifyPeer(Socket socket)
    {
        if (!IdentifiesPeers || socket.RemoteEndPoint is not IPEndPoint peer || socket.LocalEndPoint is not IPEndPoint local)
        {
            return InspectorPeer.Unknown;
        }
        var self = SocketOwner.EffectiveUserId!.Value;
        return SocketOwner.Find(peer, local) switch
        {
            null => InspectorPeer.Unknown,
            { } uid when uid == self || uid == 0 => new InspectorPeer(InspectorPeerKind.SameUser, uid),
            { } uid => new InspectorPeer(InspectorPeerKind.OtherUser, uid),
        };
    }

    private async Task AcceptLoopAsync(CancellationToken stopping)
    {
        // Yield first: the constructor must not run the loop.
        await Task.Yield();
        var backoff = TimeSpan.Zero;
        while (!stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptAsync(stopping).ConfigureAwait(false);
                backoff = TimeSpan.Zero;
            }
            catch (Exception) when (stopping.IsCancellationRequested)
            {
                break;
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted)
            {
                continue;
            }
#pragma warning disable CA1031 // Out of descriptors (or anything else): back off and keep serving.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                backoff = backoff == TimeSpan.Zero ? TimeSpan.FromMilliseconds(10) : TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, s_maxBackoff.Ticks));
                InspectorLog.AcceptFailed(Logger, ex.Message, (long)backoff.TotalMilliseconds);
                try
                {
                    await Task.Delay(backoff, Options.TimeProvider, stopping).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
                continue;
            }
            if (_connections.Count >= Options.MaxConnections)
            {
                InspectorLog.ConnectionLimit(Logger, Options.MaxConnections);
                socket.Dispose();
                continue;
            }
            socket.NoDelay = true;
            var connection = new InspectorConnection(this, socket, Interlocked.Increment(ref _connectionIds));
            var running = RunConnectionAsync(connection, stopping);
            _connections[connection] = running;
            if (running.IsCompleted)
            {
                // It ended before it was listed: its own removal found nothing to remove.
                _connections.TryRemove(connection, out _);
            }
        }
    }

    private async Task RunConnectionAsync(InspectorConnection connection, CancellationToken stopping)
    {
        await Task.Yield();
        try
        {
            await connection.RunAsync(stopping).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // A connection's unexpected failure ends that connection only.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            InspectorLog.ConnectionEnded(Logger, connection.Id, ex.Message);
        }
        finally
        {
            _connections.TryRemove(connection, out _);
        }
    }
}
