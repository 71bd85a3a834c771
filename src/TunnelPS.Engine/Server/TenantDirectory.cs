using System.Globalization;
using TunnelPS.Engine.Configuration;

namespace TunnelPS.Engine.Server;

/// <summary>
/// The server's tenants: the tokens given as options plus those of the token file, which is read again whenever it
/// changes. Answers who a token is, who reserved a name or port, and whether a name would nest under (or above) a name
/// another tenant reserved. A server with neither tokens nor a token file has one anonymous tenant.
/// </summary>
internal sealed class TenantDirectory
{
    private readonly TunnelServerOptions _options;
    private Snapshot _snapshot;

    // The token file's (last write time, length) when it was last read, and at the last look: a change is read only
    // once a look finds the file as the one before it did (an editor that truncates and then writes is done by then).
    private (DateTime Written, long Length)? _readStamp;
    private (DateTime Written, long Length)? _seenStamp;

    /// <summary>Reads the tokens and the token file; a bad token file throws <see cref="ConfigurationException"/>.</summary>
    public TenantDirectory(TunnelServerOptions options)
    {
        _options = options;
        IsAnonymous = options.AuthTokens.Count == 0 && string.IsNullOrWhiteSpace(options.AuthTokenFile);
        foreach (var token in options.AuthTokens)
        {
            if (string.IsNullOrEmpty(token))
            {
                throw new TunnelConfigurationException("An auth token is empty. Give non-empty tokens with -AuthToken.");
            }
        }
        _readStamp = _seenStamp = StampOf(options.AuthTokenFile);
        _snapshot = Build(string.IsNullOrWhiteSpace(options.AuthTokenFile) ? [] : ServerTokenFile.Load(options.AuthTokenFile, options.Domain));
        // Without tokens every client is one tenant (a loopback development server, or -AllowAnonymous): it gets the
        // server-wide session limit rather than one token's.
        Anonymous = NewTenant(Tenant.AnonymousKey, "anonymous", new ServerTokenEntry { TokenHash = Tenant.AnonymousKey, MaxSessions = options.MaxSessions });
    }

    /// <summary>True when the server has no tokens: every client is the anonymous tenant.</summary>
    public bool IsAnonymous { get; }

    /// <summary>The tenant of every client when <see cref="IsAnonymous"/>.</summary>
    public Tenant Anonymous { get; }

    /// <summary>Tenants known now (without the anonymous one).</summary>
    public int Count => Volatile.Read(ref _snapshot).ByKey.Count;

    /// <summary>Where the tokens came from, for the log.</summary>
    public string Source => string.IsNullOrWhiteSpace(_options.AuthTokenFile)
        ? "-AuthToken"
        : _options.AuthTokens.Count > 0 ? "-AuthToken and " + _options.AuthTokenFile : _options.AuthTokenFile!;

    /// <summary>The tenant a token belongs to, or null when it is refused.</summary>
    public Tenant? Authenticate(string? token)
    {
        if (IsAnonymous)
        {
            return Anonymous;
        }
        if (string.IsNullOrEmpty(token))
        {
            return null;
        }
        // Tokens are kept as SHA-256 digests; looking a digest up reveals nothing about the token it came from.
        return Volatile.Read(ref _snapshot).ByKey.GetValueOrDefault(ServerTokenFile.HashToken(token));
    }

    /// <summary>The current tenant with this key (its limits may have changed on reload), or null once its token is gone.</summary>
    public Tenant? Find(string key) =>
        key == Tenant.AnonymousKey ? (IsAnonymous ? Anonymous : null) : Volatile.Read(ref _snapshot).ByKey.GetValueOrDefault(key);

    /// <summary>
    /// Why <paramref name="tenantKey"/> may not take <paramref name="host"/> because of another tenant's reservation
    /// (the name itself, a parent of it, or a name under it), or null when no reservation stands in the way.
    /// </summary>
    public string? ReservationConflict(string host, string tenantKey)
    {
        var snapshot = Volatile.Read(ref _snapshot);
        if (snapshot.ReservedHosts.TryGetValue(host, out var owner) && owner.Key != tenantKey)
        {
            return $"The name {host} is reserved for another token.";
        }
        foreach (var parent in HostNames.Parents(host))
        {
            if (snapshot.ReservedHosts.TryGetValue(parent, out var parentOwner) && parentOwner.Key != tenantKey)
            {
                return $"The name {host} lies under {parent}, which is reserved for another token.";
            }
        }
        if (snapshot.ReservedUnder.TryGetValue(host, out var owners) && owners.Any(k => k != tenantKey))
        {
            return $"The name {host} is a parent of names reserved for another token.";
        }
        return null;
    }

    /// <summary>The tenants known now (without the anonymous one).</summary>
    public IReadOnlyCollection<Tenant> All => Volatile.Read(ref _snapshot).ByKey.Values;

    /// <summary>True when <paramref name="host"/> is reserved (for anyone): random names avoid them.</summary>
    public bool IsReserved(string host) => Volatile.Read(ref _snapshot).ReservedHosts.ContainsKey(host);

