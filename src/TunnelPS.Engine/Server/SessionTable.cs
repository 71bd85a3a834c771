using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using TunnelPS.Engine.Diagnostics;
using TunnelPS.Engine.Protocol;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Server;

/// <summary>
/// The logged-in clients. Logins are checked (protocol version, token, the server's and the token's session limits);
/// session ids (ClientIds) are issued by the server and kept secret, and a client-supplied id is honoured only for a
/// reconnect with the token that owned it. Proxy connections are admitted only for a session that asked for them, with
/// the session's key (TunnelPS clients) or from the control connection's address (ngrok 1.x clients).
/// </summary>
internal sealed class SessionTable
{
    /// <summary>Ended sessions remembered for their client's reconnect, at most (the oldest is forgotten first).</summary>
    internal const int DefaultRememberedLimit = 100_000;

    private readonly TunnelServer _server;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, ControlSession> _live = new(StringComparer.Ordinal);
    private readonly object _gate = new();
    private readonly Dictionary<string, int> _perTenant = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (string Tenant, DateTimeOffset Until)> _ended = new(StringComparer.Ordinal);
    private readonly Queue<string> _endedOrder = new();

    public SessionTable(TunnelServer server, ILogger logger)
    {
        _server = server;
        _logger = logger;
    }

    public int Count => _live.Count;

    /// <summary>How many ended sessions are remembered at most; tests lower it.</summary>
    internal int RememberedLimit { get; set; } = DefaultRememberedLimit;

    /// <summary>Ended sessions remembered now.</summary>
    internal int RememberedCount
    {
        get
        {
            lock (_gate)
            {
                return _ended.Count;
            }
        }
    }

    public IEnumerable<ControlSession> All => _live.Values;

