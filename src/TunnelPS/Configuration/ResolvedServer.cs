using TunnelPS.Engine.Transport;
using TunnelPS.Session;

namespace TunnelPS.Configuration;

/// <summary>
/// The server a tunnel client dials, as <see cref="TunnelConfigResolver"/> chose it: every node (the first is dialled,
/// the others are fallbacks of a cluster), the session server it is (to trust by its certificate and log in with its
/// token), and whether the config file's token and trust settings apply to it.
/// </summary>
/// <param name="Nodes">The nodes, at least one; the first is dialled first.</param>
/// <param name="Session">The server of this session at that address, or null.</param>
/// <param name="FileApplies">
/// Whether the file's <c>authtoken</c>, <c>authtoken_secret</c> and trust keys apply: always for named tunnels; for an
/// -Http/-Tcp tunnel only when the server is the file's <c>server_addr</c>.
/// </param>
internal sealed record ResolvedServer(IReadOnlyList<ServerAddress> Nodes, SessionServerDefaults? Session, bool FileApplies)
{
    /// <summary>The node dialled first.</summary>
    internal ServerAddress Address => Nodes[0];

    /// <summary>The nodes after the first.</summary>
    internal IReadOnlyList<ServerAddress> Fallbacks => [.. Nodes.Skip(1)];
}
