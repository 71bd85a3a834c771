using System.Globalization;
using System.Text.RegularExpressions;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Configuration;

/// <summary>
/// Finds and reads the agent config (<see cref="AgentConfig"/>). Every problem is a <see cref="ConfigurationException"/>
/// whose message reads <c>file:line:column: what was wrong. what to do</c>.
/// </summary>
public static partial class AgentConfigLoader
{
    /// <summary>The environment variable that overrides the default path.</summary>
    public const string EnvironmentVariable = "TUNNELPS_CONFIG";

    /// <summary>The largest config file read (1 MiB).</summary>
    public const int MaxFileLength = 1024 * 1024;

    private static readonly string[] TopLevelKeys =
    [
        "server_addr", "trust_host_root_certs", "http_proxy", "inspect_addr", "auth_token", "authtoken",
        "authtoken_secret", "authtoken_vault", "server_certificate_thumbprint", "skip_certificate_check",
        "inspect", "inspect_limit", "inspect_body_limit", "inspect_memory_limit", "host_header", "tunnels",
        "inline_completions",
    ];

    private static readonly string[] TunnelKeys =
    [
        "proto", "subdomain", "hostname", "auth", "remote_port", "inspect", "inspect_limit", "inspect_body_limit", "inspect_memory_limit", "host_header",
        "allow_ip", "deny_ip",
    ];

    private static readonly string[] Protocols = ["http", "https", "tcp"];

    /// <summary>
    /// The config path when none is given: <c>$env:TUNNELPS_CONFIG</c> if set (a leading <c>~</c> is expanded), else
    /// <c>~/.tunnelps/tunnelps.yml</c> under the user profile.
    /// </summary>
    /// <param name="getEnv">Reads an environment variable; defaults to the process environment.</param>
    public static string DefaultPath(Func<string, string?>? getEnv = null)
    {
        getEnv ??= Environment.GetEnvironmentVariable;
        var fromEnvironment = getEnv(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
        {
            return ExpandHome(fromEnvironment.Trim());
        }
        return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".tunnelps", "tunnelps.yml");
    }

    /// <summary>The explicit path when given (a leading <c>~</c> expanded), else <see cref="DefaultPath"/>.</summary>
    public static string ResolvePath(string? explicitPath, Func<string, string?>? getEnv = null) =>
        string.IsNullOrWhiteSpace(explicitPath) ? DefaultPath(getEnv) : ExpandHome(explicitPath.Trim());

    /// <summary>Reads and validates the file.</summary>
    /// <exception cref="ConfigurationException">Kind NotFound when the file does not exist; InvalidConfiguration for everything else.</exception>
    public static AgentConfig Load(string path)
    {
        var text = ConfigFileText.Read(path, MaxFileLength, "config file", "Create it, point $env:TUNNELPS_CONFIG at an existing file, or pass the path of one.");
        return Parse(text, path);
    }

    /// <summary>Like <see cref="Load"/>, but a missing file gives an empty config (with <see cref="AgentConfig.SourcePath"/> set).</summary>
    public static AgentConfig LoadIfExists(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        return File.Exists(path) ? Load(path) : AgentConfig.Empty with { SourcePath = path };
    }

    /// <summary>Parses config text; <paramref name="sourceName"/> names it in messages. Empty text is an empty config.</summary>
    public static AgentConfig Parse(string yaml, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(yaml);
        ArgumentNullException.ThrowIfNull(sourceName);
        var root = ConfigYamlReader.Read(yaml, sourceName);
        return new Reader(sourceName).ReadAgent(root);
    }

    private static string ExpandHome(string path)
    {
        if (path == "~" || path.StartsWith("~/", StringComparison.Ordinal) || path.StartsWith("~\\", StringComparison.Ordinal))
        {
            var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            return path.Length == 1 ? home : Path.Combine(home, path[2..]);
        }
        return path;
    }