    /// <summary>Runs a control connection whose first frame was Auth: refuses it with a reason, or serves the session until it ends.</summary>
    public async Task LoginAsync(Stream stream, Auth auth, EndPoint? remote, long connectionId, ConnectionLimiter.ConnectionSlot slot)
    {
        var remoteText = ListenerSocket.Describe(remote);
        var tenant = _server.Tenants.Authenticate(auth.User);
        ControlSession? session = null;
        ControlSession? replaced = null;
        var refusal = CredentialRefusal(auth, tenant) ?? Admit(stream, auth, tenant!, remote, connectionId, out session, out replaced);
        if (refusal is { } refused)
        {
            WarnRefused(refused.Kind, remote, suppressed => ServerLog.LoginRefused(_logger, connectionId, remoteText, refused.Kind, refused.AdminReason, suppressed));
            try
            {
                await FrameCodec.WriteAsync(stream, new AuthResp { Error = refused.Message }, CancellationToken.None).ConfigureAwait(false);
            }
            finally
            {
                await stream.DisposeAsync().ConfigureAwait(false);
            }
            return;
        }
        if (_server.Cluster is { } cluster && await cluster.AdmitSessionAsync(session!).ConfigureAwait(false) is { } clusterRefusal)
        {
            // Over the token's limit across the cluster: this login is undone (a replaced session is the same client's,
            // counted already, so it never ends up here).
            Forget(session!);
            WarnRefused("limit", remote, suppressed => ServerLog.LoginRefused(_logger, connectionId, remoteText, "limit", clusterRefusal, suppressed));
            try
            {
                await FrameCodec.WriteAsync(stream, new AuthResp { Error = clusterRefusal }, CancellationToken.None).ConfigureAwait(false);
            }
            finally
            {
                await session!.DisposeAsync().ConfigureAwait(false);
            }
            return;
        }
        replaced?.End("replaced by a new login of the same client");
        slot.Authenticated();
        ServerLog.ClientLoggedIn(_logger, connectionId, session!.Label, tenant!.Name, remoteText, auth.OS, auth.Arch, auth.MmVersion);
        await session.RunAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Why a login is refused: what the client is told, the kind (one warning per kind and address at most every 10 s)
    /// and the reason for the server's admin.
    /// </summary>
    private readonly record struct LoginRefusal(string Message, string Kind, string AdminReason);

    /// <summary>A refusal for the protocol version or the token, or null when the client may log in as <paramref name="tenant"/>.</summary>
    private LoginRefusal? CredentialRefusal(Auth auth, Tenant? tenant)
    {
        if (auth.Version != ProtocolVersion.Current)
        {
            return new(
                $"Incompatible protocol version: this server speaks version {ProtocolVersion.Current}, the client sent '{auth.Version}'. Use an ngrok 1.x compatible client.",
                "protocol version",
                $"the client speaks protocol version '{auth.Version}', this server {ProtocolVersion.Current}");
        }
        if (tenant is null && string.IsNullOrEmpty(auth.User))
        {
            return new(
                "This server needs an auth token and none was given. Give it with -AuthToken, or save it once with Set-TunnelAuthToken (authtoken in the config file).",
                "no token",
                "the client gave no auth token");
        }
        if (tenant is null)
        {
            return new(
                "The auth token was refused by the server. Check the token given with -AuthToken (or saved with Set-TunnelAuthToken: authtoken in the config file).",
                "wrong token",
                $"its auth token matches none of this server's tokens ({_server.Tenants.Source})");
        }
        return null;
    }

    /// <summary>
    /// Counts the login against its token's and the server's session limits and registers its session (replacing the
    /// same client's earlier one, whose names are reserved for it at once); a refusal when a limit is reached.
    /// </summary>
    private LoginRefusal? Admit(Stream stream, Auth auth, Tenant tenant, EndPoint? remote, long connectionId, out ControlSession? session, out ControlSession? replaced)
    {
        session = null;
        lock (_gate)
        {
            var clientId = ChooseClientId(auth.ClientId, tenant, out replaced);
            var held = _perTenant.GetValueOrDefault(tenant.Key) - (replaced is null ? 0 : 1);
            var total = _live.Count - (replaced is null ? 0 : 1);
            if (held >= tenant.MaxSessions)
            {
                replaced = null;
                return new(
                    string.Create(CultureInfo.InvariantCulture, $"This token already has {held} clients connected, the most it may have. Stop one of them, or ask the server's admin for a higher limit."),
                    "limit",
                    string.Create(CultureInfo.InvariantCulture, $"token '{tenant.Name}' already has {held} clients connected, its limit (-MaxSessionsPerToken, or max_sessions of the token in the token file)"));
            }
            if (total >= _server.Options.MaxSessions)
            {
                replaced = null;
                return new(
                    string.Create(CultureInfo.InvariantCulture, $"The server already serves {_server.Options.MaxSessions} clients, its limit. Try again later."),
                    "limit",
                    string.Create(CultureInfo.InvariantCulture, $"the server already serves {_server.Options.MaxSessions} clients, its limit (-MaxSessions)"));
            }
            session = new ControlSession(_server, stream, auth, clientId, tenant, remote, connectionId, _logger);
            if (replaced is not null)
            {
                // The reconnecting client's names must be free for it before its tunnel requests arrive.
                _live.TryRemove(new KeyValuePair<string, ControlSession>(clientId, replaced));
                _server.ReserveTunnels(replaced);
            }
            _live[clientId] = session;
            _perTenant[tenant.Key] = _perTenant.GetValueOrDefault(tenant.Key) + 1;
            return null;
        }
    }

    /// <summary>
    /// Writes a refused login's warning at most once every 10 seconds per kind and client address (IP, not port), so a
    /// flood from one address shows one line per kind with a count of those left out, and does not hide another
    /// address's refusals. The throttle holds a bounded number of keys; past it, refusals share one key per kind.
    /// </summary>
    private void WarnRefused(string kind, EndPoint? remote, Action<long> write)
    {
        string address = remote is IPEndPoint ip ? ip.Address.ToString() : ListenerSocket.Describe(remote);
        _server.Connections.Throttle.Warn("login " + kind + " " + address, "login " + kind, write);
    }

    /// <summary>
    /// The session id for a login: the client's previous one when the same tenant held it (a live session it
    /// replaces, or one that ended within the reconnect grace), a new random one otherwise. Call under the lock.
    /// </summary>
    private string ChooseClientId(string requested, Tenant tenant, out ControlSession? replaced)
    {
        replaced = null;
        if (IsValidClientId(requested))
        {
            if (_live.TryGetValue(requested, out var live))
            {
                if (live.Tenant.Key == tenant.Key)
                {
                    replaced = live;
                    return requested;
                }
            }
            else if (_ended.TryGetValue(requested, out var ended) && ended.Tenant == tenant.Key && ended.Until > _server.Options.TimeProvider.GetUtcNow())
            {
                return requested;
            }
        }
        string id;
        do
        {
            id = Convert.ToHexString(RandomNumberGenerator.GetBytes(16)).ToLowerInvariant();
        }
        while (_live.ContainsKey(id) || _ended.ContainsKey(id));
        return id;
    }

    private static bool IsValidClientId(string? id) => id is { Length: >= 8 and <= 64 } && id.All(char.IsAsciiLetterOrDigit);

    /// <summary>
    /// Takes a connection whose first frame was RegProxy into its session's pool, or refuses it (the caller closes
    /// it). Returns true when the pool owns the connection.
    /// </summary>
    public bool AdmitProxy(Stream stream, RegProxy reg, EndPoint? remote, long connectionId, ConnectionLimiter.ConnectionSlot slot)
    {
        string? problem;
        ControlSession? session = null;
        if (string.IsNullOrEmpty(reg.ClientId) || !_live.TryGetValue(reg.ClientId, out session))
        {
            problem = "no session has that id";
        }
        else
        {
            problem = session.ProxyCredentialProblem(reg, (remote as IPEndPoint)?.Address);
            if (problem is null && !session.Pool.TryRedeemTicket())
            {
                problem = "the server did not ask for it";
            }
        }
        if (problem is not null || session is null)
        {
            TunnelMetrics.RefusedProxyConnections.Add(1);
            var reason = problem ?? "refused";
            _server.Connections.Throttle.Warn("proxy", suppressed =>
                ServerLog.ProxyRefused(_logger, connectionId, ListenerSocket.Describe(remote), reason, suppressed));
            return false;
        }
        slot.Authenticated();
        slot.HandOff();
        session.Pool.Offer(stream, slot.Release);
        return true;
    }

    /// <summary>
    /// Serves a connection whose first frame was RegLink: a multiplexed link of a session that negotiated them, proven
    /// with the session's key. Returns when the link ends (the connection keeps its place in the limits until then).
    /// </summary>
    public async Task RunLinkAsync(Stream stream, RegLink reg, EndPoint? remote, long connectionId, ConnectionLimiter.ConnectionSlot slot)
    {
        string? problem;
        ControlSession? session = null;
        if (string.IsNullOrEmpty(reg.ClientId) || !_live.TryGetValue(reg.ClientId, out session))
        {
            problem = "no session has that id";
        }
        else
        {
            problem = session.LinkCredentialProblem(reg);
        }
        MuxLink? link = null;
        if (problem is null && session is not null)
        {
            link = new MuxLink(stream, _server.Options.StreamWindow, onOpen: null, track: _server.Track, _server.LinkLimits(session.Label));
            if (!session.TryAddLink(link))
            {
                problem = "the session has as many links as it may";
                link = null;
            }
        }
        if (link is null)
        {
            TunnelMetrics.RefusedProxyConnections.Add(1);
            var reason = problem ?? "refused";
            _server.Connections.Throttle.Warn("proxy", suppressed =>
                ServerLog.ProxyRefused(_logger, connectionId, ListenerSocket.Describe(remote), reason, suppressed));
            await stream.DisposeAsync().ConfigureAwait(false);
            return;
        }
        slot.Authenticated();
        link.Start();
        var ended = await link.Completion.ConfigureAwait(false);
        ServerLog.ConnectionClosed(_logger, connectionId, ListenerSocket.Describe(remote), "multiplexed link ended: " + ended);
    }

    /// <summary>Undoes the admission of a session that never ran.</summary>
    private void Forget(ControlSession session)
    {
        lock (_gate)
        {
            if (_live.TryRemove(new KeyValuePair<string, ControlSession>(session.ClientId, session)))
            {
                var left = _perTenant.GetValueOrDefault(session.Tenant.Key) - 1;
                if (left <= 0)
                {
                    _perTenant.Remove(session.Tenant.Key);
                }
                else
                {
                    _perTenant[session.Tenant.Key] = left;
                }
            }
        }
    }

    /// <summary>A session's run ended: forget it, keep its id for the client's reconnect, reserve its names.</summary>
    public void OnSessionEnded(ControlSession session)
    {
        var until = _server.Options.TimeProvider.GetUtcNow() + _server.Options.ReconnectGrace;
        lock (_gate)
        {
            _live.TryRemove(new KeyValuePair<string, ControlSession>(session.ClientId, session));
            var left = _perTenant.GetValueOrDefault(session.Tenant.Key) - 1;
            if (left <= 0)
            {
                _perTenant.Remove(session.Tenant.Key);
            }
            else
            {
                _perTenant[session.Tenant.Key] = left;
            }
            _ended[session.ClientId] = (session.Tenant.Key, until);
            _endedOrder.Enqueue(session.ClientId);
            while (_endedOrder.Count > RememberedLimit && _endedOrder.TryDequeue(out var oldest))
            {
                TunnelMetrics.LimitReached("remembered_sessions");
                _ended.Remove(oldest);
            }
        }
        _server.ReserveTunnels(session);
        if (_server.Cluster is { } cluster && !_live.ContainsKey(session.ClientId))
        {
            // Not when a new login of the same client replaced it: that one is counted under the same id.
            cluster.EndSession(session);
        }
    }

    /// <summary>Ends sessions whose heartbeat stopped, recycles the others' pools, forgets ended sessions past their grace.</summary>
    public void CheckHeartbeats(bool recycle)
    {
        var options = _server.Options;
        foreach (var (_, session) in _live)
        {
            if (session.HeartbeatExpired(options.TimeProvider, options.HeartbeatTimeout))
            {
                session.End(string.Create(CultureInfo.InvariantCulture, $"no heartbeat for {options.HeartbeatTimeout.TotalSeconds:0} s"));
            }
            else if (recycle && !session.UsesLinks)
            {
                // A session on multiplexed links has no pool: refilling it would have the client dial connections nobody uses.
                session.Pool.Recycle();
            }
        }
        var now = options.TimeProvider.GetUtcNow();
        lock (_gate)
        {
            while (_endedOrder.TryPeek(out var oldest))
            {
                if (_ended.TryGetValue(oldest, out var ended) && ended.Until > now)
                {
                    break;
                }
                _endedOrder.Dequeue();
                if (_ended.TryGetValue(oldest, out var stale) && stale.Until <= now)
                {
                    _ended.Remove(oldest);
                }
            }
        }
    }

    /// <summary>Ends every session of a tenant (its token was revoked).</summary>
    public void EndTenant(string tenantKey, string reason)
    {
        foreach (var (_, session) in _live)
        {
            if (session.Tenant.Key == tenantKey)
            {
                session.End(reason);
            }
        }
    }

    public void EndAll(string reason)
    {
        foreach (var (_, session) in _live)
        {
            session.End(reason);
        }
    }
}
