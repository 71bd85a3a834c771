namespace TunnelPS.Engine.Cluster;

/// <summary>
/// The Lua scripts <see cref="RedisClusterStore"/> decides with: each runs atomically in Redis, so two nodes never both
/// win a name, a port or a token's last place. Lease values are "tenant|session|node|run|state|since|previous|expiry|mac"
/// (state live or reserved), signed by the node (<see cref="LeaseSigner"/>): the scripts read the first five fields
/// only and cannot check the signature (Redis never sees the secret), so a node checks what a script hands back
/// before it obeys it. Every key is under the {tunnelps} hash tag.
/// </summary>
internal static class RedisClusterScripts
{
    // Splits a lease value into its fields.
    public const string SplitFunction = """
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

    // True when a reservation hash (fields "node|tenant", values the node's run) holds the name for another tenant than
    // the first argument on a node alive now; fields of nodes that are gone (or of an earlier run) are removed.
    public const string ReservedFunction = """
        local function reservedFor(key, tenant, prefix)
          local all = redis.call('HGETALL', key)
          local found = false
          for i = 1, #all, 2 do
            local sep = string.find(all[i], '|', 1, true)
            local node, t = string.sub(all[i], 1, sep - 1), string.sub(all[i], sep + 1)
            if redis.call('GET', prefix .. 'node:' .. node) == all[i + 1] then
              if t ~= tenant then found = true end
            else
              redis.call('HDEL', key, all[i])
            end
          end
          return found
        end
        """;

    // KEYS[1] the lease; for a host, KEYS[2] the set of names under it, KEYS[3..2+n] the parents' leases and
    // KEYS[3+n..2+2n] the parents' sets; for a tcp port, KEYS[2] the set of the tenant's ports. ARGV: tenant, session,
    // node, run, ttl ms, prefix, member ("tenant|host", or the port), n, the session the client had before this login
    // ("" for none: a reconnecting client proves it held the lease with that secret id), the most tcp ports the
    // tenant may hold across the cluster (-1 for a host), the lease's name ("host:<name>" or "tcp:<port>"), the signed
    // value to store, a value the node found forged and overrides ("" for none), and the n parents' names. A name or
    // port a live node's token file reserves for another tenant (the name, a parent of it, or a name under it) is
    // refused. A refusal for the lease itself ("tenant", "session") carries the value held, after a newline, for the
    // node to check its signature.
    public const string ClaimScript = SplitFunction + "\n" + ReservedFunction + """

        local tenant, session = ARGV[1], ARGV[2]
        local n = tonumber(ARGV[8])
        local maxPorts = tonumber(ARGV[10])
        local prefix = ARGV[6]
        local held = redis.call('GET', KEYS[1])
        if held and held == ARGV[13] then held = false end
        if held then
          local h = split(held)
          if h[1] ~= tenant then return 'tenant\n' .. held end
          if h[5] == 'live' and h[2] ~= session and h[2] ~= ARGV[9] and redis.call('GET', ARGV[6] .. 'node:' .. h[3]) == h[4] then
            return 'session\n' .. held
          end
        end
        if reservedFor(prefix .. 'resv:' .. ARGV[11], tenant, prefix) then return 'reserved' end
        if maxPorts < 0 then
          for i = 1, n do
            if reservedFor(prefix .. 'resv:host:' .. ARGV[13 + i], tenant, prefix) then return 'rparent:' .. i end
          end
          if reservedFor(prefix .. 'resvunder:' .. string.sub(ARGV[11], 6), tenant, prefix) then return 'rchild' end
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
        redis.call('SET', KEYS[1], ARGV[12], 'PX', ARGV[5])
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
    public const string ReleaseScript = SplitFunction + """

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

    // KEYS[1] the lease. ARGV: tenant, session, run, ttl ms, the signed reserved value.
    public const string ReserveScript = SplitFunction + """

        local held = redis.call('GET', KEYS[1])
        if not held then return 0 end
        local h = split(held)
        if h[1] ~= ARGV[1] or h[2] ~= ARGV[2] or h[4] ~= ARGV[3] then return 0 end
        redis.call('SET', KEYS[1], ARGV[5], 'PX', ARGV[4])
        return 1
        """;

    // KEYS[1] the lease. ARGV: the value the node saw there, the node's signed value, ttl ms. Writes the node's lease
    // back over a forged one, or over a later claim made while the node's live lease had vanished, unless the value
    // changed again meanwhile.
    public const string ReassertScript = """
        local held = redis.call('GET', KEYS[1])
        if held and held ~= ARGV[1] then return 0 end
        redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
        return 1
        """;

    // KEYS[1] node key, KEYS[2] node info key, KEYS[3] the node set, KEYS[4..] leases.
    // ARGV: run, node ttl ms, info, node name, lease ttl ms, then each lease's signed live value. A lease still the
    // node's (the same tenant, session, node and run, live) is renewed with its new signature; one the store forgot (a
    // Redis restart without persistence, or a key deleted) is written again; one the node reserved meanwhile is left
    // alone; one that holds anything else is handed back. Returns the previous run, the indexes (1-based among the
    // leases) handed back and the values found there.
    public const string HeartbeatScript = SplitFunction + """

