using TunnelPS.Engine;

namespace TunnelPS;

/// <summary>
/// One named tunnel of the config file (Get-TunnelConfig); a control character the file holds in a value is shown
/// visibly (<see cref="TerminalText.Line"/>).
/// </summary>
public sealed class TunnelConfigEntry
{
    internal TunnelConfigEntry(TunnelPS.Engine.Configuration.TunnelConfig tunnel)
    {
        Name = TerminalText.Line(tunnel.Name);
        Protocols = tunnel.Protos.Select(p => p.Protocol).ToList();
        LocalAddresses = tunnel.Protos.Select(p => TerminalText.Line($"{p.Protocol}={p.LocalAddress}")).ToList();
        Subdomain = TerminalText.Line(tunnel.Subdomain);
        Hostname = TerminalText.Line(tunnel.Hostname);
        Auth = tunnel.Auth is null ? null : TerminalText.Line(MaskAuth(tunnel.Auth));
        RemotePort = tunnel.RemotePort;
        Inspect = tunnel.Inspect;
        InspectLimit = tunnel.InspectLimit;
        InspectBodyLimit = tunnel.InspectBodyLimit;
        InspectMemoryLimit = tunnel.InspectMemoryLimit;
        HostHeader = TerminalText.Line(tunnel.HostHeader);
        AllowIP = [.. tunnel.AllowIP.Select(r => TerminalText.Line(r))];
        DenyIP = [.. tunnel.DenyIP.Select(r => TerminalText.Line(r))];
    }

    /// <summary>The key under <c>tunnels:</c>; Start-Tunnel -Name takes it.</summary>
    public string Name { get; }

    /// <summary>http, https, tcp, in file order.</summary>
    public IReadOnlyList<string> Protocols { get; }

    /// <summary>Each protocol with its local address as written, e.g. <c>https=8080</c>.</summary>
    public IReadOnlyList<string> LocalAddresses { get; }

    /// <summary><c>subdomain</c>.</summary>
    public string? Subdomain { get; }

    /// <summary><c>hostname</c>.</summary>
    public string? Hostname { get; }

    /// <summary><c>auth</c> with the password masked: <c>user:********</c>.</summary>
    public string? Auth { get; }

    /// <summary><c>remote_port</c>.</summary>
    public int? RemotePort { get; }

    /// <summary>Effective <c>inspect</c>.</summary>
    public bool Inspect { get; }

    /// <summary>Effective <c>inspect_limit</c>.</summary>
    public int InspectLimit { get; }

    /// <summary>Effective <c>inspect_body_limit</c>.</summary>
    public long InspectBodyLimit { get; }

    /// <summary>Effective <c>inspect_memory_limit</c>.</summary>
    public long InspectMemoryLimit { get; }

    /// <summary>Effective <c>host_header</c>.</summary>
    public string HostHeader { get; }

    /// <summary><c>allow_ip</c>: visitor addresses and CIDR ranges allowed to use the tunnel (empty: every address not denied).</summary>
    public IReadOnlyList<string> AllowIP { get; }

    /// <summary><c>deny_ip</c>: visitor addresses and CIDR ranges the tunnel refuses.</summary>
    public IReadOnlyList<string> DenyIP { get; }

    /// <summary>The name.</summary>
    public override string ToString() => Name;

    private static string MaskAuth(string auth)
    {
        int colon = auth.IndexOf(':', StringComparison.Ordinal);
        string masked = TunnelPS.Engine.Configuration.AgentConfig.MaskedSecret;
        return colon < 0 ? masked : string.Concat(auth.AsSpan(0, colon + 1), masked);
    }
}
