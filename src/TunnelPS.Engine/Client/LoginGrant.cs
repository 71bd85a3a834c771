namespace TunnelPS.Engine.Client;

/// <summary>What a server granted at login: the session's id and the capabilities both sides use from now on.</summary>
/// <param name="ClientId">The session id the server gave (sent again at the next login, to resume the session).</param>
/// <param name="ServerIsTunnelPS">The server announced the TunnelPS capability.</param>
/// <param name="EnforcesIPRules">The server announced that it enforces per-tunnel IP rules.</param>
/// <param name="ProxyKey">The key proxy connections and links present, or null when the server gave none.</param>
/// <param name="UsesLinks">Visitors arrive as streams over multiplexed links (both sides took the capability).</param>
internal sealed record LoginGrant(string ClientId, bool ServerIsTunnelPS, bool EnforcesIPRules, string? ProxyKey, bool UsesLinks);
