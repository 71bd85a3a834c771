using System.Globalization;

namespace TunnelPS.Engine.Cluster;

/// <summary>
/// What makes a server one node of a cluster: the Redis store the nodes share, the secret they prove to each other,
/// and this node's name. Null on <see cref="Server.TunnelServerOptions.Cluster"/> keeps the single server unchanged.
/// </summary>
public sealed record ClusterOptions
{
    /// <summary>The Redis servers (host:port), as <see cref="Parse"/> reads them from redis://host:port[,host:port].</summary>
    public required IReadOnlyList<string> Endpoints { get; init; }

    /// <summary>The Redis password (from redis://:password@host), or null.</summary>
    public string? RedisPassword { get; init; }

    /// <summary>The Redis user (from redis://user:password@host), or null.</summary>
    public string? RedisUser { get; init; }

    /// <summary>
    /// The Sentinel service (the name of its <c>sentinel monitor</c> line) from redis-sentinel://host:port,.../service:
    /// <see cref="Endpoints"/> are then the sentinels, which tell the node the service's primary now and after a failover.
    /// </summary>
    public string? SentinelService { get; init; }

    /// <summary>True for rediss:// (TLS to Redis).</summary>
    public bool RedisTls { get; init; }

    /// <summary>
    /// A PEM file with the certificate authority (or authorities) that signed the Redis server's certificate, for
    /// rediss://; null trusts the host's own store. The server's name must match the address either way.
    /// </summary>
    public string? RedisCaFile { get; init; }

    /// <summary>The secret every node of the cluster shares (at least 16 characters).</summary>
    public required string Secret { get; init; }

    /// <summary>This node's name, unique in the cluster: letters, digits, '.', '-' and '_'. A restarted node with the same name rejoins as itself.</summary>
    public string NodeName { get; init; } = Environment.MachineName;

    /// <summary>The host:port other nodes dial to reach this node; null uses the server's domain and TLS port.</summary>
    public string? NodeAddress { get; init; }

    /// <summary>
    /// How long a node that stops its heartbeat still counts as alive. After that its clients' names may be taken back on
    /// other nodes at once (by their own token only); other tokens wait for the reconnect grace as on one server.
    /// </summary>
    public TimeSpan NodeTimeout { get; init; } = TimeSpan.FromSeconds(6);

    /// <summary>
    /// How long a node that forwards visitors remembers which node serves a name, so that a new visitor connection
    /// costs no Redis lookup; the owner confirms every forwarded connection, and a stale route is looked up again.
    /// Zero asks Redis for every new connection.
    /// </summary>
    public TimeSpan RouteCacheTime { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a Redis operation may take before it counts as failed.</summary>
    public TimeSpan StoreTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Reads a cluster address: redis://[user:password@]host[:port][,host[:port]...] (rediss:// for TLS; port 6379 by
    /// default), or redis-sentinel://[user:password@]host[:port][,host[:port]...]/service for the primary of a Sentinel
    /// service (port 26379 by default). Throws <see cref="TunnelConfigurationException"/> saying what is wrong.
    /// </summary>
    public static (IReadOnlyList<string> Endpoints, string? User, string? Password, bool Tls, string? SentinelService) Parse(string address)
    {
        var text = address?.Trim() ?? "";
        bool tls;
        string? service = null;
        var defaultPort = 6379;
        if (text.StartsWith("redis-sentinel://", StringComparison.OrdinalIgnoreCase))
        {
            tls = false;
            text = text["redis-sentinel://".Length..].TrimEnd('/');
            var slash = text.LastIndexOf('/');
            service = slash < 0 ? "" : text[(slash + 1)..];
            if (service.Length == 0 || service.Length > 128 || !service.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
            {
                throw new TunnelConfigurationException(service.Length == 0
                    ? $"-Cluster '{address}' names no Sentinel service. Give redis-sentinel://host1:26379,host2:26379/mymaster, where mymaster is the name in the sentinels' 'sentinel monitor' line."
                    : $"-Cluster '{address}': '{service}' is not a Sentinel service name (letters, digits, '-', '_' and '.', at most 128).");
            }
            text = text[..slash];
            defaultPort = 26379;
        }
        else if (text.StartsWith("redis://", StringComparison.OrdinalIgnoreCase))
        {
            tls = false;
            text = text["redis://".Length..];
        }
        else if (text.StartsWith("rediss://", StringComparison.OrdinalIgnoreCase))
        {
            tls = true;
            text = text["rediss://".Length..];
        }
        else
        {
            throw new TunnelConfigurationException($"-Cluster '{address}' is not a Redis address. Give redis://host:port (several nodes of one Redis as redis://host1:port,host2:port, TLS as rediss://, a Sentinel service as redis-sentinel://host1:26379,host2:26379/mymaster).");
        }
        string? user = null;
        string? password = null;
        var at = text.LastIndexOf('@');
        if (at >= 0)
        {
            var credentials = Uri.UnescapeDataString(text[..at]);
            text = text[(at + 1)..];
            var colon = credentials.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0)
            {
                password = credentials;
            }
            else
            {
                user = colon == 0 ? null : credentials[..colon];
                password = credentials[(colon + 1)..];
            }
        }
        text = text.TrimEnd('/');
        var endpoints = new List<string>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries))
        {
            var endpoint = part.StartsWith("redis://", StringComparison.OrdinalIgnoreCase) ? part["redis://".Length..] : part;
            if (endpoint.Length == 0)
            {
                throw new TunnelConfigurationException($"-Cluster '{address}' names an empty Redis server. Give redis://host:port[,host:port].");
            }
            var (host, port) = SplitHostPort(endpoint, address!, defaultPort);
            endpoints.Add(host.Contains(':', StringComparison.Ordinal) ? string.Create(CultureInfo.InvariantCulture, $"[{host}]:{port}") : string.Create(CultureInfo.InvariantCulture, $"{host}:{port}"));
        }
        return (endpoints, user, password, tls, service);
    }

    private static (string Host, int Port) SplitHostPort(string endpoint, string address, int defaultPort)
    {
        string host;
        string? portText = null;
        if (endpoint.StartsWith('['))
        {
            var close = endpoint.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                throw new TunnelConfigurationException($"-Cluster '{address}': '{endpoint}' opens an IPv6 address with '[' but does not close it.");
            }
            host = endpoint[1..close];
            if (close + 1 < endpoint.Length)
            {
                if (endpoint[close + 1] != ':')
                {
                    throw new TunnelConfigurationException($"-Cluster '{address}': '{endpoint}' has text after the IPv6 address that is not :port.");
                }
                portText = endpoint[(close + 2)..];
            }
        }
        else
        {
            var colon = endpoint.LastIndexOf(':');
            host = colon < 0 ? endpoint : endpoint[..colon];
            portText = colon < 0 ? null : endpoint[(colon + 1)..];
        }
        if (host.Length == 0 || host.Any(c => char.IsWhiteSpace(c) || c is '/' or '?' or '#'))
        {
            throw new TunnelConfigurationException($"-Cluster '{address}': '{endpoint}' is not host:port.");
        }
        var port = defaultPort;
        if (portText is not null && (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535))
        {
            throw new TunnelConfigurationException($"-Cluster '{address}': '{portText}' is not a port (1-65535).");
        }
        return (host, port);
    }

    /// <summary>True when <paramref name="name"/> may name a node.</summary>
    public static bool IsValidNodeName(string? name) =>
        name is { Length: > 0 and <= 64 } && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_');
}
