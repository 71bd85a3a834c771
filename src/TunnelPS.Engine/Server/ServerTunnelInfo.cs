namespace TunnelPS.Engine.Server;

/// <summary>A snapshot of one public URL on the server.</summary>
public sealed record ServerTunnelInfo(
    string Url,
    string Protocol,
    string ClientId,
    string? ClientAddress,
    bool ClientConnected,
    long ConnectionCount,
    DateTimeOffset StartTime);