    [GeneratedRegex(@"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex SubdomainPattern();

    /// <summary>Turns the node tree into the model, one error at a time, each at its position.</summary>
    private sealed class Reader(string source)
    {
        public AgentConfig ReadAgent(ConfigYamlNode? root)
        {
            if (root is null || root is ConfigYamlScalar { IsNull: true })
            {
                return AgentConfig.Empty with { SourcePath = source };
            }
            if (root is not ConfigYamlMapping map)
            {
                throw Fail(root, "The file is not a map of settings", "Write settings as 'key: value' lines, e.g. 'authtoken: <token>' and 'tunnels:'.");
            }

            var config = AgentConfig.Empty with { SourcePath = source };
            ConfigYamlScalar? tokenKey = null;
            ConfigYamlMapping? tunnels = null;
            foreach (var (key, value) in map.Entries)
            {
                switch (key.Value)
                {
                    case "server_addr":
                        config = config with { ServerAddr = ServerAddrList(key, value) };
                        break;
                    case "trust_host_root_certs":
                        config = config with { TrustHostRootCerts = Bool(key, value) };
                        break;
                    case "http_proxy":
                        config = config with { HttpProxy = Proxy(key, value) };
                        break;
                    case "inspect_addr":
                        config = config with { InspectAddr = InspectAddr(key, value) };
                        break;
                    case "auth_token" or "authtoken":
                        if (tokenKey is not null)
                        {
                            throw Fail(key, $"Both '{tokenKey.Value}' (line {tokenKey.Line}) and '{key.Value}' are set", "Keep one of them; TunnelPS writes 'authtoken'.");
                        }
                        tokenKey = key;
                        config = config with { AuthToken = String(key, value) };
                        break;
                    case "authtoken_secret":
                        config = config with { AuthTokenSecret = String(key, value) };
                        break;
                    case "authtoken_vault":
                        config = config with { AuthTokenVault = String(key, value) };
                        break;
                    case "server_certificate_thumbprint":
                        config = config with { ServerCertificateThumbprint = Thumbprint(key, value) };
                        break;
                    case "skip_certificate_check":
                        config = config with { SkipCertificateCheck = Bool(key, value) };
                        break;
                    case "inspect":
                        config = config with { Inspect = Bool(key, value) };
                        break;
                    case "inspect_limit":
                        config = config with { InspectLimit = InspectLimit(key, value) };
                        break;
                    case "inspect_body_limit":
                        config = config with { InspectBodyLimit = InspectBodyLimit(key, value) };
                        break;
                    case "inspect_memory_limit":
                        config = config with { InspectMemoryLimit = InspectMemoryLimit(key, value) };
                        break;
                    case "host_header":
                        config = config with { HostHeader = HostHeader(key, value) };
                        break;
                    case "inline_completions":
                        config = config with { InlineCompletions = Bool(key, value) };
                        break;
                    case "tunnels":
                        if (value is ConfigYamlScalar { IsNull: true })
                        {
                            break;
                        }
                        tunnels = value as ConfigYamlMapping
                            ?? throw Fail(value, "'tunnels' must be a map of tunnel names to settings", "Write it as 'tunnels:' followed by indented 'name: { proto: { http: 8080 } }' entries.");
                        break;
                    default:
                        throw UnknownKey(key, TopLevelKeys, "top-level key", string.Empty,
                            TunnelKeys.Contains(key.Value, StringComparer.Ordinal) ? $"'{key.Value}' belongs to a tunnel: indent it under a name under 'tunnels:'." : null);
                }
            }

            if (tunnels is null)
            {
                return config;
            }
            var list = new List<TunnelConfig>(tunnels.Entries.Count);
            foreach (var (name, body) in tunnels.Entries)
            {
                list.Add(ReadTunnel(config, name, body));
            }
            return config with { Tunnels = list };
        }

        private TunnelConfig ReadTunnel(AgentConfig top, ConfigYamlScalar name, ConfigYamlNode body)
        {
            if (string.IsNullOrWhiteSpace(name.Value))
            {
                throw Fail(name, "A tunnel has an empty name", "Give each tunnel a name, e.g. 'blog:'.");
            }
            if (body is ConfigYamlScalar { IsNull: true })
            {
                throw Fail(name, $"Tunnel '{name.Value}' has no settings", "Give it at least a proto, e.g. 'proto: { http: 8080 }'.");
            }
            if (body is not ConfigYamlMapping map)
            {
                throw Fail(body, $"Tunnel '{name.Value}' must be a map of settings", "Write it as '" + name.Value + ": { proto: { http: 8080 } }'.");
            }

            List<TunnelProtocolBinding>? protos = null;
            ConfigYamlScalar? remotePortKey = null, subdomainKey = null, hostnameKey = null, authKey = null;
            string? subdomain = null, hostname = null, auth = null;
            int? remotePort = null;
            bool? inspect = null;
            int? inspectLimit = null;
            long? inspectBodyLimit = null;
            long? inspectMemoryLimit = null;
            string? hostHeader = null;
            IReadOnlyList<string> allowIP = [], denyIP = [];
            foreach (var (key, value) in map.Entries)
            {
                switch (key.Value)
                {
                    case "proto":
                        protos = Protos(name.Value, key, value);
                        break;
                    case "subdomain":
                        subdomainKey = key;
                        subdomain = Subdomain(key, value);
                        break;
                    case "hostname":
                        hostnameKey = key;
                        hostname = Hostname(key, value);
                        break;
                    case "auth":
                        authKey = key;
                        auth = Auth(key, value);
                        break;
                    case "remote_port":
                        remotePortKey = key;
                        remotePort = Int(key, value, 0, 65535, "a port from 1 to 65535 (0 = any)");
                        break;
                    case "inspect":
                        inspect = Bool(key, value);
                        break;
                    case "inspect_limit":
                        inspectLimit = InspectLimit(key, value);
                        break;
                    case "inspect_body_limit":
                        inspectBodyLimit = InspectBodyLimit(key, value);
                        break;
                    case "inspect_memory_limit":
                        inspectMemoryLimit = InspectMemoryLimit(key, value);
                        break;
                    case "host_header":
                        hostHeader = HostHeader(key, value);
                        break;
                    case "allow_ip":
                        allowIP = IPList(name.Value, key, value);
                        break;
                    case "deny_ip":
                        denyIP = IPList(name.Value, key, value);
                        break;
                    case "addr" or "proto_addr" or "local_addr":
                        throw Fail(key, $"Unknown key '{key.Value}' in tunnel '{name.Value}'", "TunnelPS reads ngrok 1.x tunnels: put the local address under proto, e.g. 'proto: { http: 8080 }'.");
                    default:
                        throw UnknownKey(key, TunnelKeys, "key", $" in tunnel '{name.Value}'",
                            TopLevelKeys.Contains(key.Value, StringComparer.Ordinal) ? $"'{key.Value}' is a top-level key here; move it out of the tunnel (only inspect, inspect_limit, inspect_body_limit, inspect_memory_limit and host_header can be set per tunnel)." : null);
                }
            }

            if (protos is null)
            {
                throw Fail(name, $"Tunnel '{name.Value}' has no proto", "Add the local address per protocol, e.g. 'proto: { http: 8080 }' or 'proto: { tcp: 22 }'.");
            }
            var hasHttp = protos.Any(p => p.Protocol != "tcp");
            var hasTcp = protos.Any(p => p.Protocol == "tcp");
            if (remotePortKey is not null && !hasTcp)
            {
                throw Fail(remotePortKey, $"'remote_port' is set on tunnel '{name.Value}', which has no tcp proto", "Remove remote_port (http and https tunnels are reached by host name), or add 'tcp' under proto.");
            }
            foreach (var (key, label) in new[] { (subdomainKey, "subdomain"), (hostnameKey, "hostname"), (authKey, "auth") })
            {
                if (key is not null && !hasHttp)
                {
                    throw Fail(key, $"'{label}' is set on tunnel '{name.Value}', which has only a tcp proto", $"Remove {label} (tcp tunnels are reached by port), or add 'http' or 'https' under proto.");
                }
            }
            if (subdomain is not null && hostname is not null)
            {
                throw Fail(hostnameKey!, $"Tunnel '{name.Value}' sets both subdomain and hostname", "Keep one: subdomain for <name>.<server domain>, hostname for a full host name.");
            }

            return new TunnelConfig
            {
                Name = name.Value,
                Protos = protos,
                Subdomain = subdomain,
                Hostname = hostname,
                Auth = auth,
                RemotePort = remotePort,
                // ngrok 1.x's 'inspect_addr: disabled' turns inspection off; an explicit 'inspect' wins.
                Inspect = inspect ?? top.Inspect ?? (string.Equals(top.InspectAddr, "disabled", StringComparison.OrdinalIgnoreCase) ? false : AgentConfig.DefaultInspect),
                InspectLimit = inspectLimit ?? top.InspectLimit ?? AgentConfig.DefaultInspectLimit,
                InspectBodyLimit = inspectBodyLimit ?? top.InspectBodyLimit ?? AgentConfig.DefaultInspectBodyLimit,
                InspectMemoryLimit = inspectMemoryLimit ?? top.InspectMemoryLimit ?? AgentConfig.DefaultInspectMemoryLimit,
                HostHeader = hostHeader ?? top.HostHeader ?? AgentConfig.HostHeaderPreserve,
                AllowIP = allowIP,
                DenyIP = denyIP,
                Line = name.Line,
                Column = name.Column,
            };
        }

        private List<TunnelProtocolBinding> Protos(string tunnel, ConfigYamlScalar key, ConfigYamlNode value)
        {
            if (value is ConfigYamlScalar scalar && !scalar.IsNull && Protocols.Contains(scalar.Value.Trim().ToLowerInvariant(), StringComparer.Ordinal))
            {
                throw Fail(value, $"'proto' of tunnel '{tunnel}' is a protocol name, not a map", $"Map each protocol to its local address, e.g. 'proto: {{ {scalar.Value.Trim().ToLowerInvariant()}: 8080 }}'.");
            }
            if (value is not ConfigYamlMapping map || map.Entries.Count == 0)
            {
                throw Fail(value is ConfigYamlScalar { IsNull: true } ? key : value, $"'proto' of tunnel '{tunnel}' must map protocols to local addresses", "Write it as 'proto: { http: 8080 }' (protocols: http, https, tcp).");
            }
            var result = new List<TunnelProtocolBinding>(map.Entries.Count);
            foreach (var (protocolKey, address) in map.Entries)
            {
                var protocol = protocolKey.Value.Trim().ToLowerInvariant();
                if (!Protocols.Contains(protocol, StringComparer.Ordinal))
                {
                    var suggestion = Suggest(protocolKey.Value, Protocols);
                    throw Fail(protocolKey, $"'{protocolKey.Value}' is not a protocol TunnelPS tunnels", suggestion is null ? "Use http, https or tcp." : $"Did you mean '{suggestion}'? Use http, https or tcp.");
                }
                if (result.Any(p => p.Protocol == protocol))
                {
                    throw Fail(protocolKey, $"Protocol '{protocol}' appears twice in tunnel '{tunnel}'", "Keep one entry per protocol.");
                }
                result.Add(LocalAddress(protocol, protocolKey, address));
            }
            return result;
        }

        private TunnelProtocolBinding LocalAddress(string protocol, ConfigYamlScalar key, ConfigYamlNode node)
        {
            var text = RequiredString(key, node, $"the local address for {protocol}, e.g. 8080, localhost:8080 or http://localhost:8080");
            string host;
            int port;
            var scheme = protocol == "tcp" ? "tcp" : "http";
            if (text.All(char.IsAsciiDigit))
            {
                host = "localhost";
                port = Port(node, text, "local port");
            }
            else if (text.Contains("://", StringComparison.Ordinal))
            {
                if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host))
                {
                    throw Fail(node, $"The local address '{text}' is not a valid URL", "Write it as a port (8080), host:port, or http://host:port.");
                }
                var allowed = protocol == "tcp" ? new[] { "tcp" } : ["http", "https"];
                if (!allowed.Contains(uri.Scheme, StringComparer.Ordinal))
                {
                    throw Fail(node, $"The local address '{text}' of a {protocol} tunnel uses the scheme '{uri.Scheme}'",
                        protocol == "tcp" ? "Write a tcp local address as a port (22) or host:port." : "Use http:// or https:// (https:// speaks TLS to the local service).");
                }
                if (uri.AbsolutePath != "/" || uri.Query.Length > 0 || !string.IsNullOrEmpty(uri.UserInfo))
                {
                    throw Fail(node, $"The local address '{text}' has a path, query or user info", "Give only the scheme, host and port, e.g. http://localhost:8080.");
                }
                if (uri.Scheme == "tcp" && uri.Port < 1)
                {
                    throw Fail(node, $"The local address '{text}' has no port", "Add the port, e.g. tcp://localhost:22.");
                }
                host = uri.IdnHost;
                port = uri.Port;
                scheme = uri.Scheme;
            }
            else
            {
                (host, var portText) = SplitHostPort(node, text);
                if (portText is null)
                {
                    throw Fail(node, $"The local address '{text}' has no port", $"Add it, e.g. '{text}:8080'.");
                }
                port = Port(node, portText, "local port");
            }
            return new TunnelProtocolBinding
            {
                Protocol = protocol,
                LocalAddress = text,
                Host = host,
                Port = port,
                Scheme = scheme,
                Line = key.Line,
                Column = key.Column,
            };
        }

        private (string Host, string? Port) SplitHostPort(ConfigYamlNode node, string text)
        {
            string host;
            string? port = null;
            if (text.StartsWith('['))
            {
                var close = text.IndexOf(']', StringComparison.Ordinal);
                if (close < 0 || (close + 1 < text.Length && text[close + 1] != ':'))
                {
                    throw Fail(node, $"'{text}' is not a valid address", "Write an IPv6 address as [::1]:8080.");
                }
                host = text[1..close];
                port = close + 1 < text.Length ? text[(close + 2)..] : null;
            }
            else
            {
                var colon = text.LastIndexOf(':');
                if (colon >= 0 && text.IndexOf(':', StringComparison.Ordinal) != colon)
                {
                    throw Fail(node, $"'{text}' is not a valid address", "Write an IPv6 address in brackets: [::1]:8080.");
                }
                host = colon < 0 ? text : text[..colon];
                port = colon < 0 ? null : text[(colon + 1)..];
            }
            if (host.Length == 0 || Uri.CheckHostName(host) == UriHostNameType.Unknown)
            {
                throw Fail(node, $"'{host}' in '{text}' is not a valid host name or IP address", "Use a name such as localhost, or an IP address.");
            }
            return (host, port);
        }

        private int Port(ConfigYamlNode node, string text, string what)
        {
            if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port < 1 || port > 65535)
            {
                throw Fail(node, $"The {what} '{text}' is out of range", "Use a port from 1 to 65535.");
            }
            return port;
        }

