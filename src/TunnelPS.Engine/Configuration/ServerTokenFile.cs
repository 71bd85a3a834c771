using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace TunnelPS.Engine.Configuration;

/// <summary>One tenant of a server's token file: its token (or the token's SHA-256), reserved names and limits.</summary>
internal sealed record ServerTokenEntry
{
    /// <summary>The SHA-256 of the token, 64 lowercase hex digits (from <c>token:</c> or given as <c>sha256:</c>).</summary>
    public required string TokenHash { get; init; }

    /// <summary>The name shown in logs and on Get-TunnelServer; null shows a label made from the hash.</summary>
    public string? Name { get; init; }

    /// <summary>Subdomain labels (under the server's domain) no other token may take.</summary>
    public IReadOnlyList<string> Subdomains { get; init; } = [];

    /// <summary>Full host names no other token may take (they must also be allowed by the server's hostname rules).</summary>
    public IReadOnlyList<string> Hostnames { get; init; } = [];

    /// <summary>TCP ports no other token may take; the token may use them even outside the server's range.</summary>
    public IReadOnlyList<int> TcpPorts { get; init; } = [];

    public int? MaxSessions { get; init; }
    public int? MaxTunnels { get; init; }
    public int? MaxTcpPorts { get; init; }
    public int? MaxConnectionsPerTunnel { get; init; }
}

/// <summary>
/// Reads a server token file (YAML): <c>tokens:</c>, a list whose items are a token string or a map with
/// <c>token</c> or <c>sha256</c>, <c>name</c>, <c>subdomains</c>, <c>hostnames</c>, <c>tcp_ports</c>,
/// <c>max_sessions</c>, <c>max_tunnels</c>, <c>max_tcp_ports</c> and <c>max_connections_per_tunnel</c>. Problems are
/// <see cref="ConfigurationException"/>s with file:line:column; a name or port reserved twice is one of them, and so are
/// a file above <see cref="MaxFileLength"/> bytes and more than <see cref="MaxTokens"/> tokens.
/// <c>tokens: []</c> is the explicit form of "no tokens"; an empty file is read as no list at all
/// (<see cref="ServerTokenFileContent.ListsTokens"/>).
/// </summary>
internal static class ServerTokenFile
{
    /// <summary>The largest token file read, in bytes (4 MiB: some 100,000 plain tokens' worth).</summary>
    public const long MaxFileLength = 4 * 1024 * 1024;

    /// <summary>The most tokens (tenants) one file may hold.</summary>
    public const int MaxTokens = 10_000;

    private static readonly string[] EntryKeys =
        ["token", "sha256", "name", "subdomains", "hostnames", "tcp_ports", "max_sessions", "max_tunnels", "max_tcp_ports", "max_connections_per_tunnel"];

    /// <summary>Reads and validates the file; <paramref name="domain"/> is the server's, for reserved subdomains.</summary>
    public static IReadOnlyList<ServerTokenEntry> Load(string path, string domain) => LoadContent(path, domain).Entries;

    /// <summary>Reads and validates the file, telling an empty file from one that says <c>tokens: []</c>.</summary>
    public static ServerTokenFileContent LoadContent(string path, string domain)
    {
        var text = ConfigFileText.Read(path, MaxFileLength, "token file", "Create it (see Get-Help Start-TunnelServer -Parameter AuthTokenFile), or give the path of an existing one.");
        return ParseContent(text, path, domain);
    }

    /// <summary>Parses token file text; <paramref name="sourceName"/> names it in messages.</summary>
    public static IReadOnlyList<ServerTokenEntry> Parse(string yaml, string sourceName, string domain) =>
        ParseContent(yaml, sourceName, domain).Entries;

    /// <summary>Parses token file text, telling an empty file from one that says <c>tokens: []</c>.</summary>
    public static ServerTokenFileContent ParseContent(string yaml, string sourceName, string domain)
    {
        ArgumentNullException.ThrowIfNull(yaml);
        ArgumentNullException.ThrowIfNull(sourceName);
        ArgumentNullException.ThrowIfNull(domain);
        var root = ConfigYamlReader.Read(yaml, sourceName);
        return new Reader(sourceName, domain.ToLowerInvariant()).Read(root);
    }

