using System.Net;

namespace TunnelPS.Engine.Configuration;

/// <summary>
/// A server config file (<c>Start-TunnelServer -ConfigPath</c>), read by <see cref="ServerConfigLoader"/>: the
/// server's settings that belong in a file, each null when the file does not set it (the parameter's default then
/// holds, and a parameter given on the command line always wins). Paths in the file are made absolute against the
/// file's folder.
/// </summary>
public sealed record ServerConfig
{
    /// <summary>The file this config was read from.</summary>
    public required string SourcePath { get; init; }

    public string? Domain { get; init; }
    public int? Port { get; init; }
    public int? HttpPort { get; init; }
    public IPAddress? BindAddress { get; init; }
    public bool? AllowAnonymous { get; init; }

    /// <summary><c>certificate_path</c>: a PFX/PKCS#12 or PEM certificate file (absolute).</summary>
    public string? CertificatePath { get; init; }

    /// <summary><c>auth_token_file</c>: the token file (absolute).</summary>
    public string? AuthTokenFile { get; init; }

    /// <summary><c>auth_token_secrets</c>: names of SecretManagement secrets holding tokens.</summary>
    public IReadOnlyList<string>? AuthTokenSecrets { get; init; }

    public IReadOnlyList<string>? AllowedHostnames { get; init; }
    public IReadOnlyList<string>? DenyIP { get; init; }
    public (int First, int Last)? TcpPortRange { get; init; }

    /// <summary><c>log_path</c>: the JSON-lines log file (absolute).</summary>
    public string? LogPath { get; init; }

    public int? MaxConnections { get; init; }
    public int? MaxConnectionsPerIP { get; init; }
    public int? MaxConcurrentHandshakes { get; init; }
    public int? MaxSessions { get; init; }
    public int? MaxSessionsPerToken { get; init; }
    public int? MaxTunnelsPerSession { get; init; }
    public int? MaxTcpPortsPerToken { get; init; }
    public int? MaxConnectionsPerTunnel { get; init; }
    public TimeSpan? RequestHeadTimeout { get; init; }
    public TimeSpan? VisitorWriteTimeout { get; init; }
    public TimeSpan? IdleTimeout { get; init; }
    public TimeSpan? ClientHelloTimeout { get; init; }

    /// <summary><c>inline_completions</c>: false turns inline socket completions off (Start-TunnelServer -NoInlineCompletions).</summary>
    public bool? InlineCompletions { get; init; }

    /// <summary>The <c>cluster:</c> section; null when the file has none.</summary>
    public ServerClusterConfig? Cluster { get; init; }

    /// <summary>The <c>acme:</c> section; null when the file has none (ACME off).</summary>
    public ServerAcmeConfig? Acme { get; init; }

    /// <summary>Where each key's value is, by its dotted name (<c>cluster.redis</c>, <c>limits.max_sessions</c>).</summary>
    public IReadOnlyDictionary<string, (int Line, int Column)> Positions { get; init; } = new Dictionary<string, (int, int)>();

    /// <summary>
    /// A problem with the value of <paramref name="key"/> found after loading (a secret that cannot be read, a Redis
    /// address the cluster refuses), reported at the value's line and column like the loader's own errors.
    /// </summary>
    public ConfigurationException Invalid(string key, string problem, string remedy)
    {
        var (line, column) = Positions.TryGetValue(key, out var at) ? at : (1, 1);
        return new ConfigurationException(SourcePath, line, column, problem, remedy);
    }
}
