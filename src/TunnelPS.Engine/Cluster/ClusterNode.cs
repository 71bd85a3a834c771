using System.Globalization;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using TunnelPS.Engine.Configuration;
using TunnelPS.Engine.Diagnostics;

namespace TunnelPS.Engine.Cluster;

/// <summary>
/// A server's membership of a cluster: it claims every name and TCP port in the cluster store before a client gets
/// it, reserves them when the client goes (for its reconnect on any node), releases them when the client closes them,
/// and announces the node with a heartbeat that also renews the leases of the tunnels it serves. Lease writes run in
/// the order they were asked for, so a session's reservation never lands after its successor's claim.
/// </summary>
internal sealed class ClusterNode : IAsyncDisposable
{
    private readonly IClusterHost _host;
    private readonly IClusterStore _store;
    private readonly ILogger _logger;
    private readonly byte[] _tenantKey;
    private readonly object _gate = new();
    private Task _tail = Task.CompletedTask;
    private volatile bool _storeDown;
    private volatile bool _abandoned;
    private volatile bool _reservationsStale = true;
    private long _lastHeartbeat;
    private readonly TaskCompletionSource _reservationsPublished = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ClusterNode(IClusterHost host, ClusterOptions options, IClusterStore store, ILogger logger)
    {
        _host = host;
        Options = options;
        _store = store;
        _logger = logger;
        Name = options.NodeName;
        Run = Convert.ToHexString(RandomNumberGenerator.GetBytes(8)).ToLowerInvariant();
        Address = options.NodeAddress ?? host.ServerAddress;
        _tenantKey = SHA256.HashData(Encoding.UTF8.GetBytes("tunnelps-cluster-tenant:" + options.Secret));
        Links = new NodeLinks(host, this, options.Secret, logger);
        Router = new ClusterRouter(this, host.Time);
        _lastHeartbeat = host.Time.GetTimestamp();
    }

    /// <summary>The links to the other nodes (visitor forwarding).</summary>
    public NodeLinks Links { get; }

    /// <summary>Where visitors for names this node does not serve go (the route cache in front of the store).</summary>
    public ClusterRouter Router { get; }

    public ClusterOptions Options { get; }
    public string Name { get; }

    /// <summary>This run of the node: a restarted node has a new one, so its old run's leases count as a stopped node's.</summary>
    public string Run { get; }

    /// <summary>Where other nodes reach this one.</summary>
    public string Address { get; }

    public string StoreDescription => _store.Description;

    /// <summary>The node's log (the router and the links write to it).</summary>
    internal ILogger Logger => _logger;

    /// <summary>The store, unless a test made this node abandon it (a crash: nothing more is written).</summary>
    private IClusterStore Store => _abandoned ? throw new ClusterStoreException("this node abandoned the cluster store (a test's crash)") : _store;

    /// <summary>Test hook: from now on the node writes nothing to the cluster store, as if its process had died.</summary>
    internal void AbandonStoreForTest() => _abandoned = true;

    /// <summary>False from a failed heartbeat until one succeeds again.</summary>
    public bool StoreReachable => !_storeDown;

    /// <summary>Connects to the cluster store (the only place that names the Redis client, so it loads only for a cluster).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static Task<IClusterStore> ConnectStoreAsync(ClusterOptions options, TimeProvider time, CancellationToken cancellationToken) =>
        RedisClusterStore.ConnectAsync(options, time, cancellationToken);

    /// <summary>
    /// The lease a tunnel of <paramref name="session"/> holds for <paramref name="key"/>, claimed now; the other scheme
    /// of the same host, already held by the same session, shares its lease (and its claim time).
    /// </summary>
    private ClusterLease LeaseFor(IClusterSession session, IClusterTunnel tunnel, string key)
    {
        if (tunnel.Protocol != "tcp" && _host.FindHttp(tunnel.Protocol == "http" ? "https" : "http", tunnel.Host) is { ClusterLease: { } shared } other &&
            ReferenceEquals(other.ClusterSession, session) && shared.Key == key)
        {
            return shared;
        }
        return new(key, TenantHash(session.TenantKey), SessionHash(session.ClientId), Name, Run,
            _host.Time.GetUtcNow().ToUnixTimeMilliseconds(), PreviousSessionHash(session));
    }