        local previous = redis.call('GET', KEYS[1])
        redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
        redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[2])
        redis.call('SADD', KEYS[3], ARGV[4])
        local lost = {}
        local found = {}
        for i = 4, #KEYS do
          local held = redis.call('GET', KEYS[i])
          if not held then
            redis.call('SET', KEYS[i], ARGV[2 + i], 'PX', ARGV[5])
          else
            local h, w = split(held), split(ARGV[2 + i])
            if h[1] == w[1] and h[2] == w[2] and h[3] == w[3] and h[4] == w[4] then
              if h[5] == 'live' then
                redis.call('SET', KEYS[i], ARGV[2 + i], 'PX', ARGV[5])
              end
            else
              lost[#lost + 1] = i - 3
              found[#found + 1] = held
            end
          end
        end
        return { previous or '', lost, found }
        """;

    // KEYS: a string, a set and a hash of the probing node. ARGV: a member. Uses every kind of command the other
    // scripts use, on keys under the prefix, and leaves nothing behind.
    public const string ProbeScript = """
        redis.call('SET', KEYS[1], ARGV[1], 'PX', 10000)
        redis.call('PEXPIRE', KEYS[1], 10000)
        redis.call('EXISTS', KEYS[1])
        redis.call('GET', KEYS[1])
        redis.call('DEL', KEYS[1])
        redis.call('SADD', KEYS[2], ARGV[1])
        redis.call('SISMEMBER', KEYS[2], ARGV[1])
        redis.call('SMEMBERS', KEYS[2])
        redis.call('SREM', KEYS[2], ARGV[1])
        redis.call('HSET', KEYS[3], ARGV[1], ARGV[1])
        redis.call('HGETALL', KEYS[3])
        redis.call('HDEL', KEYS[3], ARGV[1])
        return 1
        """;

    // KEYS[1] the tenant's session set, KEYS[2] the session's key, KEYS[3] the previous session's key. ARGV: session,
    // holder, ttl ms, most sessions, prefix, tenant, previous session ("" for none). The previous session stops counting
    // only when the node that held it is gone (a session key holds "node|run"): one that a live node still serves is a
    // live client and keeps counting, so presenting a live session's id never makes room for another login.
    public const string AdmitSessionScript = """
        if ARGV[7] ~= '' then
          local holder = redis.call('GET', KEYS[3])
          local alive = false
          if holder then
            local sep = string.find(holder, '|', 1, true)
            alive = sep ~= nil and redis.call('GET', ARGV[5] .. 'node:' .. string.sub(holder, 1, sep - 1)) == string.sub(holder, sep + 1)
          end
          if not alive then
            redis.call('DEL', KEYS[3])
            redis.call('SREM', KEYS[1], ARGV[7])
          end
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
    public const string RenewSessionsScript = """
        for i = 1, #KEYS, 2 do
          redis.call('SET', KEYS[i + 1], ARGV[1], 'PX', ARGV[2])
          redis.call('SADD', KEYS[i], ARGV[2 + (i + 1) / 2])
        end
        return 1
        """;

    // KEYS[1] node key, KEYS[2] node info key, KEYS[3] node set. ARGV: run, node name.
    public const string LeaveScript = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then
          redis.call('DEL', KEYS[1], KEYS[2])
          redis.call('SREM', KEYS[3], ARGV[2])
        end
        return 1
        """;

    // KEYS[1] the set of what the node published. ARGV: prefix, node, run, then pairs of (reservation key without the
    // prefix, tenant). Entries the node published before and no longer announces are removed; the others are written
    // with this run, so they hold while the node's heartbeat says this run is alive.
    public const string PublishReservationsScript = """
        local prefix, node, run = ARGV[1], ARGV[2], ARGV[3]
        local wanted = {}
        for i = 4, #ARGV, 2 do
          wanted[ARGV[i] .. '\t' .. ARGV[i + 1]] = true
        end
        for _, m in ipairs(redis.call('SMEMBERS', KEYS[1])) do
          if not wanted[m] then
            local sep = string.find(m, '\t', 1, true)
            redis.call('HDEL', prefix .. string.sub(m, 1, sep - 1), node .. '|' .. string.sub(m, sep + 1))
          end
        end
        redis.call('DEL', KEYS[1])
        for i = 4, #ARGV, 2 do
          redis.call('HSET', prefix .. ARGV[i], node .. '|' .. ARGV[i + 1], run)
          redis.call('SADD', KEYS[1], ARGV[i] .. '\t' .. ARGV[i + 1])
        end
        return (#ARGV - 3) / 2
        """;
}
