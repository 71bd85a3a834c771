using TunnelPS.Engine.Configuration;

namespace TunnelPS.Fuzz;

/// <summary>The targets for the files a server reads: its token file (read again whenever it changes) and its config file.</summary>
internal static partial class FuzzTargets
{
    private const string TokenFileName = "tokens.yml";
    private const string ServerConfigName = "server.yml";
    private const string FuzzDomain = "tunnel.example.com";
    private const string FuzzBaseDirectory = "/srv/tunnelps";

    /// <summary>
    /// <see cref="ServerTokenFile.ParseContent"/> on the bytes decoded as the loader decodes a file. The contract is a
    /// <see cref="ConfigurationException"/> that names the file, a line and a column (the reload's warning quotes it);
    /// tokens it accepts must hold what the server relies on: at most <see cref="ServerTokenFile.MaxTokens"/>, each a
    /// distinct SHA-256, no name or port reserved by two tokens, no token's name under another's, limits in range, and
    /// no tokens without a list.
    /// </summary>
    public static void TokenFile(ReadOnlySpan<byte> input)
    {
        ServerTokenFileContent content;
        try
        {
            content = ServerTokenFile.ParseContent(ConfigFileText.Decode(input), TokenFileName, FuzzDomain);
        }
        catch (ConfigurationException ex)
        {
            CheckPosition(ex, TokenFileName);
            return;
        }
        Check(content.ListsTokens || content.Entries.Count == 0, "Tokens were read from a file without a token list.");
        Check(content.Entries.Count <= ServerTokenFile.MaxTokens, $"{content.Entries.Count} tokens were read, more than the bound.");
        var hashes = new HashSet<string>(StringComparer.Ordinal);
        var hosts = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        var ports = new Dictionary<int, int>();
        for (var i = 0; i < content.Entries.Count; i++)
        {
            var entry = content.Entries[i];
            Check(entry.TokenHash.Length == 64 && entry.TokenHash.All(char.IsAsciiHexDigitLower),
                $"Token {i + 1}'s hash '{entry.TokenHash}' is not 64 lowercase hex digits.");
            Check(hashes.Add(entry.TokenHash), $"Token {i + 1} is accepted twice.");
            Check(entry.MaxSessions is null or >= 1 and <= 100_000 && entry.MaxTunnels is null or >= 1 and <= 100_000 &&
                entry.MaxTcpPorts is null or >= 0 and <= 65_535 && entry.MaxConnectionsPerTunnel is null or >= 1 and <= 1_000_000,
                $"Token {i + 1} has a limit out of range.");
            foreach (var label in entry.Subdomains)
            {
                Check(label == label.ToLowerInvariant() && label.Split('.').All(HostNames.IsValidLabel), $"Token {i + 1} reserves the subdomain '{label}'.");
                Reserve(hosts, label + "." + FuzzDomain, i);
            }
            foreach (var host in entry.Hostnames)
            {
                Check(host == host.ToLowerInvariant() && HostNames.IsValidHostname(host) && !HostNames.IsSameOrParent(host, FuzzDomain), $"Token {i + 1} reserves the host name '{host}'.");
                Reserve(hosts, host, i);
            }
            foreach (var port in entry.TcpPorts)
            {
                Check(port is >= 1 and <= 65535, $"Token {i + 1} reserves port {port}.");
                Check(ports.TryAdd(port, i) || ports[port] == i, $"Port {port} is reserved by tokens {ports.GetValueOrDefault(port) + 1} and {i + 1}.");
            }
        }
        foreach (var (host, owner) in hosts)
        {
            foreach (var parent in HostNames.Parents(host))
            {
                Check(!hosts.TryGetValue(parent, out var other) || other == owner, $"'{host}' (token {owner + 1}) lies under '{parent}' (token {other + 1}).");
            }
        }
    }

    /// <summary>
    /// <see cref="ServerConfigLoader.Parse"/> on the bytes decoded as the loader decodes a file. The contract is a
    /// <see cref="ConfigurationException"/> with file, line and column; a config it accepts holds only values that
    /// Start-TunnelServer can take as they are (ports, limits and durations in range, a valid domain, absolute paths, a
    /// cluster section with a Redis address and one form of secret).
    /// </summary>
    public static void ServerConfig(ReadOnlySpan<byte> input)
    {
        ServerConfig config;
        try
        {
            config = ServerConfigLoader.Parse(ConfigFileText.Decode(input), ServerConfigName, FuzzBaseDirectory);
        }
        catch (ConfigurationException ex)
        {
            CheckPosition(ex, ServerConfigName);
            return;
        }
        Check(config.Port is null or >= 0 and <= 65535 && config.HttpPort is null or >= -1 and <= 65535, "A port out of range was accepted.");
        Check(config.Domain is null || config.Domain == config.Domain.ToLowerInvariant() && HostNames.IsValidHostname(config.Domain), $"The domain '{config.Domain}' was accepted.");
        foreach (var path in new[] { config.CertificatePath, config.AuthTokenFile, config.LogPath })
        {
            Check(path is null || Path.IsPathRooted(path), $"The path '{path}' is not absolute.");
        }
        Check(config.TcpPortRange is null || config.TcpPortRange.Value.First is >= 1 and <= 65535 && config.TcpPortRange.Value.Last is >= 1 and <= 65535 && config.TcpPortRange.Value.First <= config.TcpPortRange.Value.Last,
            $"The port range {config.TcpPortRange} was accepted.");
        foreach (var duration in new[] { config.RequestHeadTimeout, config.VisitorWriteTimeout, config.IdleTimeout })
        {
            Check(duration is null || duration > TimeSpan.Zero && duration <= TimeSpan.FromDays(1), $"The duration {duration} was accepted.");
        }
        Check(config.MaxConnections is null or >= 0 && config.MaxConnectionsPerIP is null or >= 1 && config.MaxConcurrentHandshakes is null or >= 1 &&
            config.MaxSessions is null or >= 1 && config.MaxSessionsPerToken is null or >= 1 && config.MaxTunnelsPerSession is null or >= 1 &&
            config.MaxTcpPortsPerToken is null or >= 0 && config.MaxConnectionsPerTunnel is null or >= 1, "A limit out of range was accepted.");
        if (config.Cluster is { } cluster)
        {
            Check(!string.IsNullOrEmpty(cluster.Redis), "A cluster section without Redis was accepted.");
            Check(cluster.Secret is null || cluster.SecretName is null, "Both a cluster secret and a secret name were accepted.");
            Check(cluster.Secret is null || cluster.Secret.Length >= 16, "A cluster secret shorter than 16 characters was accepted.");
        }
        foreach (var (key, (line, column)) in config.Positions)
        {
            Check(line >= 1 && column >= 1, $"The position of '{key}' is {line}:{column}.");
        }
    }

    private static void Reserve(Dictionary<string, int> hosts, string host, int entry) =>
        Check(hosts.TryAdd(host, entry) || hosts[host] == entry, $"'{host}' is reserved by tokens {hosts[host] + 1} and {entry + 1}.");

    /// <summary>A config error must say where: file:line:column, both 1-based, at the start of its message.</summary>
    private static void CheckPosition(ConfigurationException ex, string source) =>
        Check(ex.Path == source && ex.Line >= 1 && ex.Column >= 1 && ex.Message.StartsWith($"{source}:{ex.Line}:{ex.Column}: ", StringComparison.Ordinal),
            $"A config error without its place ({ex.Path}:{ex.Line}:{ex.Column}): {ex.Message}");
}
