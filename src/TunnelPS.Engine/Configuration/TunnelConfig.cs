namespace TunnelPS.Engine.Configuration;

/// <summary>
/// One named tunnel under <c>tunnels:</c>. Inspection and host-header values are effective: the tunnel's own key,
/// else the top-level key, else the default in <see cref="AgentConfig"/>.
/// </summary>
public sealed record TunnelConfig
{
    /// <summary>The key under <c>tunnels:</c>.</summary>
    public required string Name { get; init; }

    /// <summary>The <c>proto</c> entries in file order: each public protocol and the local address it forwards to.</summary>
    public required IReadOnlyList<TunnelProtocolBinding> Protos { get; init; }

    /// <summary><c>subdomain</c> (http/https).</summary>
    public string? Subdomain { get; init; }

    /// <summary><c>hostname</c>: a full public host name (http/https).</summary>
    public string? Hostname { get; init; }

    /// <summary><c>auth</c>: "user:password" basic auth the server enforces on visitors (http/https).</summary>
    public string? Auth { get; init; }

    /// <summary><c>remote_port</c>: the public port asked for (tcp; 0 or absent = any).</summary>
    public int? RemotePort { get; init; }

    /// <summary>Whether exchanges of this tunnel are captured.</summary>
    public bool Inspect { get; init; } = AgentConfig.DefaultInspect;

    /// <summary>Exchanges kept for this tunnel.</summary>
    public int InspectLimit { get; init; } = AgentConfig.DefaultInspectLimit;

    /// <summary>Bytes of each body captured.</summary>
    public long InspectBodyLimit { get; init; } = AgentConfig.DefaultInspectBodyLimit;

    /// <summary>The most memory the capture holds, in bytes.</summary>
    public long InspectMemoryLimit { get; init; } = AgentConfig.DefaultInspectMemoryLimit;

    /// <summary><c>preserve</c>, <c>rewrite</c>, or a literal host[:port].</summary>
    public string HostHeader { get; init; } = AgentConfig.HostHeaderPreserve;

    /// <summary><c>allow_ip</c>: visitor addresses (single or CIDR, IPv4 or IPv6) allowed to use the tunnel; empty allows all not denied.</summary>
    public IReadOnlyList<string> AllowIP { get; init; } = [];

    /// <summary><c>deny_ip</c>: visitor addresses (single or CIDR) refused by the tunnel; deny wins over allow.</summary>
    public IReadOnlyList<string> DenyIP { get; init; } = [];

    /// <summary>1-based line of the tunnel's name in the file.</summary>
    public int Line { get; init; }

    /// <summary>1-based column of the tunnel's name in the file.</summary>
    public int Column { get; init; }

    /// <summary>The protocols joined with "+", as ReqTunnel's Protocol field takes them (e.g. "http+https").</summary>
    public string ProtocolList => string.Join('+', Protos.Select(p => p.Protocol));

    /// <summary>Shows the tunnel without the password of <see cref="Auth"/>.</summary>
    public override string ToString() =>
        $"TunnelConfig {{ Name = {Name}, Protos = [{string.Join(", ", Protos)}], Subdomain = {Subdomain}, Hostname = {Hostname}, RemotePort = {RemotePort} }}";
}