    /// <summary>What the cluster store keeps of a tenant: an HMAC of its key under the cluster secret.</summary>
    private string TenantHash(string tenantKey)
    {
        Span<byte> tenant = stackalloc byte[32];
        HMACSHA256.HashData(_tenantKey, Encoding.UTF8.GetBytes(tenantKey), tenant);
        return Convert.ToHexString(tenant[..16]).ToLowerInvariant();
    }

    /// <summary>The session id the client had before this login (it proves the earlier session was its own), hashed; "" for none.</summary>
    private static string PreviousSessionHash(IClusterSession session) =>
        session.PresentedClientId is { Length: >= 8 and <= 64 } old && old != session.ClientId && old.All(char.IsAsciiLetterOrDigit) ? SessionHash(old) : "";

    /// <summary>
    /// Counts a new session against its token's session limit across the cluster; null when admitted, or the refusal.
    /// When the store does not answer, the login is admitted (this node's own limit still holds).
    /// </summary>
    public async Task<string?> AdmitSessionAsync(IClusterSession session)
    {
        try
        {
            var admitted = await Enqueue(() => Store.AdmitSessionAsync(TenantHash(session.TenantKey), SessionHash(session.ClientId), PreviousSessionHash(session),
                Name + "|" + Run, session.MaxSessions, Options.NodeTimeout, CancellationToken.None)).ConfigureAwait(false);
            return admitted
                ? null
                : string.Create(CultureInfo.InvariantCulture, $"This token already has {session.MaxSessions} clients connected across the cluster, the most it may have. Stop one of them, or ask the server's admin for a higher limit.");
        }
        catch (ClusterStoreException ex)
        {
            ClusterLog.LeaseWriteFailed(_logger, "count", "a session of " + session.TenantName, ex.Message);
            return null;
        }
    }

    /// <summary>Stops counting an ended session.</summary>
    public void EndSession(IClusterSession session)
    {
        var tenant = TenantHash(session.TenantKey);
        var id = SessionHash(session.ClientId);
        _host.Track(Write("end", new ClusterLease("session:" + id, tenant, id, Name, Run), () => Store.EndSessionAsync(tenant, id, CancellationToken.None)));
    }

