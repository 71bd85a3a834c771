using EngineAgentConfig = TunnelPS.Engine.Configuration.AgentConfig;
using TunnelPS.Engine;

namespace TunnelPS;

/// <summary>
/// The effective agent config file as Get-TunnelConfig shows it: where it is, the server, token (masked),
/// proxy (password masked), inspection settings and the named tunnels. A control character the file holds in a
/// value shown here is made visible (<see cref="TerminalText.Line"/>).
/// </summary>
public sealed class TunnelConfig
{
    internal TunnelConfig(EngineAgentConfig config, string configPath, bool exists)
    {
        ArgumentNullException.ThrowIfNull(config);
        ConfigPath = configPath;
        Exists = exists;
        ServerAddress = TerminalText.Line(config.ServerAddr);
        AuthToken = string.IsNullOrEmpty(config.AuthToken) ? null : EngineAgentConfig.Mask(config.AuthToken);
        AuthTokenSecret = TerminalText.Line(config.AuthTokenSecret);
        AuthTokenVault = TerminalText.Line(config.AuthTokenVault);
        HttpProxy = config.HttpProxy is null ? null : TerminalText.Line(MaskProxy(config.HttpProxy));
        TrustHostRootCerts = config.TrustHostRootCerts ?? false;
        ServerCertificateThumbprint = TerminalText.Line(config.ServerCertificateThumbprint);
        SkipCertificateCheck = config.SkipCertificateCheck ?? false;
        InspectAddress = TerminalText.Line(config.InspectAddr);
        Inspect = config.Inspect ?? EngineAgentConfig.DefaultInspect;
        InspectLimit = config.InspectLimit ?? EngineAgentConfig.DefaultInspectLimit;
        InspectBodyLimit = config.InspectBodyLimit ?? EngineAgentConfig.DefaultInspectBodyLimit;
        InspectMemoryLimit = config.InspectMemoryLimit ?? EngineAgentConfig.DefaultInspectMemoryLimit;
        HostHeader = TerminalText.Line(config.HostHeader ?? EngineAgentConfig.HostHeaderPreserve);
        Tunnels = config.Tunnels.Select(t => new TunnelConfigEntry(t)).ToList();
    }

    /// <summary>The file the settings come from.</summary>
    public string ConfigPath { get; }

    /// <summary>False when the file does not exist (every value is then a default).</summary>
    public bool Exists { get; }

    /// <summary><c>server_addr</c>.</summary>
    public string? ServerAddress { get; }

    /// <summary><c>authtoken</c>, masked: ******** when the file has a token, none of its characters shown.</summary>
    public string? AuthToken { get; }

    /// <summary><c>authtoken_secret</c>: the SecretManagement secret holding the token.</summary>
    public string? AuthTokenSecret { get; }

    /// <summary><c>authtoken_vault</c>.</summary>
    public string? AuthTokenVault { get; }

    /// <summary><c>http_proxy</c>, with the password of its user info (or user info without a password, which may be a key) replaced by ********.</summary>
    public string? HttpProxy { get; }

    /// <summary><c>trust_host_root_certs</c>.</summary>
    public bool TrustHostRootCerts { get; }

    /// <summary><c>server_certificate_thumbprint</c>.</summary>
    public string? ServerCertificateThumbprint { get; }

    /// <summary><c>skip_certificate_check</c>.</summary>
    public bool SkipCertificateCheck { get; }

    /// <summary><c>inspect_addr</c>.</summary>
    public string? InspectAddress { get; }

    /// <summary><c>inspect</c> (effective default: on).</summary>
    public bool Inspect { get; }

    /// <summary><c>inspect_limit</c>: exchanges kept per tunnel.</summary>
    public int InspectLimit { get; }

    /// <summary><c>inspect_body_limit</c>: bytes of each body captured.</summary>
    public long InspectBodyLimit { get; }

    /// <summary><c>inspect_memory_limit</c>: the most memory each tunnel's capture holds, in bytes.</summary>
    public long InspectMemoryLimit { get; }

    /// <summary><c>host_header</c>.</summary>
    public string HostHeader { get; }

    /// <summary>The named tunnels, in file order.</summary>
    public IReadOnlyList<TunnelConfigEntry> Tunnels { get; }

    /// <summary>The path.</summary>
    public override string ToString() => ConfigPath;

    internal static string MaskProxy(string proxy)
    {
        int schemeEnd = proxy.IndexOf("://", StringComparison.Ordinal);
        int start = schemeEnd < 0 ? 0 : schemeEnd + 3;
        int authorityEnd = proxy.IndexOfAny(['/', '?', '#'], start);
        if (authorityEnd < 0)
        {
            authorityEnd = proxy.Length;
        }

        // The last '@' of the authority ends the user info, even when an unencoded '@' is in the password.
        int at = authorityEnd > start ? proxy.LastIndexOf('@', authorityEnd - 1, authorityEnd - start) : -1;
        if (at < 0)
        {
            return proxy;
        }

        int colon = proxy.IndexOf(':', start, at - start);
        return colon >= 0
            ? string.Concat(proxy.AsSpan(0, colon + 1), EngineAgentConfig.MaskedSecret, proxy.AsSpan(at))
            : string.Concat(proxy.AsSpan(0, start), EngineAgentConfig.MaskedSecret, proxy.AsSpan(at));
    }
}