    /// <summary>The tenant that reserved a TCP port, or null.</summary>
    public Tenant? PortOwner(int port) => Volatile.Read(ref _snapshot).ReservedPorts.GetValueOrDefault(port);

    /// <summary>
    /// Looks at the token file (called once a second) and reads it again once it has changed and then held still for
    /// one look. A file without a token list (empty, only comments: what an editor leaves for a moment while it
    /// rewrites the file) keeps the tokens in force; only <c>tokens: []</c> removes them all. A file that cannot be
    /// used throws <see cref="ConfigurationException"/> (file:line:column) and leaves the tenants as they were; each
    /// change is read once, so one bad save gives one error.
    /// </summary>
    public TokenFileReload ReloadIfChanged()
    {
        if (string.IsNullOrWhiteSpace(_options.AuthTokenFile))
        {
            return TokenFileReload.None;
        }
        var stamp = StampOf(_options.AuthTokenFile);
        var previous = _seenStamp;
        _seenStamp = stamp;
        if (stamp == _readStamp || stamp != previous)
        {
            return TokenFileReload.None;
        }
        _readStamp = stamp;
        var content = ServerTokenFile.LoadContent(_options.AuthTokenFile, _options.Domain);
        var after = StampOf(_options.AuthTokenFile);
        if (after != stamp)
        {
            // Written to while it was read: what was read may be half of it. Read it once it holds still again.
            _readStamp = null;
            _seenStamp = after;
            return TokenFileReload.None;
        }
        if (!content.ListsTokens)
        {
            return TokenFileReload.KeptWithoutList;
        }
        var next = Build(content.Entries);
        var replaced = Interlocked.Exchange(ref _snapshot, next);
        return new TokenFileReload { Applied = true, Revoked = [.. replaced.ByKey.Keys.Where(k => !next.ByKey.ContainsKey(k))] };
    }

    private static (DateTime, long)? StampOf(string? path)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            return null;
        }
        var info = new FileInfo(path);
        return info.Exists ? (info.LastWriteTimeUtc, info.Length) : null;
    }

    private Snapshot Build(IReadOnlyList<ServerTokenEntry> fileEntries)
    {
        var byKey = new Dictionary<string, Tenant>(StringComparer.Ordinal);
        foreach (var token in _options.AuthTokens)
        {
            var key = ServerTokenFile.HashToken(token);
            byKey[key] = NewTenant(key, null, null);
        }
        var reservedHosts = new Dictionary<string, Tenant>(StringComparer.OrdinalIgnoreCase);
        var reservedUnder = new Dictionary<string, HashSet<string>>(StringComparer.OrdinalIgnoreCase);
        var reservedPorts = new Dictionary<int, Tenant>();
        foreach (var entry in fileEntries)
        {
            // The file's entry wins over the same token given as an option: it carries the names and limits.
            var tenant = NewTenant(entry.TokenHash, entry.Name, entry);
            byKey[entry.TokenHash] = tenant;
            foreach (var host in tenant.ReservedHosts)
            {
                reservedHosts[host] = tenant;
                foreach (var parent in HostNames.Parents(host))
                {
                    if (!reservedUnder.TryGetValue(parent, out var owners))
                    {
                        reservedUnder[parent] = owners = new HashSet<string>(StringComparer.Ordinal);
                    }
                    owners.Add(tenant.Key);
                }
            }
            foreach (var port in tenant.ReservedTcpPorts)
            {
                reservedPorts[port] = tenant;
            }
        }
        return new Snapshot(byKey, reservedHosts, reservedUnder, reservedPorts);
    }

    private Tenant NewTenant(string key, string? name, ServerTokenEntry? entry)
    {
        var domain = _options.Domain;
        var hosts = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        if (entry is not null)
        {
            foreach (var subdomain in entry.Subdomains)
            {
                hosts.Add(subdomain + "." + domain);
            }
            foreach (var hostname in entry.Hostnames)
            {
                hosts.Add(hostname);
            }
        }
        return new Tenant
        {
            Key = key,
            Name = name ?? (key == Tenant.AnonymousKey ? "anonymous" : string.Create(CultureInfo.InvariantCulture, $"token:{key[..8]}")),
            ReservedHosts = hosts,
            ReservedTcpPorts = entry is null ? new HashSet<int>() : [.. entry.TcpPorts],
            MaxSessions = entry?.MaxSessions ?? _options.MaxSessionsPerToken,
            MaxTunnelsPerSession = entry?.MaxTunnels ?? _options.MaxTunnelsPerSession,
            MaxTcpPorts = entry?.MaxTcpPorts ?? _options.MaxTcpPortsPerToken,
            MaxConnectionsPerTunnel = entry?.MaxConnectionsPerTunnel ?? _options.MaxConnectionsPerTunnel,
        };
    }

    private sealed record Snapshot(
        Dictionary<string, Tenant> ByKey,
        Dictionary<string, Tenant> ReservedHosts,
        Dictionary<string, HashSet<string>> ReservedUnder,
        Dictionary<int, Tenant> ReservedPorts);
}