    /// <summary>What the cluster store keeps of a session id: a hash (the id is a secret).</summary>
    private static string SessionHash(string clientId)
    {
        Span<byte> id = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(clientId), id);
        return Convert.ToHexString(id[..16]).ToLowerInvariant();
    }

    /// <summary>
    /// Claims a tunnel's name (or port) in the cluster; null when it is the tunnel's now, or the error for its client
    /// (the same words a single server uses, or why the cluster store cannot decide).
    /// </summary>
    public async Task<string?> ClaimAsync(IClusterTunnel tunnel, IClusterSession session)
    {
        var tcp = tunnel.Protocol == "tcp";
        // A client that moved from another node presents its id there (the lease's Previous); the lease of that session is its own.
        var lease = LeaseFor(session, tunnel, tcp ? ClusterLease.TcpKey(tunnel.Port) : ClusterLease.HostKey(tunnel.Host));
        var parents = tcp ? [] : HostNames.Parents(tunnel.Host).ToList();
        (ClusterClaimResult Result, string? Conflict, StoredLease? Holder) answer;
        try
        {
            answer = await Enqueue(() => Store.ClaimAsync(lease, parents, session.MaxTcpPorts, _host.ReconnectGrace, null, CancellationToken.None)).ConfigureAwait(false);
            if (answer.Holder is { Forgery: { } why } forged)
            {
                // Not signed under the cluster secret: written by a client of the store, not by a node. Not obeyed.
                ReportForgery(lease.Key, forged.Node, why);
                answer = await Enqueue(() => Store.ClaimAsync(lease, parents, session.MaxTcpPorts, _host.ReconnectGrace, forged.Value, CancellationToken.None)).ConfigureAwait(false);
            }
        }
        catch (ClusterStoreException ex)
        {
            return $"The tunnel {tunnel.Url} cannot be registered now: the cluster's store does not answer ({ex.Message}). Tunnels already open keep serving; try again when it is back.";
        }
        if (answer.Result == ClusterClaimResult.Claimed)
        {
            tunnel.ClusterLease = lease;
            return null;
        }
        return answer.Result switch
        {
            ClusterClaimResult.OtherTenant when tcp => string.Create(CultureInfo.InvariantCulture, $"The remote port {tunnel.Port} is already used by another tunnel."),
            ClusterClaimResult.OtherTenant => $"The tunnel {tunnel.Url} is already registered by another client. Choose another -Subdomain or -Hostname.",
            ClusterClaimResult.OtherSession when tcp => string.Create(CultureInfo.InvariantCulture, $"The remote port {tunnel.Port} is already used by another tunnel."),
            ClusterClaimResult.OtherSession => $"The tunnel {tunnel.Url} is already open in another session of the same token. Stop that tunnel first (Stop-Tunnel), or choose another name.",
            ClusterClaimResult.LimitReached => string.Create(CultureInfo.InvariantCulture, $"This token already holds {session.MaxTcpPorts} TCP ports across the cluster, the most it may have. Close a tcp tunnel first, or ask the server's admin for a higher limit."),
            ClusterClaimResult.ParentHeld => $"The name {tunnel.Host} lies under {answer.Conflict}, which another client holds. Choose a name that is not under another tenant's.",
            ClusterClaimResult.Reserved when tcp => string.Create(CultureInfo.InvariantCulture, $"The remote port {tunnel.Port} is reserved for another token. Ask for another -RemotePort, or 0 for any."),
            ClusterClaimResult.Reserved => $"The name {tunnel.Host} is reserved for another token. Choose another -Subdomain or -Hostname.",
            ClusterClaimResult.ReservedParent => $"The name {tunnel.Host} lies under {answer.Conflict}, which is reserved for another token. Choose another -Subdomain or -Hostname.",
            ClusterClaimResult.ReservedChild => $"The name {tunnel.Host} is a parent of names reserved for another token. Choose another -Subdomain or -Hostname.",
            _ => $"The name {tunnel.Host} is a parent of names another client holds. Choose another name.",
        };
    }

    /// <summary>A lease value not signed under the cluster secret: counted and logged (throttled: visitors and claims can make a node read it).</summary>
    public void ReportForgery(string key, string node, string why)
    {
        TunnelMetrics.LeaseConflicts.Add(1, new KeyValuePair<string, object?>("outcome", "forged"));
        _host.Throttle.Warn("forged-lease", suppressed => ClusterLog.ForgedLease(_logger, key, node, why,
            suppressed > 0 ? string.Create(CultureInfo.InvariantCulture, $" ({suppressed} more forged leases not logged)") : ""));
    }

    /// <summary>Completes once this node has announced its token file's reservations in the cluster store (tests wait on it).</summary>
    internal Task ReservationsPublished => _reservationsPublished.Task;

    /// <summary>The token file changed: announce its reservations now (the next heartbeat retries if the store does not answer).</summary>
    public void ReservationsChanged()
    {
        _reservationsStale = true;
        _host.Track(PublishReservationsAsync());
    }

    /// <summary>
    /// Writes the names and ports this node's token file reserves into the cluster store, keyed by the tenant's hash,
    /// replacing what this node announced before; they hold there while this node's heartbeat goes on.
    /// </summary>
    private async Task PublishReservationsAsync()
    {
        var entries = new HashSet<(string Key, string Tenant)>();
        foreach (var (tenantKey, hosts, ports) in _host.Reservations)
        {
            if (hosts.Count == 0 && ports.Count == 0)
            {
                continue;
            }
            var hash = TenantHash(tenantKey);
            foreach (var host in hosts)
            {
                entries.Add(("resv:" + ClusterLease.HostKey(host), hash));
                foreach (var parent in HostNames.Parents(host.ToLowerInvariant()))
                {
                    entries.Add(("resvunder:" + parent, hash));
                }
            }
            foreach (var port in ports)
            {
                entries.Add(("resv:" + ClusterLease.TcpKey(port), hash));
            }
        }
        _reservationsStale = false;
        try
        {
            await Enqueue(() => Store.PublishReservationsAsync(Name, Run, entries, CancellationToken.None)).ConfigureAwait(false);
            _reservationsPublished.TrySetResult();
        }
        catch (ClusterStoreException ex)
        {
            _reservationsStale = true;
            ClusterLog.LeaseWriteFailed(_logger, "publish", "the token file's reservations", ex.Message);
        }
    }

    /// <summary>Gives a lease up (its client closed the tunnel).</summary>
    public void Release(ClusterLease lease)
    {
        var parents = lease.Host is { } host ? HostNames.Parents(host).ToList() : [];
        _host.Track(Write("release", lease, () => Store.ReleaseAsync(lease, parents, CancellationToken.None)));
    }

    /// <summary>Keeps a lease for its tenant's reconnect on any node (its client went away, or this node stops).</summary>
    public void Reserve(ClusterLease lease) =>
        _host.Track(Write("reserve", lease, () => Store.ReserveAsync(lease, _host.ReconnectGrace, CancellationToken.None)));

    private async Task Write(string action, ClusterLease lease, Func<Task> operation)
    {
        try
        {
            await Enqueue(async () =>
            {
                await operation().ConfigureAwait(false);
                return true;
            }).ConfigureAwait(false);
        }
        catch (ClusterStoreException ex)
        {
            ClusterLog.LeaseWriteFailed(_logger, action, lease.Key, ex.Message);
        }
    }

    /// <summary>Runs lease writes one after another, in the order they were asked for.</summary>
    private Task<T> Enqueue<T>(Func<Task<T>> operation)
    {
        lock (_gate)
        {
            var next = _tail.ContinueWith(_ => operation(), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default).Unwrap();
            _tail = next;
            return next;
        }
    }

    /// <summary>Announces the node and renews its leases until <paramref name="token"/> is cancelled; never throws for the store.</summary>
    public async Task RunHeartbeatAsync(CancellationToken token)
    {
        var interval = TimeSpan.FromTicks(Math.Max(TimeSpan.FromMilliseconds(100).Ticks, Options.NodeTimeout.Ticks / 3));
        using var timer = new PeriodicTimer(interval, _host.Time);
        do
        {
            await HeartbeatOnceAsync().ConfigureAwait(false);
        }
        while (await timer.WaitForNextTickAsync(token).ConfigureAwait(false));
    }

    /// <summary>One heartbeat: the node's presence and description, its live leases renewed, lost ones acted on.</summary>
    internal async Task HeartbeatOnceAsync()
    {
        var held = new Dictionary<string, (ClusterLease Lease, IClusterSession Session)>(StringComparer.Ordinal);
        var urls = new List<string>();
        foreach (var tunnel in _host.Tunnels)
        {
            if (tunnel is { ClusterSession: { } session, ClusterLease: { } lease })
            {
                held.TryAdd(lease.Key, (lease, session));
                urls.Add(tunnel.Url);
            }
        }
        var leases = held.Values.Select(h => h.Lease).ToList();
        var sessions = _host.Sessions.Select(s => (TenantHash(s.TenantKey), SessionHash(s.ClientId))).ToList();
        Links.PingAll();
        // A node whose heartbeats failed for as long as a lease lives may have lost its leases rightly (they lapsed).
        var lapsed = _host.Time.GetElapsedTime(Interlocked.Read(ref _lastHeartbeat)) >= _host.ReconnectGrace;
        try
        {
            await Store.RenewSessionsAsync(sessions, Name + "|" + Run, Options.NodeTimeout, CancellationToken.None).ConfigureAwait(false);
            var (lost, otherRun, fresh) = await Store.HeartbeatAsync(Name, Run, Describe(urls), Options.NodeTimeout, leases, _host.ReconnectGrace, CancellationToken.None).ConfigureAwait(false);
            Interlocked.Exchange(ref _lastHeartbeat, _host.Time.GetTimestamp());
            // The nodes to ask where a name lives if the store stops answering.
            Router.LearnPeers(await Store.NodesAsync(CancellationToken.None).ConfigureAwait(false));
            if (fresh || _reservationsStale)
            {
                // The first heartbeat of this run, or one after the store forgot the node: its reservations hold again.
                await PublishReservationsAsync().ConfigureAwait(false);
            }
            if (_storeDown)
            {
                _storeDown = false;
                ClusterLog.StoreBack(_logger);
            }
            if (otherRun is not null)
            {
                ClusterLog.DuplicateNode(_logger, Name, otherRun);
            }
            foreach (var (gone, holder) in lost)
            {
                if (held.TryGetValue(gone.Key, out var entry))
                {
                    await SettleAsync(gone, holder, entry.Session, lapsed).ConfigureAwait(false);
                }
            }
        }
        catch (ClusterStoreException ex)
        {
            if (!_storeDown)
            {
                _storeDown = true;
                ClusterLog.StoreUnreachable(_logger, ex.Message);
            }
        }
    }

    /// <summary>
    /// Decides a live lease of this node that the store holds something else for. A forged value is not obeyed and the
    /// lease is written back. A valid claim of another session is obeyed (the session here ends, so that its client
    /// reconnects) when it is the same tenant's (its client moved here with its previous id, or took over a node that
    /// looked stopped: the tenant's own clients settle among themselves, as before), when this node's lease may have
    /// lapsed (no heartbeat for as long as a lease lives), or when it was claimed first. A later claim of another tenant
    /// was made while this node's live lease had vanished from the store (deleted, or the store lost it): this node
    /// writes its lease back, and the other node finds an earlier valid claim at its next heartbeat and gives the name up.
    /// </summary>
    private async Task SettleAsync(ClusterLease mine, StoredLease holder, IClusterSession session, bool lapsed)
    {
        if (holder.Forgery is { } why)
        {
            ReportForgery(mine.Key, holder.Node, why);
        }
        else if (holder.Tenant == mine.Tenant || lapsed || holder.Precedes(mine))
        {
            TunnelMetrics.LeaseConflicts.Add(1, new KeyValuePair<string, object?>("outcome", "yielded"));
            ClusterLog.LeaseLost(_logger, session.Label, mine.Key);
            session.End("the cluster gave " + mine.Key + " to another session");
            return;
        }
        else
        {
            TunnelMetrics.LeaseConflicts.Add(1, new KeyValuePair<string, object?>("outcome", "reasserted"));
            ClusterLog.LeaseReasserted(_logger, session.Label, mine.Key, holder.Node);
        }
        // Written back only over the value just seen: a value that changed meanwhile is decided at the next heartbeat.
        await Store.ReassertAsync(mine, holder.Value, _host.ReconnectGrace, CancellationToken.None).ConfigureAwait(false);
    }

    private string Describe(List<string> urls)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("name", Name);
            json.WriteString("run", Run);
            json.WriteString("address", Address);
            json.WriteNumber("sessions", _host.SessionCount);
            json.WriteString("started", _host.StartTime);
            json.WriteString("seen", _host.Time.GetUtcNow());
            json.WriteStartArray("tunnels");
            foreach (var url in urls)
            {
                json.WriteStringValue(url);
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>The nodes of the cluster alive now, as their heartbeats describe them.</summary>
    public async Task<IReadOnlyList<ClusterNodeInfo>> NodesAsync(CancellationToken cancellationToken)
    {
        var nodes = new List<ClusterNodeInfo>();
        foreach (var text in await Store.NodesAsync(cancellationToken).ConfigureAwait(false))
        {
            try
            {
                using var doc = JsonDocument.Parse(text);
                var root = doc.RootElement;
                nodes.Add(new ClusterNodeInfo(
                    root.GetProperty("name").GetString() ?? "",
                    root.GetProperty("address").GetString() ?? "",
                    root.GetProperty("sessions").GetInt32(),
                    [.. root.GetProperty("tunnels").EnumerateArray().Select(e => e.GetString() ?? "")],
                    root.GetProperty("started").GetDateTimeOffset(),
                    root.GetProperty("seen").GetDateTimeOffset()));
            }
            catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
            {
                // A node description this version cannot read (another version's node): left out.
            }
        }
        return [.. nodes.OrderBy(n => n.Name, StringComparer.Ordinal)];
    }

    /// <summary>Who holds a lease key in the cluster, or null; a forged lease comes with <see cref="ClusterLeaseHolder.Forgery"/> set.</summary>
    public Task<ClusterLeaseHolder?> FindAsync(string key, CancellationToken cancellationToken) => Store.FindAsync(key, cancellationToken);

    /// <summary>Waits for the lease writes asked for so far, leaves the cluster (its leases stay, reserved or live, until they lapse) and disconnects.</summary>
    public async ValueTask DisposeAsync()
    {
        Links.CloseAll();
        Task tail;
        lock (_gate)
        {
            tail = _tail;
        }
        try
        {
            await tail.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            await Store.LeaveAsync(Name, Run, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is ClusterStoreException or TimeoutException)
        {
            ClusterLog.LeaseWriteFailed(_logger, "leave", "node:" + Name, ex.Message);
        }
        await _store.DisposeAsync().ConfigureAwait(false);
    }
}
