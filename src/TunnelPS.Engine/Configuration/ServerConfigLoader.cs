using System.Globalization;
using System.Net;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Configuration;

/// <summary>
/// Reads a server config file (YAML) for <c>Start-TunnelServer -ConfigPath</c>: <c>domain</c>, <c>port</c>,
/// <c>http_port</c>, <c>bind_address</c>, <c>allow_anonymous</c>, <c>certificate_path</c>, <c>auth_token_file</c>,
/// <c>auth_token_secrets</c>, <c>allowed_hostnames</c>, <c>deny_ip</c>, <c>tcp_port_range</c>, <c>log_path</c>, a
/// <c>limits:</c> map (the -Max* limits and timeouts) and a <c>cluster:</c> map (<c>redis</c>, <c>secret</c> or
/// <c>secret_name</c>, <c>redis_ca_file</c>, <c>redis_password_name</c>, <c>node_name</c>, <c>node_address</c>), and
/// <c>inline_completions</c> (false turns inline socket completions off, as -NoInlineCompletions), and an <c>acme:</c>
/// map (see <see cref="ServerAcmeConfig"/>). Every problem is a <see cref="ConfigurationException"/>
/// at the line and column of the value.
/// </summary>
public static partial class ServerConfigLoader
{
    private const long MaxFileLength = 1024 * 1024;

    private static readonly string[] TopLevelKeys =
        ["domain", "port", "http_port", "bind_address", "allow_anonymous", "certificate_path", "auth_token_file", "auth_token_secrets",
         "allowed_hostnames", "deny_ip", "tcp_port_range", "log_path", "limits", "cluster", "inline_completions", "acme"];

    private static readonly string[] LimitKeys =
        ["max_connections", "max_connections_per_ip", "max_concurrent_handshakes", "max_sessions", "max_sessions_per_token",
         "max_tunnels_per_session", "max_tcp_ports_per_token", "max_connections_per_tunnel", "request_head_timeout",
         "visitor_write_timeout", "idle_timeout", "client_hello_timeout"];

    private static readonly string[] ClusterKeys = ["redis", "redis_ca_file", "redis_password_name", "secret", "secret_name", "node_name", "node_address"];

    /// <summary>Reads and validates the file (an absolute path).</summary>
    /// <exception cref="ConfigurationException">Kind NotFound when the file does not exist; InvalidConfiguration for everything else.</exception>
    public static ServerConfig Load(string path)
    {
        var text = ConfigFileText.Read(path, MaxFileLength, "server config file", "Create it (see Get-Help Start-TunnelServer -Parameter ConfigPath), or give the path of an existing one.");
        return Parse(text, path, Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".");
    }

    /// <summary>Parses config text; <paramref name="sourceName"/> names it in messages, relative paths are under <paramref name="baseDirectory"/>.</summary>
    public static ServerConfig Parse(string yaml, string sourceName, string baseDirectory)
    {
        ArgumentNullException.ThrowIfNull(yaml);
        ArgumentNullException.ThrowIfNull(sourceName);
        ArgumentNullException.ThrowIfNull(baseDirectory);
        var root = ConfigYamlReader.Read(yaml, sourceName);
        return new Reader(sourceName, baseDirectory).Read(root);
    }