        /// <summary>
        /// server_addr: host[:port], or several nodes of a cluster, separated by commas or as a YAML list
        /// ([host1:443, host2:443], or one '- host:port' line each); returned as one comma-separated list.
        /// </summary>
        private string? ServerAddrList(ConfigYamlScalar key, ConfigYamlNode node)
        {
            if (node is ConfigYamlSequence sequence)
            {
                if (sequence.Items.Count == 0)
                {
                    throw Fail(node, $"'{key.Value}' is an empty list", "Name at least one server: host:port, or a list of the nodes of a cluster.");
                }
                var items = new List<string>(sequence.Items.Count);
                foreach (var item in sequence.Items)
                {
                    var text = item is ConfigYamlScalar { IsNull: false } scalar ? scalar.Value.Trim() : null;
                    if (string.IsNullOrEmpty(text) || text.Contains(',', StringComparison.Ordinal))
                    {
                        throw Fail(item, $"An item of '{key.Value}' is not one host:port", "Give each node of the list as host:port, e.g. '- tunnel1.example.com:443'.");
                    }
                    CheckServerAddr(key, item, text);
                    items.Add(text);
                }
                return string.Join(",", items);
            }
            var list = String(key, node);
            if (list is null)
            {
                return null;
            }
            foreach (var item in list.Split(',', StringSplitOptions.TrimEntries))
            {
                if (item.Length == 0)
                {
                    throw Fail(node, $"'{key.Value}' has an empty item", "Separate the nodes of a cluster with commas (host1:443,host2:443), or write them as a list.");
                }
                CheckServerAddr(key, node, item);
            }
            return list;
        }

