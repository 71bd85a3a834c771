using System.Globalization;
using TunnelPS.Engine.Cluster;
using TunnelPS.Engine.Configuration;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Server;

/// <summary>
/// Checks a server's options before anything is opened: every bad value is refused with a message that says what was
/// wrong and what to give instead. Returns the options normalized (the domain and the allowed host names lowercased,
/// without a trailing dot).
/// </summary>
internal static class ServerOptionsValidation
{
    public static TunnelServerOptions Validate(TunnelServerOptions options)
    {
        var domain = options.Domain?.Trim().TrimEnd('.').ToLowerInvariant() ?? "";
        if (domain.Length == 0 || !HostNames.IsValidHostname(domain))
        {
            throw new TunnelConfigurationException($"'{options.Domain}' is not a valid domain name for the server. Give a DNS name such as tunnel.example.com (default: localhost).");
        }
        if (options.Port is < 0 or > 65535 || options.HttpPort is < -1 or > 65535)
        {
            throw new TunnelConfigurationException("Server ports must be 0-65535 (0 picks a free port; -HttpPort -1 disables plain HTTP).");
        }
        if (options.TcpPortRange is { } range && (range.First < 1 || range.Last > 65535 || range.First > range.Last))
        {
            throw new TunnelConfigurationException($"The TCP port range {range.First}-{range.Last} is not valid; give two ports from 1 to 65535, the first not above the last.");
        }
        var patterns = new List<string>();
        foreach (var pattern in options.AllowedHostnames)
        {
            var normalized = pattern?.Trim().TrimEnd('.').ToLowerInvariant() ?? "";
            if (!HostNames.IsValidPattern(normalized))
            {
                throw new TunnelConfigurationException($"-AllowedHostname '{pattern}' is not a host name or a pattern such as *.example.org.");
            }
            var bare = normalized.StartsWith("*.", StringComparison.Ordinal) ? normalized[2..] : normalized;
            if (HostNames.IsSameOrParent(bare, domain) && !normalized.StartsWith("*.", StringComparison.Ordinal))
            {
                throw new TunnelConfigurationException($"-AllowedHostname '{pattern}' is the server's domain or a parent of it; that name is never given to a client.");
            }
            patterns.Add(normalized);
        }
        CheckPositive(options.MaxConnectionsPerIP, "-MaxConnectionsPerIP");
        CheckPositive(options.MaxConcurrentHandshakes, "-MaxConcurrentHandshakes");
        CheckPositive(options.MaxSessions, "-MaxSessions");
        CheckPositive(options.MaxSessionsPerToken, "-MaxSessionsPerToken");
        CheckPositive(options.MaxTunnelsPerSession, "-MaxTunnelsPerSession");
        CheckPositive(options.MaxConnectionsPerTunnel, "-MaxConnectionsPerTunnel");
        if (options.ClientHelloTimeout <= TimeSpan.Zero)
        {
            throw new TunnelConfigurationException(string.Create(CultureInfo.InvariantCulture, $"-ClientHelloTimeout must be positive (it is {options.ClientHelloTimeout})."));
        }
        if (options.MaxTcpPortsPerToken < 0 || options.MaxConnections < 0)
        {
            throw new TunnelConfigurationException("-MaxTcpPortsPerToken and -MaxConnections must not be negative (-MaxConnections 0 sizes it from the descriptor limit).");
        }
        _ = IPAccessList.Parse(null, options.DenyIP, "-DenyIP");
        if (options.Cluster is { } cluster)
        {
            ValidateCluster(cluster);
        }
        if (options.Acme is { } acme)
        {
            Acme.AcmeValidation.Check(acme, options.Certificate is not null, domain);
        }
        return options with { Domain = domain, AllowedHostnames = patterns };
    }

    private static void ValidateCluster(ClusterOptions cluster)
    {
        if (cluster.Endpoints.Count == 0)
        {
            throw new TunnelConfigurationException("-Cluster names no Redis server. Give redis://host:port.");
        }
        if (string.IsNullOrEmpty(cluster.Secret) || cluster.Secret.Length < 16)
        {
            throw new TunnelConfigurationException("A cluster needs a secret of at least 16 characters that every node shares: give -ClusterSecret (or -ClusterSecretName for a SecretManagement secret).");
        }
        if (!ClusterOptions.IsValidNodeName(cluster.NodeName))
        {
            throw new TunnelConfigurationException($"-NodeName '{cluster.NodeName}' is not a node name: use 1 to 64 letters, digits, '.', '-' or '_'.");
        }
        if (cluster.RedisCaFile is not null && !cluster.RedisTls)
        {
            throw new TunnelConfigurationException("-ClusterCaFile checks the certificate of a Redis reached over TLS, but -Cluster is not a rediss:// address. Use rediss://host:port, or leave -ClusterCaFile out.");
        }
        if (cluster.NodeTimeout < TimeSpan.FromMilliseconds(300) || cluster.StoreTimeout <= TimeSpan.Zero)
        {
            throw new TunnelConfigurationException("The cluster's node timeout must be at least 300 ms and its store timeout positive.");
        }
    }

    private static void CheckPositive(int value, string name)
    {
        if (value < 1)
        {
            throw new TunnelConfigurationException(string.Create(CultureInfo.InvariantCulture, $"{name} must be at least 1 (it is {value})."));
        }
    }
}