    /// <summary>The SHA-256 of a token as 64 lowercase hex digits: how tokens are kept in memory and compared.</summary>
    public static string HashToken(string token) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(token))).ToLowerInvariant();

    private sealed class Reader(string source, string domain) : ConfigValueReader(source)
    {
        private readonly Dictionary<string, (ConfigYamlNode Node, int Entry)> _tokens = new(StringComparer.Ordinal);
        private readonly Dictionary<string, (ConfigYamlNode Node, int Entry)> _hosts = new(StringComparer.OrdinalIgnoreCase);
        private readonly Dictionary<int, (ConfigYamlNode Node, int Entry)> _ports = [];

        public ServerTokenFileContent Read(ConfigYamlNode? root)
        {
            if (root is null || root is ConfigYamlScalar { IsNull: true })
            {
                return new([], ListsTokens: false);
            }
            if (root is not ConfigYamlMapping map)
            {
                throw Fail(root, "The file is not a map", "Start it with 'tokens:' followed by a list of tokens.");
            }
            ConfigYamlSequence? tokens = null;
            foreach (var (key, value) in map.Entries)
            {
                if (key.Value != "tokens")
                {
                    throw Fail(key, $"Unknown top-level key '{key.Value}'", AgentConfigLoader.Suggest(key.Value, ["tokens"]) is { } s ? $"Did you mean '{s}'?" : "The only top-level key is 'tokens'.");
                }
                if (value is ConfigYamlScalar { IsNull: true })
                {
                    continue;
                }
                tokens = value as ConfigYamlSequence
                    ?? throw Fail(value, "'tokens' must be a list", "Write one '- token: <token>' item per tenant under 'tokens:'.");
            }
            var entries = new List<ServerTokenEntry>();
            if (tokens is null)
            {
                return new(entries, ListsTokens: false);
            }
            for (var i = 0; i < tokens.Items.Count; i++)
            {
                if (i == MaxTokens)
                {
                    throw Fail(tokens.Items[i], string.Create(CultureInfo.InvariantCulture, $"The file holds more than {MaxTokens} tokens, the most a token file may hold"),
                        "Give tenants that share limits one token, or split the server.");
                }
                entries.Add(ReadEntry(tokens.Items[i], i));
            }
            CheckNesting(entries.Count);
            return new(entries, ListsTokens: true);
        }

        private ServerTokenEntry ReadEntry(ConfigYamlNode node, int index)
        {
            if (node is ConfigYamlScalar scalar)
            {
                return new ServerTokenEntry { TokenHash = Token(scalar, scalar, index, hashed: false) };
            }
            if (node is not ConfigYamlMapping map)
            {
                throw Fail(node, "A token item must be a token or a map", "Write '- token: <token>' with its settings indented below.");
            }
            string? hash = null;
            ConfigYamlScalar? hashKey = null;
            var entry = new ServerTokenEntry { TokenHash = "" };
            foreach (var (key, value) in map.Entries)
            {
                switch (key.Value)
                {
                    case "token" or "sha256":
                        if (hashKey is not null)
                        {
                            throw Fail(key, $"Both '{hashKey.Value}' (line {hashKey.Line}) and '{key.Value}' are set", "Give the token or its SHA-256, not both.");
                        }
                        hashKey = key;
                        hash = Token(key, value, index, hashed: key.Value == "sha256");
                        break;
                    case "name":
                        entry = entry with { Name = Scalar(key, value) };
                        break;
                    case "subdomains":
                        entry = entry with { Subdomains = Subdomains(key, value, index) };
                        break;
                    case "hostnames":
                        entry = entry with { Hostnames = Hostnames(key, value, index) };
                        break;
                    case "tcp_ports":
                        entry = entry with { TcpPorts = Ports(key, value, index) };
                        break;
                    case "max_sessions":
                        entry = entry with { MaxSessions = Int(key, value, 1, 100_000) };
                        break;
                    case "max_tunnels":
                        entry = entry with { MaxTunnels = Int(key, value, 1, 100_000) };
                        break;
                    case "max_tcp_ports":
                        entry = entry with { MaxTcpPorts = Int(key, value, 0, 65_535) };
                        break;
                    case "max_connections_per_tunnel":
                        entry = entry with { MaxConnectionsPerTunnel = Int(key, value, 1, 1_000_000) };
                        break;
                    default:
                        var suggestion = AgentConfigLoader.Suggest(key.Value, EntryKeys);
                        throw Fail(key, $"Unknown token setting '{key.Value}'", suggestion is not null ? $"Did you mean '{suggestion}'?" : $"Known settings: {string.Join(", ", EntryKeys)}.");
                }
            }
            if (hash is null)
            {
                throw Fail(map, "A token item has neither 'token' nor 'sha256'", "Give the token ('token: <token>') or its SHA-256 ('sha256: <64 hex digits>').");
            }
            return entry with { TokenHash = hash };
        }

        private string Token(ConfigYamlScalar key, ConfigYamlNode value, int index, bool hashed)
        {
            var text = Scalar(key, value);
            if (string.IsNullOrEmpty(text))
            {
                throw Fail(value is ConfigYamlScalar ? key : value, $"'{key.Value}' has no value", hashed ? "Give the token's SHA-256 as 64 hex digits." : "Give the token.");
            }
            string hash;
            if (hashed)
            {
                if (text.Length != 64 || !text.All(char.IsAsciiHexDigit))
                {
                    throw Fail(value, $"'sha256' is not 64 hex digits ({text.Length} characters)", "Give the SHA-256 of the token, e.g. from: [Convert]::ToHexString([Security.Cryptography.SHA256]::HashData([Text.Encoding]::UTF8.GetBytes($token))).");
                }
                hash = text.ToLowerInvariant();
            }
            else
            {
                if (text.Length < 8)
                {
                    throw Fail(value, $"The token in item {index + 1} has {text.Length} characters; a token must have at least 8", "Use a long random token, e.g. from: [Convert]::ToHexString([Security.Cryptography.RandomNumberGenerator]::GetBytes(24)).");
                }
                hash = HashToken(text);
            }
            if (_tokens.TryGetValue(hash, out var first))
            {
                throw Fail(value, $"This token is the same as the one of item {first.Entry + 1} (line {first.Node.Line})", "Give each tenant its own token.");
            }
            _tokens[hash] = (value, index);
            return hash;
        }

        private List<string> Subdomains(ConfigYamlScalar key, ConfigYamlNode value, int index)
        {
            var result = new List<string>();
            foreach (var (node, text) in Items(key, value))
            {
                var label = text.ToLowerInvariant().TrimEnd('.');
                if (!label.Split('.').All(HostNames.IsValidLabel))
                {
                    throw Fail(node, $"'{text}' is not a valid subdomain", "Use letters, digits and '-' (labels of at most 63 characters, not starting or ending with '-').");
                }
                Reserve(node, label + "." + domain, index, text);
                result.Add(label);
            }
            return result;
        }

        private List<string> Hostnames(ConfigYamlScalar key, ConfigYamlNode value, int index)
        {
            var result = new List<string>();
            foreach (var (node, text) in Items(key, value))
            {
                var host = text.ToLowerInvariant().TrimEnd('.');
                if (!HostNames.IsValidHostname(host))
                {
                    throw Fail(node, $"'{text}' is not a valid host name", "Give a DNS name such as app.example.com.");
                }
                if (HostNames.IsSameOrParent(host, domain))
                {
                    throw Fail(node, $"'{text}' is the server's domain or a parent of it", "Reserve names under the domain instead; the domain itself is never given to a tenant.");
                }
                Reserve(node, host, index, text);
                result.Add(host);
            }
            return result;
        }

        private void Reserve(ConfigYamlNode node, string host, int index, string text)
        {
            if (_hosts.TryGetValue(host, out var first) && first.Entry != index)
            {
                throw Fail(node, $"'{text}' is already reserved by item {first.Entry + 1} (line {first.Node.Line})", "A name belongs to one token: remove it from one of them.");
            }
            _hosts[host] = (node, index);
        }

        /// <summary>No tenant's reserved name may sit under or above another tenant's (cookies set on a parent reach every child).</summary>
        private void CheckNesting(int count)
        {
            if (count < 2)
            {
                return;
            }
            foreach (var (host, (node, entry)) in _hosts)
            {
                foreach (var parent in HostNames.Parents(host))
                {
                    if (_hosts.TryGetValue(parent, out var other) && other.Entry != entry)
                    {
                        throw Fail(node, $"'{host}' is under '{parent}', which item {other.Entry + 1} (line {other.Node.Line}) reserves", "A tenant's names may not nest under another tenant's: choose names apart.");
                    }
                }
            }
        }

        private List<int> Ports(ConfigYamlScalar key, ConfigYamlNode value, int index)
        {
            var result = new List<int>();
            foreach (var (node, text) in Items(key, value))
            {
                if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
                {
                    throw Fail(node, $"'{text}' is not a port", "Give TCP ports from 1 to 65535.");
                }
                if (_ports.TryGetValue(port, out var first) && first.Entry != index)
                {
                    throw Fail(node, $"Port {port} is already reserved by item {first.Entry + 1} (line {first.Node.Line})", "A port belongs to one token: remove it from one of them.");
                }
                _ports[port] = (node, index);
                result.Add(port);
            }
            return result;
        }
    }
}
