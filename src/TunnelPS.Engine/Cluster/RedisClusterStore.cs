using System.Globalization;
using StackExchange.Redis;

namespace TunnelPS.Engine.Cluster;

/// <summary>
/// The cluster store on Redis. Every key lives under one hash tag ({tunnelps}), so a Redis Cluster keeps them in one
/// slot and every script sees them all. Leases are strings "tenant|session|node|run|state" (state live or reserved)
/// with a TTL; decisions are Lua scripts, so two nodes never both win a name.
/// </summary>
internal sealed class RedisClusterStore : IClusterStore
{
    private const string Prefix = "{tunnelps}:";

    // Splits a lease value into its five fields.
    private const string SplitFunction = """
        local function split(v)
          local out = {}
          local start = 1
          while true do
            local i = string.find(v, '|', start, true)
            if not i then
              out[#out + 1] = string.sub(v, start)
              return out
            end
            out[#out + 1] = string.sub(v, start, i - 1)
            start = i + 1
          end
        end
        """;

    // KEYS[1] the lease; for a host, KEYS[2] the set of names under it, KEYS[3..2+n] the parents' leases and
    // KEYS[3+n..2+2n] the parents' sets; for a tcp port, KEYS[2] the set of the tenant's ports. ARGV: tenant, session,
    // node, run, ttl ms, prefix, member ("tenant|host", or the port), n, the session the client had before this login
    // ("" for none: a reconnecting client proves it held the lease with that secret id), and the most tcp ports the
    // tenant may hold across the cluster (-1 for a host).
    private const string ClaimScript = SplitFunction + """

        local tenant, session = ARGV[1], ARGV[2]
        local n = tonumber(ARGV[8])
        local maxPorts = tonumber(ARGV[10])
        local held = redis.call('GET', KEYS[1])
        if held then
          local h = split(held)
          if h[1] ~= tenant then return 'tenant' end
          if h[5] == 'live' and h[2] ~= session and h[2] ~= ARGV[9] and redis.call('GET', ARGV[6] .. 'node:' .. h[3]) == h[4] then
            return 'session'
          end
        end
        for i = 3, 2 + n do
          local p = redis.call('GET', KEYS[i])
          if p and split(p)[1] ~= tenant then return 'parent:' .. (i - 2) end
        end
        if maxPorts >= 0 and redis.call('SISMEMBER', KEYS[2], ARGV[7]) == 0 then
          local count = 0
          for _, m in ipairs(redis.call('SMEMBERS', KEYS[2])) do
            local cur = redis.call('GET', ARGV[6] .. 'lease:tcp:' .. m)
            if cur and split(cur)[1] == tenant then
              count = count + 1
            else
              redis.call('SREM', KEYS[2], m)
            end
          end
          if count >= maxPorts then return 'limit' end
        end
        if maxPorts < 0 then
          for _, m in ipairs(redis.call('SMEMBERS', KEYS[2])) do
            local sep = string.find(m, '|', 1, true)
            local t = string.sub(m, 1, sep - 1)
            if t ~= tenant then
              local cur = redis.call('GET', ARGV[6] .. 'lease:host:' .. string.sub(m, sep + 1))
              if cur and split(cur)[1] == t then return 'child' end
              redis.call('SREM', KEYS[2], m)
            end
          end
        end
        redis.call('SET', KEYS[1], tenant .. '|' .. session .. '|' .. ARGV[3] .. '|' .. ARGV[4] .. '|live', 'PX', ARGV[5])
        for i = 3 + n, 2 + 2 * n do
          redis.call('SADD', KEYS[i], ARGV[7])
        end
        if maxPorts >= 0 then
          redis.call('SADD', KEYS[2], ARGV[7])
        end
        return 'ok'
        """;

    // KEYS[1] the lease, KEYS[2..] the parents' sets (a host) or the tenant's port set (a tcp port). ARGV: tenant,
    // session, run, member.
    private const string ReleaseScript = SplitFunction + """

        local held = redis.call('GET', KEYS[1])
        if not held then return 0 end
        local h = split(held)
        if h[1] ~= ARGV[1] or h[2] ~= ARGV[2] or h[4] ~= ARGV[3] then return 0 end
        redis.call('DEL', KEYS[1])
        for i = 2, #KEYS do
          redis.call('SREM', KEYS[i], ARGV[4])
        end
        return 1
        """;

