namespace TunnelPS.Engine.Configuration;

/// <summary>A tunnel's settings as <see cref="TunnelConfigReader"/> reads them, with the keys it must point at when the
/// rules between them are broken; null where the tunnel does not set a value.</summary>
internal sealed class TunnelConfigDraft
{
    public List<TunnelProtocolBinding>? Protos { get; set; }
    public ConfigYamlScalar? RemotePortKey { get; set; }
    public ConfigYamlScalar? SubdomainKey { get; set; }
    public ConfigYamlScalar? HostnameKey { get; set; }
    public ConfigYamlScalar? AuthKey { get; set; }
    public string? Subdomain { get; set; }
    public string? Hostname { get; set; }
    public string? Auth { get; set; }
    public int? RemotePort { get; set; }
    public bool? Inspect { get; set; }
    public int? InspectLimit { get; set; }
    public long? InspectBodyLimit { get; set; }
    public long? InspectMemoryLimit { get; set; }
    public string? HostHeader { get; set; }
    public IReadOnlyList<string> AllowIP { get; set; } = [];
    public IReadOnlyList<string> DenyIP { get; set; } = [];
}
