namespace TunnelPS.Engine.Server;

/// <summary>A snapshot of one public URL on the server.</summary>
/// <param name="Session">The short label of the session serving it ("" while its client is away); never the secret session id.</param>
/// <param name="Tenant">The name of the token that owns the name or port.</param>
public sealed record ServerTunnelInfo(
    string Url,
    string Protocol,
    string Session,
    string Tenant,
    string? ClientAddress,
    bool ClientConnected,
    long ConnectionCount,
    int OpenConnections,
    DateTimeOffset StartTime);
