using TunnelPS.Engine.Transport;

namespace TunnelPS.Configuration;

/// <summary>A tunnel server of this session, used when neither the parameters nor the file name a server.</summary>
internal sealed record SessionServerDefaults(ServerAddress Address, string? CertificateThumbprint, string? AuthToken);