    // KEYS[1] the lease. ARGV: tenant, session, run, ttl ms.
    private const string ReserveScript = SplitFunction + """

        local held = redis.call('GET', KEYS[1])
        if not held then return 0 end
        local h = split(held)
        if h[1] ~= ARGV[1] or h[2] ~= ARGV[2] or h[4] ~= ARGV[3] then return 0 end
        redis.call('SET', KEYS[1], h[1] .. '|' .. h[2] .. '|' .. h[3] .. '|' .. h[4] .. '|reserved', 'PX', ARGV[4])
        return 1
        """;

    // KEYS[1] node key, KEYS[2] node info key, KEYS[3] the node set, KEYS[4..] leases.
    // ARGV: run, node ttl ms, info, node name, lease ttl ms, then each lease's value. A lease still the node's is
    // renewed; one the store forgot (a Redis restart without persistence) is written again; one another session holds
    // now is lost. Returns the previous run and the indexes (1-based among the leases) lost.
    private const string HeartbeatScript = """
        local previous = redis.call('GET', KEYS[1])
        redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
        redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[2])
        redis.call('SADD', KEYS[3], ARGV[4])
        local lost = {}
        for i = 4, #KEYS do
          local held = redis.call('GET', KEYS[i])
          if held == ARGV[2 + i] then
            redis.call('PEXPIRE', KEYS[i], ARGV[5])
          elseif not held then
            redis.call('SET', KEYS[i], ARGV[2 + i], 'PX', ARGV[5])
          else
            lost[#lost + 1] = i - 3
          end
        end
        return { previous or '', lost }
        """;

    // KEYS[1] the tenant's session set, KEYS[2] the session's key, KEYS[3] the previous session's key. ARGV: session,
    // holder, ttl ms, most sessions, prefix, tenant, previous session ("" for none).
    private const string AdmitSessionScript = """
        if ARGV[7] ~= '' then
          redis.call('DEL', KEYS[3])
          redis.call('SREM', KEYS[1], ARGV[7])
        end
        if redis.call('EXISTS', KEYS[2]) == 0 then
          local count = 0
          for _, m in ipairs(redis.call('SMEMBERS', KEYS[1])) do
            if redis.call('EXISTS', ARGV[5] .. 'session:' .. ARGV[6] .. ':' .. m) == 1 then
              count = count + 1
            else
              redis.call('SREM', KEYS[1], m)
            end
          end
          if count >= tonumber(ARGV[4]) then return 0 end
        end
        redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
        redis.call('SADD', KEYS[1], ARGV[1])
        return 1
        """;

    // KEYS: pairs of (tenant's session set, session key). ARGV: holder, ttl ms, then each session's hash.
    private const string RenewSessionsScript = """
        for i = 1, #KEYS, 2 do
          redis.call('SET', KEYS[i + 1], ARGV[1], 'PX', ARGV[2])
          redis.call('SADD', KEYS[i], ARGV[2 + (i + 1) / 2])
        end
        return 1
        """;

