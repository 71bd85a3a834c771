using TunnelPS.Engine.Inspection;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Client;

/// <summary>One tunnel a client asks for: its protocols (one public URL each), local target and public name.</summary>
public sealed record TunnelDefinition
{
    /// <summary>A name for the user (the config key, or one generated from the local address).</summary>
    public required string Name { get; init; }

    /// <summary>True when <see cref="Name"/> was made up from the local address rather than given by the user.</summary>
    public bool HasGeneratedName { get; init; }

    /// <summary>How messages name the tunnel: its name in quotes, or "to" its local address when the user never gave a name.</summary>
    public string Title => HasGeneratedName ? $"to {Local}" : $"'{Name}'";

    /// <summary>"http", "https", "tcp"; http and https may be combined (one URL each, same host name).</summary>
    public required IReadOnlyList<string> Protocols { get; init; }

    public required LocalTarget Local { get; init; }

    public string? Subdomain { get; init; }
    public string? Hostname { get; init; }

    /// <summary>"user:password" basic auth the server enforces on every request (http/https).</summary>
    public string? HttpAuth { get; init; }

    /// <summary>The public port wanted for a tcp tunnel (0 = any).</summary>
    public int RemotePort { get; init; }

    /// <summary>
    /// The Host header the local service receives: null keeps the visitor's, "rewrite" sends the local address
    /// (host:port), anything else is sent as given. The original stays in X-Forwarded-Host.
    /// </summary>
    public string? HostHeader { get; init; }

    /// <summary>The Host value to request from the server, or null to keep the visitor's.</summary>
    public string? EffectiveHostHeader =>
        HostHeader is null or "" or "preserve" ? null
        : string.Equals(HostHeader, "rewrite", StringComparison.OrdinalIgnoreCase)
            ? (Local.Port == (Local.UseTls ? 443 : 80) ? Local.Host : new LocalTarget(Local.Host, Local.Port).ToString())
            : HostHeader;

    /// <summary>
    /// Visitor addresses allowed to use the tunnel: single addresses or CIDR ranges, IPv4 and IPv6 (see
    /// <see cref="IPAccessList"/>). Null or empty allows every address not denied. The server enforces it. Kept as a
    /// read-only copy, so what is re-sent after a reconnect is what was validated.
    /// </summary>
    public IReadOnlyList<string>? AllowIP { get => _allowIP; init => _allowIP = ReadOnlyCopy(value); }

    /// <summary>Visitor addresses refused by the tunnel (single addresses or CIDR ranges); deny wins over allow.</summary>
    public IReadOnlyList<string>? DenyIP { get => _denyIP; init => _denyIP = ReadOnlyCopy(value); }

    private readonly IReadOnlyList<string>? _allowIP;
    private readonly IReadOnlyList<string>? _denyIP;

    /// <summary>True when the tunnel has allow or deny rules.</summary>
    public bool HasIPRules => AllowIP is { Count: > 0 } || DenyIP is { Count: > 0 };

    /// <summary>Capture settings for http/https traffic.</summary>
    public CaptureOptions Capture { get; init; } = new();

    /// <summary>True for http or https tunnels.</summary>
    public bool IsHttp => Protocols.Any(p => p is "http" or "https");

    /// <summary>Checks the definition; throws <see cref="TunnelConfigurationException"/> naming what is wrong.</summary>
    public void Validate()
    {
        if (Protocols.Count == 0)
        {
            throw new TunnelConfigurationException($"Tunnel '{Name}' has no protocol; use http, https or tcp.");
        }
        foreach (var protocol in Protocols)
        {
            if (protocol is not ("http" or "https" or "tcp"))
            {
                throw new TunnelConfigurationException($"Tunnel '{Name}' asks for the protocol '{protocol}'; use http, https or tcp.");
            }
        }
        if (Protocols.Contains("tcp") && Protocols.Count > 1)
        {
            throw new TunnelConfigurationException($"Tunnel '{Name}' mixes tcp with http/https; open the tcp tunnel separately.");
        }
        if (RemotePort is < 0 or > 65535)
        {
            throw new TunnelConfigurationException($"Tunnel '{Name}': remote port {RemotePort} is not a port number (1-65535, or 0 for any).");
        }
        if (!string.IsNullOrEmpty(HttpAuth) && HttpAuth.IndexOf(':', StringComparison.Ordinal) <= 0)
        {
            throw new TunnelConfigurationException($"Tunnel '{Name}': basic auth must be user:password.");
        }
        if (EffectiveHostHeader is { } host && (host.Any(char.IsWhiteSpace) || host.Any(char.IsControl)))
        {
            throw new TunnelConfigurationException($"Tunnel '{Name}': the host header '{HostHeader}' is not a valid host; give host or host:port, or 'rewrite'.");
        }
        IPAccessList.Parse(AllowIP, null, $"Tunnel '{Name}', allowed addresses (AllowIP)");
        IPAccessList.Parse(null, DenyIP, $"Tunnel '{Name}', denied addresses (DenyIP)");
        if (Capture.Capacity < 1 || Capture.BodyLimit < 0 || Capture.MaxBytes < 1)
        {
            throw new TunnelConfigurationException($"Tunnel '{Name}': the capture limit must be at least 1, the body limit at least 0 and the memory limit at least 1 byte.");
        }
    }

    private static IReadOnlyList<string>? ReadOnlyCopy(IReadOnlyList<string>? entries) =>
        entries is null ? null : Array.AsReadOnly(entries.ToArray());
}

/// <summary>What a tunnel records of its HTTP traffic.</summary>
public sealed record CaptureOptions
{
    public bool Enabled { get; init; } = true;

    /// <summary>The newest this many exchanges are kept.</summary>
    public int Capacity { get; init; } = 1000;

    /// <summary>Body bytes kept per side of an exchange; the rest is counted and marked truncated.</summary>
    public int BodyLimit { get; init; } = 1024 * 1024;

    /// <summary>The most bytes the capture holds (heads and bodies); the oldest exchanges are evicted to stay within it.</summary>
    public long MaxBytes { get; init; } = CaptureStore.DefaultMaxBytes;
}
