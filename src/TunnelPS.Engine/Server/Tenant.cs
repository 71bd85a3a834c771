namespace TunnelPS.Engine.Server;

/// <summary>
/// One token's tenancy: what its sessions may hold and what no other token may take. Names and ports belong to a
/// tenant by <see cref="Key"/> (the SHA-256 of the token), so a token file reload keeps ownership.
/// </summary>
internal sealed class Tenant
{
    /// <summary>The key of the tenant of a server without tokens (loopback only, or -AllowAnonymous).</summary>
    public const string AnonymousKey = "anonymous";

    public required string Key { get; init; }

    /// <summary>What logs and Get-TunnelServer show: the name from the token file, or "token:" and 8 hex digits of the key.</summary>
    public required string Name { get; init; }

    /// <summary>Full host names reserved for this tenant (its subdomains under the domain, and its hostnames).</summary>
    public IReadOnlySet<string> ReservedHosts { get; init; } = new HashSet<string>();

    /// <summary>TCP ports reserved for this tenant (usable even outside the server's range).</summary>
    public IReadOnlySet<int> ReservedTcpPorts { get; init; } = new HashSet<int>();

    public required int MaxSessions { get; init; }
    public required int MaxTunnelsPerSession { get; init; }
    public required int MaxTcpPorts { get; init; }
    public required int MaxConnectionsPerTunnel { get; init; }

    public override string ToString() => Name;
}