    // KEYS[1] node key, KEYS[2] node info key, KEYS[3] node set. ARGV: run, node name.
    private const string LeaveScript = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then
          redis.call('DEL', KEYS[1], KEYS[2])
          redis.call('SREM', KEYS[3], ARGV[2])
        end
        return 1
        """;

    private readonly ConnectionMultiplexer _redis;
    private readonly IDatabase _db;

    private RedisClusterStore(ConnectionMultiplexer redis, string description)
    {
        _redis = redis;
        _db = redis.GetDatabase();
        Description = description;
    }

    public string Description { get; }

    /// <summary>Connects to Redis; throws <see cref="ClusterStoreException"/> when none of its servers answers.</summary>
    public static async Task<IClusterStore> ConnectAsync(ClusterOptions options, CancellationToken cancellationToken)
    {
        var timeout = (int)Math.Clamp(options.StoreTimeout.TotalMilliseconds, 100, 60_000);
        var configuration = new ConfigurationOptions
        {
            AbortOnConnectFail = false,
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
        };
        foreach (var endpoint in options.Endpoints)
        {
            configuration.EndPoints.Add(endpoint);
        }
        var description = "Redis at " + string.Join(", ", options.Endpoints);
        ConnectionMultiplexer redis;
        try
        {
            redis = await ConnectionMultiplexer.ConnectAsync(configuration).WaitAsync(cancellationToken).ConfigureAwait(false);
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
        return new RedisClusterStore(redis, description);
    }

    public async Task<(ClusterClaimResult Result, string? Conflict)> ClaimAsync(ClusterLease lease, string previousSession, IReadOnlyList<string> parents, int maxTcpPorts, TimeSpan ttl, CancellationToken cancellationToken)
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
        var answer = (string?)await RunAsync(ClaimScript, keys,
            [lease.Tenant, lease.Session, lease.Node, lease.Run, Milliseconds(ttl), Prefix, Member(lease), n, previousSession, host is null ? Math.Max(0, maxTcpPorts) : -1]).ConfigureAwait(false);
        return answer switch
        {
            "ok" => (ClusterClaimResult.Claimed, null),
            "tenant" => (ClusterClaimResult.OtherTenant, null),
            "session" => (ClusterClaimResult.OtherSession, null),
            "child" => (ClusterClaimResult.ChildHeld, null),
            "limit" => (ClusterClaimResult.LimitReached, null),
            { } parent when parent.StartsWith("parent:", StringComparison.Ordinal) =>
                (ClusterClaimResult.ParentHeld, parents[int.Parse(parent.AsSpan(7), CultureInfo.InvariantCulture) - 1]),
            _ => throw new ClusterStoreException($"The cluster store answered a claim with '{answer}'."),
        };
    }

    public async Task<bool> AdmitSessionAsync(string tenant, string session, string previousSession, string holder, int maxSessions, TimeSpan ttl, CancellationToken cancellationToken)
    {
        var answer = (long)await RunAsync(AdmitSessionScript,
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
        return RunAsync(RenewSessionsScript, keys, args);
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
        return RunAsync(ReleaseScript, keys, [lease.Tenant, lease.Session, lease.Run, Member(lease)]);
    }

    public Task ReserveAsync(ClusterLease lease, TimeSpan grace, CancellationToken cancellationToken) =>
        RunAsync(ReserveScript, [LeaseKey(lease.Key)], [lease.Tenant, lease.Session, lease.Run, Milliseconds(grace)]);

    public async Task<(IReadOnlyList<ClusterLease> Lost, string? OtherRun)> HeartbeatAsync(string node, string run, string description, TimeSpan nodeTtl, IReadOnlyList<ClusterLease> leases, TimeSpan leaseTtl, CancellationToken cancellationToken)
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
            args[5 + i] = LiveValue(leases[i]);
        }
        var result = (RedisResult[])(await RunAsync(HeartbeatScript, keys, args).ConfigureAwait(false))!;
        var previous = (string?)result[0];
        var lost = new List<ClusterLease>();
        foreach (var index in (int[])result[1]!)
        {
            lost.Add(leases[index - 1]);
        }
        return (lost, string.IsNullOrEmpty(previous) || previous == run ? null : previous);
    }

    public Task LeaveAsync(string node, string run, CancellationToken cancellationToken) =>
        RunAsync(LeaveScript, [Prefix + "node:" + node, Prefix + "nodeinfo:" + node, Prefix + "nodes"], [run, node]);

    public async Task<ClusterLeaseHolder?> FindAsync(string key, CancellationToken cancellationToken)
    {
        var held = (string?)await Guard(_db.StringGetAsync(LeaseKey(key))).ConfigureAwait(false);
        if (held is null)
        {
            return null;
        }
        var fields = held.Split('|');
        if (fields.Length != 5)
        {
            return null;
        }
        var node = await Guard(_db.StringGetAsync([Prefix + "node:" + fields[2], Prefix + "nodeinfo:" + fields[2]])).ConfigureAwait(false);
        return new ClusterLeaseHolder(fields[0], fields[1], fields[2], fields[3], fields[4] == "live", (string?)node[0] == fields[3], (string?)node[1]);
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

    private static string LiveValue(ClusterLease lease) => $"{lease.Tenant}|{lease.Session}|{lease.Node}|{lease.Run}|live";

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
