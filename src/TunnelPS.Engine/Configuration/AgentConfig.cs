namespace TunnelPS.Engine.Configuration;

/// <summary>
/// The TunnelPS agent (client) config file, <c>~/.tunnelps/tunnelps.yml</c> by default. It reads the ngrok 1.x client
/// file as is (server_addr, trust_host_root_certs, http_proxy, inspect_addr, auth_token/authtoken, tunnels) plus
/// TunnelPS keys. Values are as written in the file; null means the key was absent. Load it with
/// <see cref="AgentConfigLoader"/>, change a top-level value with <see cref="AgentConfigWriter"/>.
/// </summary>
public sealed record AgentConfig
{
    /// <summary>Capture is on unless the file says <c>inspect: false</c>.</summary>
    public const bool DefaultInspect = true;

    /// <summary>Exchanges kept per tunnel when <c>inspect_limit</c> is not set (the capture ring of issue 3).</summary>
    public const int DefaultInspectLimit = 1000;

    /// <summary>Bytes of each request and response body captured when <c>inspect_body_limit</c> is not set (1 MiB, as issue 3).</summary>
    public const long DefaultInspectBodyLimit = 1024 * 1024;

    /// <summary>The largest <c>inspect_limit</c> accepted.</summary>
    public const int MaxInspectLimit = 100_000;

    /// <summary>The memory a tunnel's capture holds when <c>inspect_memory_limit</c> is not set (64 MiB, as issue 10).</summary>
    public const long DefaultInspectMemoryLimit = 64L * 1024 * 1024;

    /// <summary>The smallest <c>inspect_memory_limit</c> accepted (64 KiB).</summary>
    public const long MinInspectMemoryLimit = 64L * 1024;

    /// <summary>The largest <c>inspect_memory_limit</c> accepted (64 GiB).</summary>
    public const long MaxInspectMemoryLimit = 64L * 1024 * 1024 * 1024;

    /// <summary>The largest <c>inspect_body_limit</c> accepted (64 MiB).</summary>
    public const long MaxInspectBodyLimit = 64L * 1024 * 1024;

    /// <summary><c>host_header</c> value: pass the visitor's Host header to the local service unchanged (the default).</summary>
    public const string HostHeaderPreserve = "preserve";

    /// <summary><c>host_header</c> value: rewrite Host to the local address (host:port) the tunnel forwards to.</summary>
    public const string HostHeaderRewrite = "rewrite";

    /// <summary>An empty config (no file, or an empty one).</summary>
    public static AgentConfig Empty { get; } = new();

    /// <summary><c>inline_completions</c>: false turns inline socket completions off for the tunnels of this file (Start-Tunnel -NoInlineCompletions).</summary>
    public bool? InlineCompletions { get; init; }

    /// <summary><c>server_addr</c>: the tunnel server as host:port.</summary>
    public string? ServerAddr { get; init; }

    /// <summary><c>trust_host_root_certs</c>: verify the server against the system roots (ngrok 1.x: else its own CA).</summary>
    public bool? TrustHostRootCerts { get; init; }

    /// <summary><c>http_proxy</c>: the HTTP proxy to dial through, <c>http://user:password@host:port</c>; validated on load.</summary>
    public string? HttpProxy { get; init; }

    /// <summary>
    /// <c>inspect_addr</c>: where the session's web inspector listens (host:port, a port alone, port 0 for any free
    /// one), or <c>disabled</c>, which also turns capture off as in ngrok 1.x unless <c>inspect</c> says otherwise.
    /// </summary>
    public string? InspectAddr { get; init; }

    /// <summary><c>authtoken</c> or <c>auth_token</c>: the token sent in Auth. Show it only through <see cref="Mask"/>.</summary>
    public string? AuthToken { get; init; }

    /// <summary><c>authtoken_secret</c>: the name of a SecretManagement secret holding the token.</summary>
    public string? AuthTokenSecret { get; init; }

    /// <summary><c>authtoken_vault</c>: the SecretManagement vault of <see cref="AuthTokenSecret"/>.</summary>
    public string? AuthTokenVault { get; init; }

    /// <summary>
    /// <c>server_certificate_thumbprint</c>: pins the server certificate by its SHA-256 fingerprint; 64 upper-case hex
    /// digits, separators removed (a SHA-1 thumbprint is refused on load: it could never match).
    /// </summary>
    public string? ServerCertificateThumbprint { get; init; }

    /// <summary><c>skip_certificate_check</c>: accept any server certificate (testing only).</summary>
    public bool? SkipCertificateCheck { get; init; }

    /// <summary><c>inspect</c>: capture exchanges of HTTP tunnels.</summary>
    public bool? Inspect { get; init; }

    /// <summary><c>inspect_limit</c>: exchanges kept per tunnel (ring size).</summary>
    public int? InspectLimit { get; init; }

    /// <summary><c>inspect_body_limit</c>: bytes of each body captured ("1MB", "512KiB" and plain numbers accepted).</summary>
    public long? InspectBodyLimit { get; init; }

    /// <summary><c>inspect_memory_limit</c>: the most memory each tunnel's capture holds ("64MiB", "256MB" and plain numbers accepted).</summary>
    public long? InspectMemoryLimit { get; init; }

    /// <summary><c>host_header</c>: <c>preserve</c>, <c>rewrite</c>, or a literal host[:port] sent as Host.</summary>
    public string? HostHeader { get; init; }

    /// <summary>The tunnels, in file order. Each carries its effective inspect and host_header values.</summary>
    public IReadOnlyList<TunnelConfig> Tunnels { get; init; } = [];

    /// <summary>The file (or source name) this was read from; null for <see cref="Empty"/>.</summary>
    public string? SourcePath { get; init; }

    /// <summary>What a secret is shown as: the same eight asterisks whatever the secret, so neither its characters nor its length show.</summary>
    public const string MaskedSecret = "********";

    /// <summary>A token for display: <see cref="MaskedSecret"/>, or an empty string when there is no token.</summary>
    public static string Mask(string? token) => string.IsNullOrEmpty(token) ? string.Empty : MaskedSecret;

    /// <summary>Shows the config without the token in clear.</summary>
    public override string ToString() =>
        $"AgentConfig {{ SourcePath = {SourcePath}, ServerAddr = {ServerAddr}, AuthToken = {Mask(AuthToken)}, Tunnels = {Tunnels.Count} }}";
}
