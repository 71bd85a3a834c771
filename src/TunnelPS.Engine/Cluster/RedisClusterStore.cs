using System.Globalization;
using StackExchange.Redis;

namespace TunnelPS.Engine.Cluster;

/// <summary>
/// The cluster store on Redis. Every key lives under one hash tag ({tunnelps}), so a Redis Cluster keeps them in one
/// slot and every script sees them all. Leases are strings signed under the cluster secret (<see cref="LeaseSigner"/>)
/// with a TTL; decisions are Lua scripts, so two nodes never both win a name. Values a script hands back are checked
/// here, and a forged one is reported as such (<see cref="StoredLease.Forgery"/>), never taken for a claim.
/// </summary>
internal sealed class RedisClusterStore : IClusterStore
{
    private const string Prefix = "{tunnelps}:";

    private readonly ConnectionMultiplexer _redis;
    private readonly IDatabase _db;
    private readonly LeaseSigner _signer;

    private RedisClusterStore(ConnectionMultiplexer redis, string description, LeaseSigner signer)
    {
        _redis = redis;
        _db = redis.GetDatabase();
        Description = description;
        _signer = signer;
    }

    public string Description { get; }

    /// <summary>
    /// Connects to Redis and checks that this node may use the cluster's keys; throws <see cref="ClusterStoreException"/>
    /// saying why when none of its servers answers, its TLS certificate is not trusted, it refuses the login, or the
    /// user may not use the keys.
    /// </summary>
    public static async Task<IClusterStore> ConnectAsync(ClusterOptions options, TimeProvider time, CancellationToken cancellationToken)
    {
        var timeout = (int)Math.Clamp(options.StoreTimeout.TotalMilliseconds, 100, 60_000);
        var certificates = options.RedisTls ? new RedisCertificateCheck(options.RedisCaFile) : null;
        var configuration = new ConfigurationOptions
        {
            // The first connection must succeed (with its reason when it does not); after it the client reconnects by itself.
            AbortOnConnectFail = true,
            ConnectTimeout = timeout * 2,
            SyncTimeout = timeout,
            AsyncTimeout = timeout,
            ConnectRetry = 1,
            User = options.RedisUser,
            Password = options.RedisPassword,
            Ssl = options.RedisTls,
            ClientName = "tunnelps-" + options.NodeName,
            ReconnectRetryPolicy = new LinearRetry(500),
            KeepAlive = 5,
            // With a service name the endpoints are sentinels: the client asks them for the primary, and again on a failover.
            ServiceName = options.SentinelService,
        };
        if (certificates is not null)
        {
            configuration.CertificateValidation += certificates.Validate;
        }
        foreach (var endpoint in options.Endpoints)
        {
            configuration.EndPoints.Add(endpoint);
        }
        var description = options.SentinelService is { } service
            ? $"Redis Sentinel service '{service}' at {string.Join(", ", options.Endpoints)}"
            : "Redis at " + string.Join(", ", options.Endpoints);
        ConnectionMultiplexer redis;
        try
        {
            redis = await ConnectionMultiplexer.ConnectAsync(configuration).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (RedisException ex) when (certificates?.Problem is { } problem)
        {
            throw new ClusterStoreException($"The cluster store ({description}) cannot be used over TLS: the Redis server's certificate is not trusted: {problem}.", ex);
        }
        catch (RedisConnectionException ex) when (ex.FailureType == ConnectionFailureType.AuthenticationFailure)
        {
            throw new ClusterStoreException($"The cluster store ({description}) refused the login of Redis user '{options.RedisUser ?? "default"}': check the user and password in -Cluster (redis://user:password@host) and that the user is on in Redis's ACL. ({ex.InnerException?.Message ?? ex.Message})", ex);
        }
        catch (RedisException ex)
        {
            throw new ClusterStoreException($"The cluster store ({description}) cannot be reached: {ex.Message}", ex);
        }
        if (!redis.IsConnected)
        {
            var status = redis.GetStatus();
            await redis.DisposeAsync().ConfigureAwait(false);
            throw new ClusterStoreException($"The cluster store ({description}) cannot be reached. Check that Redis runs there and that this host may connect to it. {status}".Trim());
        }
        var store = new RedisClusterStore(redis, description, new LeaseSigner(options.Secret, time));
        try
        {
            await store.ProbeAsync(options).ConfigureAwait(false);
        }
        catch
        {
            await redis.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return store;
    }

    /// <summary>Runs the commands the nodes' scripts use on keys of this node only, so that missing rights stop the start, not a later heartbeat.</summary>
    private async Task ProbeAsync(ClusterOptions options)
    {
        var key = Prefix + "probe:" + options.NodeName;
        try
        {
            await _db.ScriptEvaluateAsync(RedisClusterScripts.ProbeScript, [key, key + ":set", key + ":hash"], ["probe"]).ConfigureAwait(false);
            await _db.StringGetAsync([key, key + ":set"]).ConfigureAwait(false);
        }
        catch (RedisServerException ex) when (ex.Message.Contains("NOPERM", StringComparison.Ordinal))
        {
            throw new ClusterStoreException($"The Redis user '{options.RedisUser ?? "default"}' may not use the cluster's keys in {Description} ({ex.Message}). Grant it the key pattern ~{Prefix}* and the commands the nodes run (+@all, or +eval +evalsha +script +get +mget +set +del +exists +pexpire +sadd +srem +smembers +sismember +hset +hdel +hgetall) in Redis's ACL.", ex);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            throw new ClusterStoreException($"The cluster store ({Description}) did not run this node's test script: {ex.Message}", ex);
        }
    }

    public async Task<(ClusterClaimResult Result, string? Conflict, StoredLease? Holder)> ClaimAsync(ClusterLease lease, IReadOnlyList<string> parents, int maxTcpPorts, TimeSpan ttl, string? overriding, CancellationToken cancellationToken)
    {
        var host = lease.Host;
        var n = host is null ? 0 : parents.Count;
        var keys = new RedisKey[2 + (2 * n)];
        keys[0] = LeaseKey(lease.Key);
        keys[1] = host is null ? PortsKey(lease.Tenant) : UnderKey(host);
        for (var i = 0; i < n; i++)
        {
            keys[2 + i] = LeaseKey(ClusterLease.HostKey(parents[i]));
            keys[2 + n + i] = UnderKey(parents[i]);
        }
        var answer = (string?)await RunAsync(RedisClusterScripts.ClaimScript, keys,
            [lease.Tenant, lease.Session, lease.Node, lease.Run, Milliseconds(ttl), Prefix, Member(lease), n, lease.Previous, host is null ? Math.Max(0, maxTcpPorts) : -1,
             lease.Key, _signer.Sign(lease, live: true, ttl), overriding ?? "", .. parents.Take(n).Select(p => (RedisValue)p)]).ConfigureAwait(false);
        var newline = answer?.IndexOf('\n', StringComparison.Ordinal) ?? -1;
        var holder = newline < 0 ? null : _signer.Read(lease.Key, answer![(newline + 1)..]);
        return (newline < 0 ? answer : answer![..newline]) switch
        {
            "ok" => (ClusterClaimResult.Claimed, null, null),
            "tenant" => (ClusterClaimResult.OtherTenant, null, holder),
            "session" => (ClusterClaimResult.OtherSession, null, holder),
            "child" => (ClusterClaimResult.ChildHeld, null, null),
            "limit" => (ClusterClaimResult.LimitReached, null, null),
            "reserved" => (ClusterClaimResult.Reserved, null, null),
            "rchild" => (ClusterClaimResult.ReservedChild, null, null),
            { } parent when parent.StartsWith("rparent:", StringComparison.Ordinal) =>
                (ClusterClaimResult.ReservedParent, parents[int.Parse(parent.AsSpan(8), CultureInfo.InvariantCulture) - 1], null),
            { } parent when parent.StartsWith("parent:", StringComparison.Ordinal) =>
                (ClusterClaimResult.ParentHeld, parents[int.Parse(parent.AsSpan(7), CultureInfo.InvariantCulture) - 1], null),
            _ => throw new ClusterStoreException($"The cluster store answered a claim with '{answer}'."),
        };
    }

    public async Task<int> PublishReservationsAsync(string node, string run, IReadOnlyCollection<(string Key, string Tenant)> reservations, CancellationToken cancellationToken)
    {
        var args = new RedisValue[3 + (2 * reservations.Count)];
        args[0] = Prefix;
        args[1] = node;
        args[2] = run;
        var i = 3;
        foreach (var (key, tenant) in reservations)
        {
            args[i++] = key;
            args[i++] = tenant;
        }
        return (int)await RunAsync(RedisClusterScripts.PublishReservationsScript, [Prefix + "resvnode:" + node], args).ConfigureAwait(false);
    }

    public async Task<bool> AdmitSessionAsync(string tenant, string session, string previousSession, string holder, int maxSessions, TimeSpan ttl, CancellationToken cancellationToken)
    {
        var answer = (long)await RunAsync(RedisClusterScripts.AdmitSessionScript,
            [SessionsKey(tenant), SessionKey(tenant, session), SessionKey(tenant, previousSession.Length == 0 ? session : previousSession)],
            [session, holder, Milliseconds(ttl), maxSessions, Prefix, tenant, previousSession]).ConfigureAwait(false);
        return answer == 1;
    }

    public Task RenewSessionsAsync(IReadOnlyList<(string Tenant, string Session)> sessions, string holder, TimeSpan ttl, CancellationToken cancellationToken)
    {
        if (sessions.Count == 0)
        {
            return Task.CompletedTask;
        }
        var keys = new RedisKey[sessions.Count * 2];
        var args = new RedisValue[2 + sessions.Count];
        args[0] = holder;
        args[1] = Milliseconds(ttl);
        for (var i = 0; i < sessions.Count; i++)
        {
            keys[2 * i] = SessionsKey(sessions[i].Tenant);
            keys[(2 * i) + 1] = SessionKey(sessions[i].Tenant, sessions[i].Session);
            args[2 + i] = sessions[i].Session;
        }
        return RunAsync(RedisClusterScripts.RenewSessionsScript, keys, args);
    }

    public async Task EndSessionAsync(string tenant, string session, CancellationToken cancellationToken)
    {
        await Guard(_db.KeyDeleteAsync(SessionKey(tenant, session))).ConfigureAwait(false);
        await Guard(_db.SetRemoveAsync(SessionsKey(tenant), session)).ConfigureAwait(false);
    }

    private static RedisKey SessionsKey(string tenant) => Prefix + "sessions:" + tenant;

    private static RedisKey SessionKey(string tenant, string session) => Prefix + "session:" + tenant + ":" + session;

    public Task ReleaseAsync(ClusterLease lease, IReadOnlyList<string> parents, CancellationToken cancellationToken)
    {
        var host = lease.Host;
        var keys = new RedisKey[1 + (host is null ? 1 : parents.Count)];
        keys[0] = LeaseKey(lease.Key);
        for (var i = 1; i < keys.Length; i++)
        {
            keys[i] = host is null ? PortsKey(lease.Tenant) : UnderKey(parents[i - 1]);
        }
        return RunAsync(RedisClusterScripts.ReleaseScript, keys, [lease.Tenant, lease.Session, lease.Run, Member(lease)]);
    }

    public Task ReserveAsync(ClusterLease lease, TimeSpan grace, CancellationToken cancellationToken) =>
        RunAsync(RedisClusterScripts.ReserveScript, [LeaseKey(lease.Key)], [lease.Tenant, lease.Session, lease.Run, Milliseconds(grace), _signer.Sign(lease, live: false, grace)]);

    public async Task<bool> ReassertAsync(ClusterLease lease, string replacing, TimeSpan ttl, CancellationToken cancellationToken) =>
        (long)await RunAsync(RedisClusterScripts.ReassertScript, [LeaseKey(lease.Key)], [replacing, _signer.Sign(lease, live: true, ttl), Milliseconds(ttl)]).ConfigureAwait(false) == 1;

    public async Task<(IReadOnlyList<(ClusterLease Lease, StoredLease Holder)> Lost, string? OtherRun, bool Fresh)> HeartbeatAsync(string node, string run, string description, TimeSpan nodeTtl, IReadOnlyList<ClusterLease> leases, TimeSpan leaseTtl, CancellationToken cancellationToken)
    {
        var keys = new RedisKey[3 + leases.Count];
        keys[0] = Prefix + "node:" + node;
        keys[1] = Prefix + "nodeinfo:" + node;
        keys[2] = Prefix + "nodes";
        var args = new RedisValue[5 + leases.Count];
        args[0] = run;
        args[1] = Milliseconds(nodeTtl);
        args[2] = description;
        args[3] = node;
        args[4] = Milliseconds(leaseTtl);
        for (var i = 0; i < leases.Count; i++)
        {
            keys[3 + i] = LeaseKey(leases[i].Key);
            args[5 + i] = _signer.Sign(leases[i], live: true, leaseTtl);
        }
        var result = (RedisResult[])(await RunAsync(RedisClusterScripts.HeartbeatScript, keys, args).ConfigureAwait(false))!;
        var previous = (string?)result[0];
        var lost = new List<(ClusterLease, StoredLease)>();
        var indexes = (int[])result[1]!;
        var found = (string[])result[2]!;
        for (var i = 0; i < indexes.Length; i++)
        {
            var lease = leases[indexes[i] - 1];
            lost.Add((lease, _signer.Read(lease.Key, found[i])));
        }
        return (lost, string.IsNullOrEmpty(previous) || previous == run ? null : previous, previous != run);
    }

    public Task LeaveAsync(string node, string run, CancellationToken cancellationToken) =>
        RunAsync(RedisClusterScripts.LeaveScript, [Prefix + "node:" + node, Prefix + "nodeinfo:" + node, Prefix + "nodes"], [run, node]);

    public async Task<ClusterLeaseHolder?> FindAsync(string key, CancellationToken cancellationToken)
    {
        var held = (string?)await Guard(_db.StringGetAsync(LeaseKey(key))).ConfigureAwait(false);
        if (held is null)
        {
            return null;
        }
        var lease = _signer.Read(key, held);
        if (lease.Forgery is not null)
        {
            return new ClusterLeaseHolder(lease.Tenant, lease.Session, lease.Node, lease.Run, lease.Live, NodeAlive: false, NodeDescription: null, lease.Forgery);
        }
        var node = await Guard(_db.StringGetAsync([Prefix + "node:" + lease.Node, Prefix + "nodeinfo:" + lease.Node])).ConfigureAwait(false);
        return new ClusterLeaseHolder(lease.Tenant, lease.Session, lease.Node, lease.Run, lease.Live, (string?)node[0] == lease.Run, (string?)node[1]);
    }

    public async Task<IReadOnlyList<string>> NodesAsync(CancellationToken cancellationToken)
    {
        var names = await Guard(_db.SetMembersAsync(Prefix + "nodes")).ConfigureAwait(false);
        if (names.Length == 0)
        {
            return [];
        }
        var infos = await Guard(_db.StringGetAsync(names.Select(n => (RedisKey)(Prefix + "nodeinfo:" + n)).ToArray())).ConfigureAwait(false);
        var alive = new List<string>();
        for (var i = 0; i < names.Length; i++)
        {
            if (infos[i].HasValue)
            {
                alive.Add(infos[i]!);
            }
            else
            {
                // A node that stopped without leaving: forget its name.
                _ = _db.SetRemoveAsync(Prefix + "nodes", names[i], CommandFlags.FireAndForget);
            }
        }
        return alive;
    }

    private static RedisKey LeaseKey(string key) => Prefix + "lease:" + key;

    private static RedisKey UnderKey(string host) => Prefix + "under:" + host;

    private static RedisKey PortsKey(string tenant) => Prefix + "ports:" + tenant;

    /// <summary>What a lease adds to its sets: "tenant|host" to its parents' sets, its port to its tenant's port set.</summary>
    private static string Member(ClusterLease lease) => lease.Host is { } host ? lease.Tenant + "|" + host : lease.Key["tcp:".Length..];

    private static long Milliseconds(TimeSpan span) => Math.Max(1, (long)span.TotalMilliseconds);

    private Task<RedisResult> RunAsync(string script, RedisKey[] keys, RedisValue[] args) => Guard(_db.ScriptEvaluateAsync(script, keys, args));

    private async Task<T> Guard<T>(Task<T> operation)
    {
        try
        {
            return await operation.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            throw new ClusterStoreException($"The cluster store ({Description}) did not answer: {ex.Message}", ex);
        }
    }

    public async ValueTask DisposeAsync() => await _redis.DisposeAsync().ConfigureAwait(false);
}
