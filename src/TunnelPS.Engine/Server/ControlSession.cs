using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using TunnelPS.Engine.Cluster;
using TunnelPS.Engine.Diagnostics;
using TunnelPS.Engine.Protocol;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Server;

/// <summary>
/// One logged-in client: its control connection (a receive loop and a send loop), its tenant, its tunnels, its proxy
/// pool and its heartbeat. It ends on a protocol error, a missed heartbeat, a replacing login, a revoked token or server
/// shutdown, and on ending keeps its names reserved for its tenant's reconnect.
/// </summary>
internal sealed class ControlSession : IAsyncDisposable, IClusterSession
{
    private readonly TunnelServer _server;
    private readonly Stream _stream;
    private readonly Channel<Message> _outbox = Channel.CreateBounded<Message>(new BoundedChannelOptions(1024) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    private readonly CancellationTokenSource _stop = new();
    private readonly List<RegisteredTunnel> _tunnels = [];
    private readonly object _gate = new();
    private readonly ILogger _logger;
    private readonly byte[]? _proxyKeyHash;
    private readonly SessionLinks _links;
    private long _lastPingTicks;
    private string _endReason = "closed";

    public ControlSession(TunnelServer server, Stream stream, Auth auth, string clientId, Tenant tenant, EndPoint? remote, long connectionId, ILogger logger)
    {
        _server = server;
        _stream = stream;
        Auth = auth;
        ClientId = clientId;
        Label = SessionLabel.Of(clientId);
        Tenant = tenant;
        RemoteAddress = ListenerSocket.Describe(remote);
        RemoteIP = (remote as IPEndPoint)?.Address is { } ip ? (ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip) : null;
        ConnectionId = connectionId;
        _logger = logger;
        _links = new SessionLinks(server, logger, connectionId, Label);
        IsTunnelPSPeer = auth.Capabilities?.Contains(ProtocolVersion.TunnelPSCapability) == true;
        if (auth.Capabilities?.Contains(ProtocolVersion.ProxyKeyCapability) == true)
        {
            ProxyKey = Convert.ToHexString(RandomNumberGenerator.GetBytes(32)).ToLowerInvariant();
            _proxyKeyHash = SHA256.HashData(Encoding.UTF8.GetBytes(ProxyKey));
            UsesLinks = server.Options.EnableMultiplexing && auth.Capabilities.Contains(ProtocolVersion.MuxCapability);
        }
        Pool = new ProxyConnectionPool(server.Options.PoolSize, server.Options.PoolRecycleAge, server.Options.ProxyDialTimeout, server.Options.TimeProvider,
            () => _outbox.Writer.TryWrite(new ReqProxy()),
            ex => ServerLifecycleLog.PoolFillFailed(_logger, ConnectionId, Label, ex.Message));
        _lastPingTicks = server.Options.TimeProvider.GetTimestamp();
    }

    public Auth Auth { get; }

    /// <summary>The session id: a secret the client presents on proxy connections and reconnects. Never logged or shown.</summary>
    public string ClientId { get; }

    /// <summary>What logs and Get-TunnelServer show for the session: a short, non-reversible label of its id.</summary>
    public string Label { get; }

    /// <summary>The tenant (token) the session logged in with.</summary>
    public Tenant Tenant { get; }

    string IClusterSession.TenantKey => Tenant.Key;
    string IClusterSession.TenantName => Tenant.Name;
    int IClusterSession.MaxSessions => Tenant.MaxSessions;
    int IClusterSession.MaxTcpPorts => Tenant.MaxTcpPorts;
    string IClusterSession.PresentedClientId => Auth.ClientId;

    /// <summary>The key a TunnelPS client proves its proxy connections with; null for clients without the capability.</summary>
    public string? ProxyKey { get; }

    /// <summary>True when visitors travel as streams over the client's multiplexed links instead of pooled connections.</summary>
    public bool UsesLinks { get; }

    /// <summary>Multiplexed links open now.</summary>
    public int LinkCount => _links.Count;

    public string RemoteAddress { get; }

    /// <summary>The control connection's source address (IPv4-mapped addresses as IPv4).</summary>
    public IPAddress? RemoteIP { get; }
    public long ConnectionId { get; }
    public bool IsTunnelPSPeer { get; }
    public ProxyConnectionPool Pool { get; }
    public CancellationToken Stopping => _stop.Token;

    public IReadOnlyList<RegisteredTunnel> Tunnels
    {
        get
        {
            lock (_gate)
            {
                return [.. _tunnels];
            }
        }
    }

    /// <summary>Runs the session until it ends. Never throws.</summary>
    public async Task RunAsync()
    {
        var token = _stop.Token;
        var sendLoop = SendLoopAsync(token);
        try
        {
            await SendAsync(new AuthResp
            {
                ClientId = ClientId,
                Capabilities = ProxyKey is null
                    ? [ProtocolVersion.TunnelPSCapability, ProtocolVersion.IPRulesCapability]
                    : UsesLinks
                        ? [ProtocolVersion.TunnelPSCapability, ProtocolVersion.IPRulesCapability, ProtocolVersion.ProxyKeyCapability, ProtocolVersion.MuxCapability]
                        : [ProtocolVersion.TunnelPSCapability, ProtocolVersion.IPRulesCapability, ProtocolVersion.ProxyKeyCapability],
                ProxyKey = ProxyKey,
            }).ConfigureAwait(false);
            TunnelMetrics.Sessions.Add(1);
            if (!UsesLinks)
            {
                // Warm the pool before the first visitor: ngrok 1.x asks for one; TunnelPS keeps the target size.
                Pool.Fill();
            }
            await ReceiveLoopAsync(token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // Ended from this side (End, a stop): _endReason already says why, and the end is logged below.
            ServerLifecycleLog.ReceiveLoopStopped(_logger, ConnectionId, Label);
        }
        catch (Exception ex) when (ex is IOException or ProtocolException or ObjectDisposedException or System.Net.Sockets.SocketException or InvalidOperationException)
        {
            _endReason = ex.Message;
        }
        finally
        {
            await _stop.CancelAsync().ConfigureAwait(false);
            _outbox.Writer.TryComplete();
            try
            {
                await sendLoop.ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException or System.Net.Sockets.SocketException or InvalidOperationException)
            {
                ServerLifecycleLog.SendLoopEnded(_logger, ConnectionId, Label, ex.Message);
            }
            TunnelMetrics.Sessions.Add(-1);
            await DisposeAsync().ConfigureAwait(false);
            ServerLog.SessionEnded(_logger, ConnectionId, Label, _endReason);
            _server.Sessions.OnSessionEnded(this);
        }
    }

    /// <summary>Ends the session (replacing login, missed heartbeat, revoked token, shutdown).</summary>
    public void End(string reason)
    {
        _endReason = reason;
        try
        {
            _stop.Cancel();
        }
        catch (ObjectDisposedException)
        {
            ServerLifecycleLog.EndedTwice(_logger, ConnectionId, Label, reason);
        }
        _stream.Dispose();
    }

    /// <summary>Most multiplexed links one session may hold.</summary>
    public const int MaxLinks = SessionLinks.MaxLinks;

    /// <summary>Adds a multiplexed link the client opened; false when the session has its most links or has ended.</summary>
    public bool TryAddLink(MuxLink link) => !_stop.IsCancellationRequested && _links.TryAdd(link);

    /// <summary>
    /// A connection to the client for one visitor of <paramref name="url"/>: a new stream on the least busy multiplexed
    /// link (no round trip), or a pooled proxy connection plus the StartProxy frame to send first. Waits up to
    /// <paramref name="timeout"/> when none is ready; null when none came.
    /// </summary>
    public async Task<ProxyConnection?> OpenProxyAsync(string url, string clientAddress, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (!UsesLinks)
        {
            var pooled = await Pool.TakeAsync(timeout, cancellationToken).ConfigureAwait(false);
            return pooled is null ? null : new ProxyConnection(pooled, FrameCodec.Encode(new StartProxy { Url = url, ClientAddr = clientAddress }));
        }
        var stream = await _links.OpenStreamAsync(url, clientAddress, timeout, cancellationToken).ConfigureAwait(false);
        return stream is null ? null : new ProxyConnection(stream, null);
    }

    /// <summary>
    /// Why a RegProxy does not prove it belongs to this session, or null when it does: a TunnelPS client must present
    /// the session's key; an ngrok 1.x client (no key) must come from the control connection's address.
    /// </summary>
    public string? ProxyCredentialProblem(RegProxy reg, IPAddress? source)
    {
        if (_proxyKeyHash is not null)
        {
            var given = SHA256.HashData(Encoding.UTF8.GetBytes(reg.ProxyKey ?? ""));
            return CryptographicOperations.FixedTimeEquals(given, _proxyKeyHash) ? null : "its proxy key does not match the session's";
        }
        if (source is null || RemoteIP is null)
        {
            return "its address is unknown";
        }
        var normalized = source.IsIPv4MappedToIPv6 ? source.MapToIPv4() : source;
        return normalized.Equals(RemoteIP) ? null : "it does not come from the address of the session's control connection";
    }

    /// <summary>Queues a message for the send loop.</summary>
    public ValueTask SendAsync(Message message) => _outbox.Writer.WriteAsync(message, _stop.Token);

    /// <summary>True when no Ping arrived within the heartbeat timeout.</summary>
    public bool HeartbeatExpired(TimeProvider time, TimeSpan timeout) =>
        time.GetElapsedTime(Interlocked.Read(ref _lastPingTicks)) > timeout;

    private async Task SendLoopAsync(CancellationToken token)
    {
        // Coalesces queued frames into one write (one TLS record) when several are ready.
        var batch = new MemoryStream();
        try
        {
            while (await _outbox.Reader.WaitToReadAsync(token).ConfigureAwait(false))
            {
                batch.SetLength(0);
                while (batch.Length < 8192 && _outbox.Reader.TryRead(out var message))
                {
                    batch.Write(FrameCodec.Encode(message));
                }
                await _stream.WriteAsync(batch.GetBuffer().AsMemory(0, (int)batch.Length), token).ConfigureAwait(false);
                await _stream.FlushAsync(token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or System.Net.Sockets.SocketException)
        {
            _endReason = ex.Message;
            await _stop.CancelAsync().ConfigureAwait(false);
        }
    }

    private async Task ReceiveLoopAsync(CancellationToken token)
    {
        while (!token.IsCancellationRequested)
        {
            var message = await FrameCodec.ReadAsync(_stream, token).ConfigureAwait(false);
            switch (message)
            {
                case null:
                    _endReason = "the client closed the control connection";
                    return;
                case Ping:
                    Interlocked.Exchange(ref _lastPingTicks, _server.Options.TimeProvider.GetTimestamp());
                    await SendAsync(new Pong()).ConfigureAwait(false);
                    break;
                case ReqTunnel request:
                    await OpenTunnelsAsync(request).ConfigureAwait(false);
                    break;
                case CloseTunnel close:
                    CloseTunnel(close.Url);
                    break;
                default:
                    throw new ProtocolException($"Unexpected {message.Type} message on a control connection.");
            }
        }
    }

    private async Task OpenTunnelsAsync(ReqTunnel request)
    {
        var protocols = request.Protocol.Split('+', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (protocols.Length == 0)
        {
            await RefuseAsync(request.ReqId, request.Protocol, "The tunnel request names no protocol; use http, https, tcp or http+https.").ConfigureAwait(false);
            return;
        }
        var effective = request;
        foreach (var protocol in protocols)
        {
            string? error;
            RegisteredTunnel? tunnel;
            lock (_gate)
            {
                if (_tunnels.Count >= Tenant.MaxTunnelsPerSession)
                {
                    error = string.Create(CultureInfo.InvariantCulture, $"This client already holds {_tunnels.Count} tunnels, the most one client may open.");
                    tunnel = null;
                }
                else
                {
                    error = null;
                    tunnel = null;
                }
            }
            if (error is null)
            {
                (tunnel, error) = await _server.Registrar.RegisterAsync(this, protocol.ToLowerInvariant(), effective).ConfigureAwait(false);
            }
            if (tunnel is null)
            {
                ServerLog.TunnelRefused(_logger, ConnectionId, Label, error!);
                await RefuseAsync(request.ReqId, protocol, error!).ConfigureAwait(false);
                // ngrok 1.x stops at the first failure of a "+"-joined request.
                return;
            }
            lock (_gate)
            {
                _tunnels.Add(tunnel);
            }
            if (tunnel.Protocol is "http" or "https")
            {
                // "http+https" serves one host name on both schemes.
                effective = request with { Hostname = tunnel.Host, Subdomain = "" };
            }
            ServerLog.TunnelOpened(_logger, ConnectionId, tunnel.Url, Label);
            await SendAsync(new NewTunnel { ReqId = request.ReqId, Url = tunnel.Url, Protocol = tunnel.Protocol }).ConfigureAwait(false);
        }
    }

    private ValueTask RefuseAsync(string reqId, string protocol, string error) =>
        SendAsync(new NewTunnel { ReqId = reqId, Protocol = protocol, Error = error });

    private void CloseTunnel(string url)
    {
        RegisteredTunnel? tunnel;
        lock (_gate)
        {
            tunnel = _tunnels.Find(t => string.Equals(t.Url, url, StringComparison.OrdinalIgnoreCase));
            if (tunnel is not null)
            {
                _tunnels.Remove(tunnel);
            }
        }
        if (tunnel is not null)
        {
            _server.ReleaseTunnel(tunnel);
            ServerLog.TunnelClosed(_logger, ConnectionId, url);
        }
    }

    /// <summary>Test hook: closes every multiplexed link, as a network failure would.</summary>
    internal void CloseLinksForTest() => _links.CloseAllForTest();

    /// <summary>
    /// Why a RegLink does not prove it belongs to this session, or null: a link needs the session's key, and a session
    /// that negotiated links.
    /// </summary>
    public string? LinkCredentialProblem(RegLink reg)
    {
        if (!UsesLinks || _proxyKeyHash is null)
        {
            return "the session did not negotiate multiplexed links";
        }
        var given = SHA256.HashData(Encoding.UTF8.GetBytes(reg.ProxyKey ?? ""));
        return CryptographicOperations.FixedTimeEquals(given, _proxyKeyHash) ? null : "its proxy key does not match the session's";
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _links.DisposeAsync().ConfigureAwait(false);
        Pool.Dispose();
        await _stream.DisposeAsync().ConfigureAwait(false);
    }
}