        private void CheckServerAddr(ConfigYamlScalar key, ConfigYamlNode node, string item)
        {
            var (_, port) = SplitHostPort(node, item);
            if (port is not null)
            {
                Port(node, port, $"port of {key.Value}");
            }
        }

        private string? HostPort(ConfigYamlScalar key, ConfigYamlNode node, bool requirePort)
        {
            var text = String(key, node);
            if (text is null)
            {
                return null;
            }
            var (_, port) = SplitHostPort(node, text);
            if (port is null && requirePort)
            {
                throw Fail(node, $"'{key.Value}' has no port", $"Write it as host:port, e.g. '{text}:4443'.");
            }
            if (port is not null)
            {
                Port(node, port, $"port of {key.Value}");
            }
            return text;
        }

        private string? InspectAddr(ConfigYamlScalar key, ConfigYamlNode node)
        {
            var text = String(key, node);
            if (text is null || text.Equals("disabled", StringComparison.OrdinalIgnoreCase))
            {
                return text is null ? null : "disabled";
            }
            if (text.All(char.IsAsciiDigit))
            {
                Port(node, text, "port of inspect_addr");
                return text;
            }
            var hostPort = HostPort(key, node, requirePort: true);
            // The web inspector listens on an IP address (or localhost): a DNS name is refused here, with its position.
            if (hostPort is not null && !InspectorAddress.TryParse(hostPort, out _, out var error))
            {
                throw Fail(node, "inspect_addr " + error, string.Empty);
            }
            return hostPort;
        }

