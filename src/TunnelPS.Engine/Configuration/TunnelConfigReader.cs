using System.Text.RegularExpressions;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Configuration;

/// <summary>
/// Reads one entry of the agent config's <c>tunnels:</c> map into a <see cref="TunnelConfig"/>: its settings, each
/// checked at its position, then the rules between them (remote_port needs tcp, subdomain/hostname/auth need http, not
/// both subdomain and hostname); unset inspection settings come from the top level.
/// </summary>
internal sealed partial class TunnelConfigReader(string source) : AgentValueReader(source)
{
    /// <summary>Reads the tunnel <paramref name="name"/>; <paramref name="top"/> gives the settings it does not set.</summary>
    public TunnelConfig Read(AgentConfig top, ConfigYamlScalar name, ConfigYamlNode body)
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
        var draft = new TunnelConfigDraft();
        foreach (var (key, value) in map.Entries)
        {
            ReadSetting(draft, name.Value, key, value);
        }
        var protos = Check(draft, name);
        return new TunnelConfig
        {
            Name = name.Value,
            Protos = protos,
            Subdomain = draft.Subdomain,
            Hostname = draft.Hostname,
            Auth = draft.Auth,
            RemotePort = draft.RemotePort,
            // ngrok 1.x's 'inspect_addr: disabled' turns inspection off; an explicit 'inspect' wins.
            Inspect = draft.Inspect ?? top.Inspect ?? (string.Equals(top.InspectAddr, "disabled", StringComparison.OrdinalIgnoreCase) ? false : AgentConfig.DefaultInspect),
            InspectLimit = draft.InspectLimit ?? top.InspectLimit ?? AgentConfig.DefaultInspectLimit,
            InspectBodyLimit = draft.InspectBodyLimit ?? top.InspectBodyLimit ?? AgentConfig.DefaultInspectBodyLimit,
            InspectMemoryLimit = draft.InspectMemoryLimit ?? top.InspectMemoryLimit ?? AgentConfig.DefaultInspectMemoryLimit,
            HostHeader = draft.HostHeader ?? top.HostHeader ?? AgentConfig.HostHeaderPreserve,
            AllowIP = draft.AllowIP,
            DenyIP = draft.DenyIP,
            Line = name.Line,
            Column = name.Column,
        };
    }

    /// <summary>One setting of the tunnel <paramref name="tunnel"/>, checked alone, into <paramref name="draft"/>.</summary>
    private void ReadSetting(TunnelConfigDraft draft, string tunnel, ConfigYamlScalar key, ConfigYamlNode value)
    {
        switch (key.Value)
        {
            case "proto":
                draft.Protos = Protos(tunnel, key, value);
                break;
            case "subdomain":
                draft.SubdomainKey = key;
                draft.Subdomain = Subdomain(key, value);
                break;
            case "hostname":
                draft.HostnameKey = key;
                draft.Hostname = Hostname(key, value);
                break;
            case "auth":
                draft.AuthKey = key;
                draft.Auth = Auth(key, value);
                break;
            case "remote_port":
                draft.RemotePortKey = key;
                draft.RemotePort = Number(key, value, 0, 65535, "a port from 1 to 65535 (0 = any)");
                break;
            case "addr" or "proto_addr" or "local_addr":
                throw Fail(key, $"Unknown key '{key.Value}' in tunnel '{tunnel}'", "TunnelPS reads ngrok 1.x tunnels: put the local address under proto, e.g. 'proto: { http: 8080 }'.");
            default:
                ReadOptionalSetting(draft, tunnel, key, value);
                break;
        }
    }

    /// <summary>The settings that only refine a tunnel: inspection, host_header, IP rules.</summary>
    private void ReadOptionalSetting(TunnelConfigDraft draft, string tunnel, ConfigYamlScalar key, ConfigYamlNode value)
    {
        switch (key.Value)
        {
            case "inspect":
                draft.Inspect = Bool(key, value);
                break;
            case "inspect_limit":
                draft.InspectLimit = InspectLimit(key, value);
                break;
            case "inspect_body_limit":
                draft.InspectBodyLimit = InspectBodyLimit(key, value);
                break;
            case "inspect_memory_limit":
                draft.InspectMemoryLimit = InspectMemoryLimit(key, value);
                break;
            case "host_header":
                draft.HostHeader = HostHeader(key, value);
                break;
            case "allow_ip":
                draft.AllowIP = IPList(tunnel, key, value);
                break;
            case "deny_ip":
                draft.DenyIP = IPList(tunnel, key, value);
                break;
            default:
                throw UnknownKey(key, AgentConfigKeys.Tunnel, "key", $" in tunnel '{tunnel}'",
                    AgentConfigKeys.TopLevel.Contains(key.Value, StringComparer.Ordinal) ? $"'{key.Value}' is a top-level key here; move it out of the tunnel (only inspect, inspect_limit, inspect_body_limit, inspect_memory_limit and host_header can be set per tunnel)." : null);
        }
    }

    /// <summary>The rules between a tunnel's settings; returns its protocols.</summary>
    private List<TunnelProtocolBinding> Check(TunnelConfigDraft draft, ConfigYamlScalar name)
    {
        var protos = draft.Protos
            ?? throw Fail(name, $"Tunnel '{name.Value}' has no proto", "Add the local address per protocol, e.g. 'proto: { http: 8080 }' or 'proto: { tcp: 22 }'.");
        var hasHttp = protos.Any(p => p.Protocol != "tcp");
        var hasTcp = protos.Any(p => p.Protocol == "tcp");
        if (draft.RemotePortKey is not null && !hasTcp)
        {
            throw Fail(draft.RemotePortKey, $"'remote_port' is set on tunnel '{name.Value}', which has no tcp proto", "Remove remote_port (http and https tunnels are reached by host name), or add 'tcp' under proto.");
        }
        foreach (var (key, label) in new[] { (draft.SubdomainKey, "subdomain"), (draft.HostnameKey, "hostname"), (draft.AuthKey, "auth") })
        {
            if (key is not null && !hasHttp)
            {
                throw Fail(key, $"'{label}' is set on tunnel '{name.Value}', which has only a tcp proto", $"Remove {label} (tcp tunnels are reached by port), or add 'http' or 'https' under proto.");
            }
        }
        if (draft.Subdomain is not null && draft.Hostname is not null)
        {
            throw Fail(draft.HostnameKey!, $"Tunnel '{name.Value}' sets both subdomain and hostname", "Keep one: subdomain for <name>.<server domain>, hostname for a full host name.");
        }
        return protos;
    }

    private List<TunnelProtocolBinding> Protos(string tunnel, ConfigYamlScalar key, ConfigYamlNode value)
    {
        if (value is ConfigYamlScalar scalar && !scalar.IsNull && AgentConfigKeys.Protocols.Contains(scalar.Value.Trim().ToLowerInvariant(), StringComparer.Ordinal))
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
            if (!AgentConfigKeys.Protocols.Contains(protocol, StringComparer.Ordinal))
            {
                var suggestion = AgentConfigLoader.Suggest(protocolKey.Value, AgentConfigKeys.Protocols);
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
        var text = Scalar(key, node);
        if (text is not null && !SubdomainPattern().IsMatch(text))
        {
            throw Fail(node, $"The subdomain '{text}' has characters a host name cannot have", "Use letters, digits and '-' (not at the start or end), e.g. 'my-blog'.");
        }
        return text;
    }

    private string? Hostname(ConfigYamlScalar key, ConfigYamlNode node)
    {
        var text = Scalar(key, node);
        if (text is not null && (Uri.CheckHostName(text) != UriHostNameType.Dns || !SubdomainPattern().IsMatch(text)))
        {
            throw Fail(node, $"The hostname '{text}' is not a valid host name", "Give a full host name without scheme or port, e.g. 'hacks.example.com'.");
        }
        return text;
    }

    private string? Auth(ConfigYamlScalar key, ConfigYamlNode node)
    {
        var text = Scalar(key, node);
        if (text is not null && text.IndexOf(':', StringComparison.Ordinal) <= 0)
        {
            throw Fail(node, "'auth' must be 'user:password'", "Write the user name, a colon and the password, e.g. 'auth: \"user:secret\"'.");
        }
        return text;
    }

    [GeneratedRegex(@"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex SubdomainPattern();
}
