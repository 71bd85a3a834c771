using System.Collections.Concurrent;
using TunnelPS.Engine.Configuration;

namespace TunnelPS.Engine.Server;

/// <summary>
/// Which session serves which public name, and which tenant owns it: http/https tunnels by (scheme, host), tcp tunnels
/// by port. A host name belongs to one tenant for every scheme, and no tenant's name may lie under or above another
/// tenant's (a parent's cookies reach its children). Names of a session that ended stay its tenant's until their
/// reservation lapses: the same tenant takes them back at once, no other can. Lookups on the request path are
/// lock-free; changes take one lock.
/// </summary>
internal sealed class TunnelRegistry
{
    // One table per scheme, keyed by host, so a lookup per request builds no key string.
    private readonly ConcurrentDictionary<string, RegisteredTunnel> _httpHosts = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, RegisteredTunnel> _httpsHosts = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<int, RegisteredTunnel> _tcp = new();
    private readonly object _gate = new();

    // Under _gate: the owner of each registered host (with how many schemes it holds), how many names each owner
    // holds under each parent, and how many tcp ports each owner holds.
    private readonly Dictionary<string, (string Owner, int Schemes)> _owners = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, Dictionary<string, int>> _under = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, int> _tcpPortsByOwner = new(StringComparer.Ordinal);

    private ConcurrentDictionary<string, RegisteredTunnel> Hosts(string scheme) => scheme == "https" ? _httpsHosts : _httpHosts;

    /// <summary>Finds the http or https tunnel for a host (without port).</summary>
    public RegisteredTunnel? FindHttp(string scheme, string host) =>
        Hosts(scheme).TryGetValue(host, out var tunnel) ? tunnel : null;

    public RegisteredTunnel? FindTcp(int port) => _tcp.TryGetValue(port, out var tunnel) ? tunnel : null;

    public IReadOnlyList<RegisteredTunnel> All() => [.. _httpHosts.Values, .. _httpsHosts.Values, .. _tcp.Values];

    /// <summary>True when no tunnel of any scheme holds <paramref name="host"/> (random names are chosen among these).</summary>
    public bool IsHostFree(string host)
    {
        lock (_gate)
        {
            return !_owners.ContainsKey(host);
        }
    }

    /// <summary>TCP ports a tenant holds now (served or reserved).</summary>
    public int TcpPortCount(string owner)
    {
        lock (_gate)
        {
            return _tcpPortsByOwner.GetValueOrDefault(owner);
        }
    }

    /// <summary>
    /// Registers an http/https tunnel. Returns null on success, or why the name cannot be had: another tenant owns it
    /// (for any scheme), another live session of the same tenant serves it, or it nests under or above another
    /// tenant's name. A lapsed reservation in the way is removed first.
    /// </summary>
    public string? TryAddHttp(string scheme, RegisteredTunnel tunnel, DateTimeOffset now)
    {
        var host = tunnel.Host;
        var url = tunnel.Url;
        lock (_gate)
        {
            foreach (var other in new[] { "http", "https" })
            {
                if (Hosts(other).TryGetValue(host, out var held))
                {
                    if (held.IsExpired(now))
                    {
                        RemoveLocked(held);
                        continue;
                    }
                    if (held.Owner != tunnel.Owner)
                    {
                        return $"The tunnel {url} is already registered by another client. Choose another -Subdomain or -Hostname.";
                    }
                    if (other == scheme && held.Session is not null)
                    {
                        return ReferenceEquals(held.Session, tunnel.Session)
                            ? $"This client already has the tunnel {url}."
                            : $"The tunnel {url} is already open in another session of the same token. Stop that tunnel first (Stop-Tunnel), or choose another name.";
                    }
                }
            }
            if (NestingConflictLocked(host, tunnel.Owner, now) is { } nesting)
            {
                return nesting;
            }
            var hosts = Hosts(scheme);
            if (hosts.TryGetValue(host, out var reclaimed))
            {
                // The same tenant takes back a name its ended session left reserved.
                RemoveLocked(reclaimed);
            }
            hosts[host] = tunnel;
            AddOwnerLocked(host, tunnel.Owner);
            return null;
        }
    }

    /// <summary>
    /// Why <paramref name="owner"/> may not hold <paramref name="host"/> because of another tenant's registered names
    /// (a parent held by another tenant, or names of another tenant under it), or null.
    /// </summary>
    private string? NestingConflictLocked(string host, string owner, DateTimeOffset now)
    {
        foreach (var parent in HostNames.Parents(host))
        {
            if (_owners.TryGetValue(parent, out var entry) && entry.Owner != owner && !HeldOnlyByExpiredLocked(parent, now))
            {
                return $"The name {host} lies under {parent}, which another client holds. Choose a name that is not under another tenant's.";
            }
        }
        if (_under.TryGetValue(host, out var owners))
        {
            foreach (var (other, count) in owners)
            {
                if (other != owner && count > 0)
                {
                    return $"The name {host} is a parent of names another client holds. Choose another name.";
                }
            }
        }
        return null;
    }