        private string? Proxy(ConfigYamlScalar key, ConfigYamlNode node)
        {
            var text = String(key, node);
            if (string.IsNullOrWhiteSpace(text))
            {
                return null;
            }
            try
            {
                ProxySettings.Parse(text);
            }
            catch (ProxyConfigurationException ex)
            {
                throw new ConfigurationException(source, node.Line, node.Column, $"'http_proxy' is not usable: {ex.Message.TrimEnd('.')}", "Write it as http://user:password@host:port (percent-encode special characters in the password).", ex);
            }
            return text;
        }

        private string? Thumbprint(ConfigYamlScalar key, ConfigYamlNode node)
        {
            var text = String(key, node);
            if (text is null)
            {
                return null;
            }
            return CertificatePin.TryNormalize(text, out var problem) ?? throw Fail(node, $"'{key.Value}': {problem}", CertificatePin.Remedy);
        }

        /// <summary>
        /// <c>allow_ip</c> / <c>deny_ip</c>: one address or CIDR range, or a list of them; each entry is checked at its
        /// own position. Absent, null or an empty list is no rule.
        /// </summary>
        private List<string> IPList(string tunnel, ConfigYamlScalar key, ConfigYamlNode node)
        {
            IReadOnlyList<ConfigYamlNode> items = node switch
            {
                ConfigYamlScalar { IsNull: true } => [],
                ConfigYamlScalar scalar => [scalar],
                ConfigYamlSequence sequence => sequence.Items,
                _ => throw Fail(node, $"'{key.Value}' of tunnel '{tunnel}' must be an address or a list of addresses, not a map", $"Write it as '{key.Value}: [10.0.0.0/8, 2001:db8::/32]' or one entry per '- ' line."),
            };
            var result = new List<string>(items.Count);
            foreach (var item in items)
            {
                if (item is not ConfigYamlScalar entry || entry.IsNull)
                {
                    throw Fail(item, $"An entry of '{key.Value}' in tunnel '{tunnel}' is {(item is ConfigYamlScalar ? "empty" : "not a single value")}", "Give each entry as an IP address (203.0.113.7, 2001:db8::1) or a CIDR range (10.0.0.0/8, 2001:db8::/32).");
                }
                var text = entry.Value.Trim();
                if (!IPAccessList.TryParseEntry(text, out _))
                {
                    var remedy = text.IndexOfAny([',', ' ', ';']) >= 0
                        ? $"Write several entries as a list, e.g. '{key.Value}: [10.0.0.0/8, 192.168.0.0/16]'."
                        : "Give an IP address (203.0.113.7, 2001:db8::1) or a CIDR range (10.0.0.0/8, 2001:db8::/32); host names are not accepted.";
                    throw Fail(entry, $"'{text}' in '{key.Value}' of tunnel '{tunnel}' is not an IP address or a CIDR range", remedy);
                }
                result.Add(text);
            }
            return result;
        }