    /// <summary>A TCP port range written first-last (both 1-65535, first not above last), as -TcpPortRange and tcp_port_range take it.</summary>
    public static bool TryParsePortRange(string text, out (int First, int Last) range)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parts = text.Split('-', StringSplitOptions.TrimEntries);
        if (parts.Length == 2
            && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var first)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var last)
            && first is >= 1 and <= 65535 && last is >= 1 and <= 65535 && first <= last)
        {
            range = (first, last);
            return true;
        }
        range = default;
        return false;
    }

    /// <summary>A duration: seconds as a number (<c>30</c>, <c>2.5</c>) or with a unit (<c>500ms</c>, <c>30s</c>, <c>5m</c>, <c>1h</c>).</summary>
    internal static bool TryParseDuration(string text, out TimeSpan value)
    {
        value = default;
        var (number, scale) = text switch
        {
            _ when text.EndsWith("ms", StringComparison.OrdinalIgnoreCase) => (text[..^2], 0.001),
            _ when text.EndsWith('s') || text.EndsWith('S') => (text[..^1], 1.0),
            _ when text.EndsWith('m') || text.EndsWith('M') => (text[..^1], 60.0),
            _ when text.EndsWith('h') || text.EndsWith('H') => (text[..^1], 3600.0),
            _ => (text, 1.0),
        };
        if (!double.TryParse(number.Trim(), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var n) || double.IsNaN(n) || n * scale > TimeSpan.FromDays(1).TotalSeconds)
        {
            return false;
        }
        value = TimeSpan.FromSeconds(n * scale);
        return value > TimeSpan.Zero;
    }

    private sealed partial class Reader(string source, string baseDirectory) : ConfigValueReader(source)
    {
        private readonly Dictionary<string, (int Line, int Column)> _positions = new(StringComparer.Ordinal);

        public ServerConfig Read(ConfigYamlNode? root)
        {
            var config = new ServerConfig { SourcePath = Source, Positions = _positions };
            if (root is null || root is ConfigYamlScalar { IsNull: true })
            {
                return config;
            }
            if (root is not ConfigYamlMapping map)
            {
                throw Fail(root, "The file is not a map", "Write one 'key: value' per line, e.g. 'domain: tunnel.example.com'.");
            }
            foreach (var (key, value) in map.Entries)
            {
                _positions[key.Value] = (value.Line, value.Column);
                config = key.Value switch
                {
                    "domain" => config with { Domain = Domain(key, value) },
                    "port" => config with { Port = Int(key, value, 0, 65535, allowSign: true) },
                    "http_port" => config with { HttpPort = Int(key, value, -1, 65535, allowSign: true) },
                    "bind_address" => config with { BindAddress = Address(key, value) },
                    "allow_anonymous" => config with { AllowAnonymous = Bool(key, value) },
                    "certificate_path" => config with { CertificatePath = FilePath(key, value) },
                    "auth_token_file" => config with { AuthTokenFile = FilePath(key, value) },
                    "auth_token_secrets" => config with { AuthTokenSecrets = List(key, value) },
                    "allowed_hostnames" => config with { AllowedHostnames = Patterns(key, value) },
                    "deny_ip" => config with { DenyIP = IPRules(key, value) },
                    "tcp_port_range" => config with { TcpPortRange = PortRange(key, value) },
                    "log_path" => config with { LogPath = FilePath(key, value) },
                    "limits" => ReadLimits(config, key, value),
                    "cluster" => config with { Cluster = ReadCluster(key, value) },
                    "inline_completions" => config with { InlineCompletions = Bool(key, value) },
                    "acme" => config with { Acme = ReadAcme(key, value) },
                    _ => throw Unknown(key, TopLevelKeys, "top-level key"),
                };
            }
            return config;
        }

        private ServerConfig ReadLimits(ServerConfig config, ConfigYamlScalar key, ConfigYamlNode value)
        {
            foreach (var (name, item) in Section(key, value))
            {
                _positions["limits." + name.Value] = (item.Line, item.Column);
                config = name.Value switch
                {
                    "max_connections" => config with { MaxConnections = Int(name, item, 0, 10_000_000, allowSign: true) },
                    "max_connections_per_ip" => config with { MaxConnectionsPerIP = Int(name, item, 1, 10_000_000, allowSign: true) },
                    "max_concurrent_handshakes" => config with { MaxConcurrentHandshakes = Int(name, item, 1, 100_000, allowSign: true) },
                    "max_sessions" => config with { MaxSessions = Int(name, item, 1, 1_000_000, allowSign: true) },
                    "max_sessions_per_token" => config with { MaxSessionsPerToken = Int(name, item, 1, 1_000_000, allowSign: true) },
                    "max_tunnels_per_session" => config with { MaxTunnelsPerSession = Int(name, item, 1, 100_000, allowSign: true) },
                    "max_tcp_ports_per_token" => config with { MaxTcpPortsPerToken = Int(name, item, 0, 65535, allowSign: true) },
                    "max_connections_per_tunnel" => config with { MaxConnectionsPerTunnel = Int(name, item, 1, 10_000_000, allowSign: true) },
                    "request_head_timeout" => config with { RequestHeadTimeout = Duration(name, item) },
                    "visitor_write_timeout" => config with { VisitorWriteTimeout = Duration(name, item) },
                    "idle_timeout" => config with { IdleTimeout = Duration(name, item) },
                    "client_hello_timeout" => config with { ClientHelloTimeout = Duration(name, item) },
                    _ => throw Unknown(name, LimitKeys, "limit"),
                };
            }
            return config;
        }

        private ServerClusterConfig? ReadCluster(ConfigYamlScalar key, ConfigYamlNode value)
        {
            if (value is ConfigYamlScalar { IsNull: true })
            {
                return null;
            }
            var cluster = new ServerClusterConfig();
            ConfigYamlScalar? secretKey = null;
            foreach (var (name, item) in Section(key, value))
            {
                _positions["cluster." + name.Value] = (item.Line, item.Column);
                switch (name.Value)
                {
                    case "redis":
                        var addresses = List(name, item);
                        cluster = cluster with { Redis = addresses.Count == 0 ? null : string.Join(",", addresses) };
                        break;
                    case "secret" or "secret_name":
                        if (secretKey is not null)
                        {
                            throw Fail(name, $"Both '{secretKey.Value}' (line {secretKey.Line}) and '{name.Value}' are set", "Give the cluster secret or the name of the secret that holds it, not both.");
                        }
                        secretKey = name;
                        var text = Scalar(name, item) ?? throw Fail(item, $"'{name.Value}' has no value", "Give the cluster secret (at least 16 characters) or the SecretManagement name of it.");
                        if (name.Value == "secret" && text.Length < 16)
                        {
                            throw Fail(item, $"'secret' has {text.Length} characters; a cluster secret must have at least 16", "Use a long random secret, the same on every node (or 'secret_name' to read it from SecretManagement).");
                        }
                        cluster = name.Value == "secret" ? cluster with { Secret = text } : cluster with { SecretName = text };
                        break;
                    case "redis_ca_file":
                        cluster = cluster with { RedisCaFile = FilePath(name, item) };
                        break;
                    case "redis_password_name":
                        cluster = cluster with { RedisPasswordName = Scalar(name, item) };
                        break;
                    case "node_name":
                        var node = Scalar(name, item);
                        if (node is not null && !(node.Length is > 0 and <= 64 && node.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_')))
                        {
                            throw Fail(item, $"'{node}' is not a node name", "Use at most 64 letters, digits, '.', '-' and '_'.");
                        }
                        cluster = cluster with { NodeName = node };
                        break;
                    case "node_address":
                        var address = Scalar(name, item);
                        var colon = address?.LastIndexOf(':') ?? -1;
                        if (address is not null && (colon <= 0 || !int.TryParse(address[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535))
                        {
                            throw Fail(item, $"'{address}' is not host:port", "Give where the other nodes reach this node's TLS port, e.g. n1.internal:443.");
                        }
                        cluster = cluster with { NodeAddress = address };
                        break;
                    default:
                        throw Unknown(name, ClusterKeys, "cluster setting");
                }
            }
            if (cluster.Redis is null)
            {
                throw Fail(key, "The 'cluster' section has no 'redis'", "Give the Redis the nodes share: 'redis: redis://host:6379' (or a list of addresses).");
            }
            return cluster;
        }

        private IReadOnlyList<KeyValuePair<ConfigYamlScalar, ConfigYamlNode>> Section(ConfigYamlScalar key, ConfigYamlNode value) => value switch
        {
            ConfigYamlScalar { IsNull: true } => [],
            ConfigYamlMapping map => map.Entries,
            _ => throw Fail(value, $"'{key.Value}' must be a map", $"Indent its settings under '{key.Value}:', one 'name: value' per line."),
        };

        private string? Domain(ConfigYamlScalar key, ConfigYamlNode value)
        {
            var text = Scalar(key, value)?.TrimEnd('.').ToLowerInvariant();
            if (text is not null && !HostNames.IsValidHostname(text))
            {
                throw Fail(value, $"'{text}' is not a valid domain", "Give the DNS name public names live under, e.g. tunnel.example.com.");
            }
            return text;
        }

        private IPAddress? Address(ConfigYamlScalar key, ConfigYamlNode value)
        {
            var text = Scalar(key, value);
            if (text is null)
            {
                return null;
            }
            return IPAddress.TryParse(text, out var address) ? address : throw Fail(value, $"'{text}' is not an IP address", "Give the address to listen on, e.g. 0.0.0.0 or ::.");
        }

        private bool? Bool(ConfigYamlScalar key, ConfigYamlNode value) => Scalar(key, value)?.ToLowerInvariant() switch
        {
            null => null,
            "true" or "yes" or "on" => true,
            "false" or "no" or "off" => false,
            var text => throw Fail(value, $"'{key.Value}' is '{text}'", "Use true or false."),
        };

        private string? FilePath(ConfigYamlScalar key, ConfigYamlNode value)
        {
            var text = Scalar(key, value);
            if (text is null)
            {
                return null;
            }
            if (text == "~" || text.StartsWith("~/", StringComparison.Ordinal))
            {
                text = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), text.TrimStart('~', '/'));
            }
            try
            {
                return Path.GetFullPath(text, baseDirectory);
            }
            catch (Exception ex) when (ex is ArgumentException or NotSupportedException or PathTooLongException)
            {
                throw Fail(value, $"'{text}' is not a file path: {ex.Message}", "Give a path, absolute or relative to the config file's folder.");
            }
        }

        private List<string> Patterns(ConfigYamlScalar key, ConfigYamlNode value)
        {
            var result = new List<string>();
            foreach (var (node, text) in Items(key, value))
            {
                if (!HostNames.IsValidPattern(text.ToLowerInvariant()))
                {
                    throw Fail(node, $"'{text}' is not a host name or pattern", "Give a name such as app.example.com or a pattern such as *.example.com.");
                }
                result.Add(text);
            }
            return result;
        }

        private List<string> IPRules(ConfigYamlScalar key, ConfigYamlNode value)
        {
            var result = new List<string>();
            foreach (var (node, text) in Items(key, value))
            {
                if (!IPAccessList.TryParseEntry(text, out _))
                {
                    throw Fail(node, $"'{text}' is not an IP address or CIDR range", "Give addresses such as 203.0.113.7 or ranges such as 203.0.113.0/24.");
                }
                result.Add(text);
            }
            return result;
        }

        private (int, int)? PortRange(ConfigYamlScalar key, ConfigYamlNode value)
        {
            var text = Scalar(key, value);
            if (text is null)
            {
                return null;
            }
            if (TryParsePortRange(text, out var range))
            {
                return range;
            }
            throw Fail(value, $"'tcp_port_range' is '{text}', not a port range", "Give two ports from 1 to 65535 as first-last, e.g. 10000-10999.");
        }

        private List<string> List(ConfigYamlScalar key, ConfigYamlNode value) => Items(key, value).Select(item => item.Text).ToList();

        private TimeSpan? Duration(ConfigYamlScalar key, ConfigYamlNode value)
        {
            var text = Scalar(key, value);
            if (text is null)
            {
                return null;
            }
            return TryParseDuration(text, out var duration) ? duration
                : throw Fail(value, $"'{key.Value}' is '{text}', not a duration", "Give seconds (30, 2.5) or a number with ms, s, m or h (500ms, 30s, 5m), more than zero and at most a day.");
        }

        private ConfigurationException Unknown(ConfigYamlScalar key, string[] known, string what)
        {
            var suggestion = AgentConfigLoader.Suggest(key.Value, known);
            return Fail(key, $"Unknown {what} '{key.Value}'", suggestion is not null ? $"Did you mean '{suggestion}'?" : $"Known: {string.Join(", ", known)}.");
        }
    }
}