    private bool HeldOnlyByExpiredLocked(string host, DateTimeOffset now)
    {
        var expired = true;
        foreach (var scheme in new[] { "http", "https" })
        {
            if (Hosts(scheme).TryGetValue(host, out var held))
            {
                if (held.IsExpired(now))
                {
                    RemoveLocked(held);
                }
                else
                {
                    expired = false;
                }
            }
        }
        return expired;
    }

    /// <summary>
    /// Claims a tcp port for a tunnel. Returns null on success or why not: another tenant holds it, or another live
    /// session of the same tenant does. A lapsed or same-tenant reservation in the way is replaced.
    /// </summary>
    public string? TryAddTcp(RegisteredTunnel tunnel, DateTimeOffset now)
    {
        lock (_gate)
        {
            if (_tcp.TryGetValue(tunnel.Port, out var held))
            {
                if (!held.IsExpired(now) && (held.Owner != tunnel.Owner || held.Session is not null))
                {
                    return $"The remote port {tunnel.Port} is already used by another tunnel.";
                }
                RemoveLocked(held);
            }
            _tcp[tunnel.Port] = tunnel;
            _tcpPortsByOwner[tunnel.Owner] = _tcpPortsByOwner.GetValueOrDefault(tunnel.Owner) + 1;
            return null;
        }
    }

    /// <summary>The tcp tunnel on <paramref name="port"/> that <paramref name="owner"/> may take back (its session ended), or null.</summary>
    public RegisteredTunnel? FindReclaimableTcp(int port, string owner, DateTimeOffset now) =>
        _tcp.TryGetValue(port, out var t) && t.Owner == owner && t.Session is null && !t.IsExpired(now) ? t : null;

    /// <summary>Removes one tunnel if it is still the registered one.</summary>
    public bool Remove(RegisteredTunnel tunnel)
    {
        lock (_gate)
        {
            return RemoveLocked(tunnel);
        }
    }

    private bool RemoveLocked(RegisteredTunnel tunnel)
    {
        if (tunnel.Protocol == "tcp")
        {
            if (_tcp.TryGetValue(tunnel.Port, out var t) && ReferenceEquals(t, tunnel) && _tcp.TryRemove(tunnel.Port, out _))
            {
                var left = _tcpPortsByOwner.GetValueOrDefault(tunnel.Owner) - 1;
                if (left <= 0)
                {
                    _tcpPortsByOwner.Remove(tunnel.Owner);
                }
                else
                {
                    _tcpPortsByOwner[tunnel.Owner] = left;
                }
                return true;
            }
            return false;
        }
        var hosts = Hosts(tunnel.Protocol);
        if (hosts.TryGetValue(tunnel.Host, out var h) && ReferenceEquals(h, tunnel) && hosts.TryRemove(tunnel.Host, out _))
        {
            RemoveOwnerLocked(tunnel.Host);
            return true;
        }
        return false;
    }

    private void AddOwnerLocked(string host, string owner)
    {
        if (_owners.TryGetValue(host, out var entry))
        {
            _owners[host] = (owner, entry.Schemes + 1);
            return;
        }
        _owners[host] = (owner, 1);
        foreach (var parent in HostNames.Parents(host))
        {
            if (!_under.TryGetValue(parent, out var counts))
            {
                _under[parent] = counts = new Dictionary<string, int>(StringComparer.Ordinal);
            }
            counts[owner] = counts.GetValueOrDefault(owner) + 1;
        }
    }

    private void RemoveOwnerLocked(string host)
    {
        if (!_owners.TryGetValue(host, out var entry))
        {
            return;
        }
        if (entry.Schemes > 1)
        {
            _owners[host] = (entry.Owner, entry.Schemes - 1);
            return;
        }
        _owners.Remove(host);
        foreach (var parent in HostNames.Parents(host))
        {
            if (_under.TryGetValue(parent, out var counts) && counts.TryGetValue(entry.Owner, out var n))
            {
                if (n <= 1)
                {
                    counts.Remove(entry.Owner);
                    if (counts.Count == 0)
                    {
                        _under.Remove(parent);
                    }
                }
                else
                {
                    counts[entry.Owner] = n - 1;
                }
            }
        }
    }

    /// <summary>Removes reservations whose grace period has passed; returns them so their listeners can close.</summary>
    public List<RegisteredTunnel> RemoveExpired(DateTimeOffset now)
    {
        var expired = new List<RegisteredTunnel>();
        foreach (var tunnel in All())
        {
            if (tunnel.IsExpired(now) && Remove(tunnel))
            {
                expired.Add(tunnel);
            }
        }
        return expired;
    }
}
