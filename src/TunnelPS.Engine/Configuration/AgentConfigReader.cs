using System.Globalization;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Configuration;

/// <summary>
/// Reads the top level of the agent config (<see cref="AgentConfig"/>): the server, trust, proxy, token and inspection
/// settings, then each tunnel with <see cref="TunnelConfigReader"/>. One error at a time, each at its position.
/// </summary>
internal sealed class AgentConfigReader(string source) : AgentValueReader(source)
{
    public AgentConfig ReadAgent(ConfigYamlNode? root)
    {
        if (root is null || root is ConfigYamlScalar { IsNull: true })
        {
            return AgentConfig.Empty with { SourcePath = Source };
        }
        if (root is not ConfigYamlMapping map)
        {
            throw Fail(root, "The file is not a map of settings", "Write settings as 'key: value' lines, e.g. 'authtoken: <token>' and 'tunnels:'.");
        }

        var config = AgentConfig.Empty with { SourcePath = Source };
        ConfigYamlScalar? tokenKey = null;
        ConfigYamlMapping? tunnels = null;
        foreach (var (key, value) in map.Entries)
        {
            switch (key.Value)
            {
                case "auth_token" or "authtoken":
                    if (tokenKey is not null)
                    {
                        throw Fail(key, $"Both '{tokenKey.Value}' (line {tokenKey.Line}) and '{key.Value}' are set", "Keep one of them; TunnelPS writes 'authtoken'.");
                    }
                    tokenKey = key;
                    config = config with { AuthToken = Scalar(key, value) };
                    break;
                case "tunnels":
                    tunnels = TunnelsMap(value) ?? tunnels;
                    break;
                default:
                    config = ReadSetting(config, key, value);
                    break;
            }
        }

        if (tunnels is null)
        {
            return config;
        }
        var reader = new TunnelConfigReader(Source);
        var list = new List<TunnelConfig>(tunnels.Entries.Count);
        foreach (var (name, body) in tunnels.Entries)
        {
            list.Add(reader.Read(config, name, body));
        }
        return config with { Tunnels = list };
    }

    /// <summary>One top-level setting other than the token and the tunnels, into <paramref name="config"/>.</summary>
    private AgentConfig ReadSetting(AgentConfig config, ConfigYamlScalar key, ConfigYamlNode value) => key.Value switch
    {
        "server_addr" => config with { ServerAddr = ServerAddrList(key, value) },
        "trust_host_root_certs" => config with { TrustHostRootCerts = Bool(key, value) },
        "http_proxy" => config with { HttpProxy = Proxy(key, value) },
        "inspect_addr" => config with { InspectAddr = InspectAddr(key, value) },
        "authtoken_secret" => config with { AuthTokenSecret = Scalar(key, value) },
        "authtoken_vault" => config with { AuthTokenVault = Scalar(key, value) },
        "server_certificate_thumbprint" => config with { ServerCertificateThumbprint = Thumbprint(key, value) },
        "skip_certificate_check" => config with { SkipCertificateCheck = Bool(key, value) },
        "inspect" => config with { Inspect = Bool(key, value) },
        "inspect_limit" => config with { InspectLimit = InspectLimit(key, value) },
        "inspect_body_limit" => config with { InspectBodyLimit = InspectBodyLimit(key, value) },
        "inspect_memory_limit" => config with { InspectMemoryLimit = InspectMemoryLimit(key, value) },
        "host_header" => config with { HostHeader = HostHeader(key, value) },
        "inline_completions" => config with { InlineCompletions = Bool(key, value) },
        _ => throw UnknownKey(key, AgentConfigKeys.TopLevel, "top-level key", string.Empty,
            AgentConfigKeys.Tunnel.Contains(key.Value, StringComparer.Ordinal) ? $"'{key.Value}' belongs to a tunnel: indent it under a name under 'tunnels:'." : null),
    };

    /// <summary>The <c>tunnels:</c> map; null when it is empty (<c>tunnels:</c> alone).</summary>
    private ConfigYamlMapping? TunnelsMap(ConfigYamlNode value) => value is ConfigYamlScalar { IsNull: true }
        ? null
        : value as ConfigYamlMapping
            ?? throw Fail(value, "'tunnels' must be a map of tunnel names to settings", "Write it as 'tunnels:' followed by indented 'name: { proto: { http: 8080 } }' entries.");

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
        var list = Scalar(key, node);
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

    private string? InspectAddr(ConfigYamlScalar key, ConfigYamlNode node)
    {
        var text = Scalar(key, node);
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
        var text = Scalar(key, node);
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
            throw new ConfigurationException(Source, node.Line, node.Column, $"'http_proxy' is not usable: {ex.Message.TrimEnd('.')}", "Write it as http://user:password@host:port (percent-encode special characters in the password).", ex);
        }
        return text;
    }

    private string? Thumbprint(ConfigYamlScalar key, ConfigYamlNode node)
    {
        var text = Scalar(key, node);
        if (text is null)
        {
            return null;
        }
        return CertificatePin.TryNormalize(text, out var problem) ?? throw Fail(node, $"'{key.Value}': {problem}", CertificatePin.Remedy);
    }
}