        private string? Subdomain(ConfigYamlScalar key, ConfigYamlNode node)
        {
            var text = String(key, node);
            if (text is not null && !SubdomainPattern().IsMatch(text))
            {
                throw Fail(node, $"The subdomain '{text}' has characters a host name cannot have", "Use letters, digits and '-' (not at the start or end), e.g. 'my-blog'.");
            }
            return text;
        }

        private string? Hostname(ConfigYamlScalar key, ConfigYamlNode node)
        {
            var text = String(key, node);
            if (text is not null && (Uri.CheckHostName(text) != UriHostNameType.Dns || !SubdomainPattern().IsMatch(text)))
            {
                throw Fail(node, $"The hostname '{text}' is not a valid host name", "Give a full host name without scheme or port, e.g. 'hacks.example.com'.");
            }
            return text;
        }

        private string? Auth(ConfigYamlScalar key, ConfigYamlNode node)
        {
            var text = String(key, node);
            if (text is not null && text.IndexOf(':', StringComparison.Ordinal) <= 0)
            {
                throw Fail(node, "'auth' must be 'user:password'", "Write the user name, a colon and the password, e.g. 'auth: \"user:secret\"'.");
            }
            return text;
        }

        private string? HostHeader(ConfigYamlScalar key, ConfigYamlNode node)
        {
            var text = String(key, node);
            if (text is null)
            {
                return null;
            }
            var lower = text.ToLowerInvariant();
            if (lower is AgentConfig.HostHeaderPreserve or AgentConfig.HostHeaderRewrite)
            {
                return lower;
            }
            if (text.Contains("://", StringComparison.Ordinal) || text.Contains('/', StringComparison.Ordinal) || text.Contains(' ', StringComparison.Ordinal))
            {
                throw Fail(node, $"'host_header' is '{text}'", "Use preserve, rewrite, or a literal host such as 'example.com' or 'example.com:8080'.");
            }
            var (_, port) = SplitHostPort(node, text);
            if (port is not null)
            {
                Port(node, port, "port of host_header");
            }
            return text;
        }

