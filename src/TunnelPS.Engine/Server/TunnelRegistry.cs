using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace TunnelPS.Engine.Server;

/// <summary>
/// Which session serves which public name: http/https tunnels by (scheme, host), tcp tunnels by port. Names of a
/// disconnected client stay reserved for its reconnect for a grace period, then are released.
/// </summary>
internal sealed class TunnelRegistry
{
    // One table per scheme, keyed by host, so a lookup per request builds no key string.
    private readonly ConcurrentDictionary<string, RegisteredTunnel> _httpHosts = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, RegisteredTunnel> _httpsHosts = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<int, RegisteredTunnel> _tcp = new();
    private readonly object _gate = new();

    private ConcurrentDictionary<string, RegisteredTunnel> Hosts(string scheme) => scheme == "https" ? _httpsHosts : _httpHosts;

    /// <summary>Finds the http or https tunnel for a host (without port).</summary>
    public RegisteredTunnel? FindHttp(string scheme, string host) =>
        Hosts(scheme).TryGetValue(host, out var tunnel) ? tunnel : null;

    public RegisteredTunnel? FindTcp(int port) => _tcp.TryGetValue(port, out var tunnel) ? tunnel : null;

    public IReadOnlyList<RegisteredTunnel> All() => [.. _httpHosts.Values, .. _httpsHosts.Values, .. _tcp.Values];

    /// <summary>True when a name is free for <paramref name="clientId"/> (unused, or held/reserved by the same client, or its reservation lapsed).</summary>
    public bool IsHttpNameFree(string scheme, string host, string clientId, DateTimeOffset now)
    {
        var existing = FindHttp(scheme, host);
        return existing is null || existing.ClientId == clientId || (existing.Session is null && existing.ReservedUntil <= now);
    }

    /// <summary>Registers an http/https tunnel; returns the existing holder's URL when the name is taken.</summary>
    public bool TryAddHttp(string scheme, RegisteredTunnel tunnel, DateTimeOffset now, out RegisteredTunnel? replaced)
    {
        lock (_gate)
        {
            replaced = null;
            var hosts = Hosts(scheme);
            if (hosts.TryGetValue(tunnel.Host, out var existing))
            {
                if (existing.ClientId != tunnel.ClientId && !(existing.Session is null && existing.ReservedUntil <= now))
                {
                    return false;
                }
                replaced = existing;
            }
            hosts[tunnel.Host] = tunnel;
            return true;
        }
    }

    /// <summary>Claims a tcp port for a tunnel; false when another client holds it.</summary>
    public bool TryAddTcp(RegisteredTunnel tunnel, DateTimeOffset now, out RegisteredTunnel? replaced)
    {
        lock (_gate)
        {
            replaced = null;
            if (_tcp.TryGetValue(tunnel.Port, out var existing))
            {
                if (existing.ClientId != tunnel.ClientId && !(existing.Session is null && existing.ReservedUntil <= now))
                {
                    return false;
                }
                replaced = existing;
            }
            _tcp[tunnel.Port] = tunnel;
            return true;
        }
    }

    /// <summary>Finds a reserved tcp tunnel of this client (to give a reconnecting client its old port).</summary>
    public RegisteredTunnel? FindReservedTcp(int port, string clientId) =>
        _tcp.TryGetValue(port, out var t) && t.ClientId == clientId ? t : null;

    /// <summary>Removes one tunnel if it is still the registered one.</summary>
    public bool Remove(RegisteredTunnel tunnel)
    {
        lock (_gate)
        {
            if (tunnel.Protocol == "tcp")
            {
                return _tcp.TryGetValue(tunnel.Port, out var t) && ReferenceEquals(t, tunnel) && _tcp.TryRemove(tunnel.Port, out _);
            }
            var hosts = Hosts(tunnel.Protocol);
            return hosts.TryGetValue(tunnel.Host, out var h) && ReferenceEquals(h, tunnel) && hosts.TryRemove(tunnel.Host, out _);
        }
    }

    /// <summary>Removes reservations whose grace period has passed; returns them so their listeners can close.</summary>
    public List<RegisteredTunnel> RemoveExpired(DateTimeOffset now)
    {
        var expired = new List<RegisteredTunnel>();
        foreach (var tunnel in All())
        {
            if (tunnel.Session is null && tunnel.ReservedUntil <= now && Remove(tunnel))
            {
                expired.Add(tunnel);
            }
        }
        return expired;
    }

    /// <summary>A random, DNS-safe name: 10 lowercase letters and digits.</summary>
    public static string RandomName()
    {
        const string alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
        Span<char> name = stackalloc char[10];
        name[0] = alphabet[RandomNumberGenerator.GetInt32(26)];
        for (var i = 1; i < name.Length; i++)
        {
            name[i] = alphabet[RandomNumberGenerator.GetInt32(alphabet.Length)];
        }
        return new string(name);
    }

    /// <summary>True for a valid DNS label (a subdomain): 1-63 of a-z, 0-9 and '-', not starting or ending with '-'.</summary>
    public static bool IsValidLabel(string label)
    {
        if (label.Length is 0 or > 63 || label[0] == '-' || label[^1] == '-')
        {
            return false;
        }
        foreach (var c in label)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c == '-'))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>True for a valid host name made of DNS labels.</summary>
    public static bool IsValidHostname(string host) =>
        host.Length is > 0 and <= 253 && host.Split('.').All(IsValidLabel);
}