        private int? InspectLimit(ConfigYamlScalar key, ConfigYamlNode node) =>
            Int(key, node, 0, AgentConfig.MaxInspectLimit, $"a number of requests from 0 to {AgentConfig.MaxInspectLimit}");

        private long? InspectBodyLimit(ConfigYamlScalar key, ConfigYamlNode node)
        {
            var text = String(key, node);
            if (text is null)
            {
                return null;
            }
            if (!ByteSize.TryParse(text, out var bytes))
            {
                throw Fail(node, $"'{key.Value}' is '{text}', which is not a size", "Write bytes (65536) or a size such as 512KiB or 1MB.");
            }
            if (bytes > AgentConfig.MaxInspectBodyLimit)
            {
                throw Fail(node, $"'{key.Value}' is {bytes} bytes, more than the {AgentConfig.MaxInspectBodyLimit / (1024 * 1024)} MiB allowed", "Capture less of each body; the capture store holds every captured body in memory.");
            }
            return bytes;
        }

        private long? InspectMemoryLimit(ConfigYamlScalar key, ConfigYamlNode node)
        {
            var text = String(key, node);
            if (text is null)
            {
                return null;
            }
            if (!ByteSize.TryParse(text, out var bytes))
            {
                throw Fail(node, $"'{key.Value}' is '{text}', which is not a size", "Write bytes (67108864) or a size such as 64MiB or 256MB.");
            }
            if (bytes < AgentConfig.MinInspectMemoryLimit || bytes > AgentConfig.MaxInspectMemoryLimit)
            {
                throw Fail(node, $"'{key.Value}' is {bytes} bytes, outside the {AgentConfig.MinInspectMemoryLimit / 1024} KiB to {AgentConfig.MaxInspectMemoryLimit / (1024L * 1024 * 1024)} GiB allowed", "Give the most memory the tunnel's capture may hold, such as 64MiB.");
            }
            return bytes;
        }

        private int? Int(ConfigYamlScalar key, ConfigYamlNode node, int min, int max, string expected)
        {
            var text = String(key, node);
            if (text is null)
            {
                return null;
            }
            if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
            {
                throw Fail(node, $"'{key.Value}' is '{text}'", $"Use {expected}.");
            }
            return value;
        }

        private bool? Bool(ConfigYamlScalar key, ConfigYamlNode node)
        {
            var text = String(key, node);
            return text?.ToLowerInvariant() switch
            {
                null => null,
                "true" or "yes" or "on" => true,
                "false" or "no" or "off" => false,
                _ => throw Fail(node, $"'{key.Value}' is '{text}'", "Use true or false."),
            };
        }

        private string? String(ConfigYamlScalar key, ConfigYamlNode node)
        {
            if (node is ConfigYamlScalar scalar)
            {
                return scalar.IsNull ? null : scalar.Value.Trim();
            }
            throw Fail(node, $"'{key.Value}' must be a single value, not a {(node is ConfigYamlMapping ? "map" : "list")}", $"Write it on one line: '{key.Value}: <value>'.");
        }

        private string RequiredString(ConfigYamlScalar key, ConfigYamlNode node, string expected) =>
            String(key, node) is { Length: > 0 } text ? text : throw Fail(node is ConfigYamlScalar ? key : node, $"'{key.Value}' has no value", $"Give {expected}.");

        private ConfigurationException UnknownKey(ConfigYamlScalar key, string[] known, string what, string where, string? hint)
        {
            var suggestion = Suggest(key.Value, known);
            var remedy = hint
                ?? (suggestion is not null ? $"Did you mean '{suggestion}'?" : $"Known keys: {string.Join(", ", known)}.");
            return Fail(key, $"Unknown {what} '{key.Value}'{where}", remedy);
        }

        private ConfigurationException Fail(ConfigYamlNode node, string problem, string remedy) =>
            new(source, node.Line, node.Column, problem, remedy);
    }

    /// <summary>The known key closest to <paramref name="key"/> if it is a plausible typo (case-insensitive edit distance).</summary>
    internal static string? Suggest(string key, IEnumerable<string> known)
    {
        var lower = key.ToLowerInvariant().Replace('-', '_');
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var candidate in known)
        {
            var distance = EditDistance(lower, candidate);
            if (distance < bestDistance)
            {
                best = candidate;
                bestDistance = distance;
            }
        }
        var allowed = Math.Max(1, Math.Min(3, key.Length / 3));
        return bestDistance <= allowed ? best : null;
    }

    /// <summary>
    /// The name in <paramref name="known"/> closest to <paramref name="name"/> if it is a plausible typo (a tunnel
    /// name: case-insensitive edit distance, as for keys, but with no other spelling folded), or null.
    /// </summary>
    public static string? SuggestName(string name, IEnumerable<string> known)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(known);
        var lower = name.ToLowerInvariant();
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var candidate in known)
        {
            var distance = EditDistance(lower, candidate.ToLowerInvariant());
            if (distance < bestDistance)
            {
                best = candidate;
                bestDistance = distance;
            }
        }
        var allowed = Math.Max(1, Math.Min(3, name.Length / 3));
        return bestDistance <= allowed ? best : null;
    }

    /// <summary>Optimal string alignment distance: insertions, deletions, substitutions, adjacent transpositions.</summary>
    private static int EditDistance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++)
        {
            d[i, 0] = i;
        }
        for (var j = 0; j <= b.Length; j++)
        {
            d[0, j] = j;
        }
        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                {
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
                }
            }
        }
        return d[a.Length, b.Length];
    }
}
