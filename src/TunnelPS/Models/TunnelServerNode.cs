using TunnelPS.Engine;
using TunnelPS.Engine.Cluster;

namespace TunnelPS;

/// <summary>
/// One node of a server's cluster, as its last heartbeat described it (Get-TunnelServer -ClusterNode). The texts come
/// from the cluster store: their control characters are shown visibly (<see cref="TerminalText.Line"/>).
/// </summary>
public sealed class TunnelServerNode
{
    internal TunnelServerNode(ClusterNodeInfo info, string server)
    {
        ArgumentNullException.ThrowIfNull(info);
        Name = TerminalText.Line(info.Name);
        Address = TerminalText.Line(info.Address);
        SessionCount = info.Sessions;
        Tunnels = [.. info.Tunnels.Select(t => TerminalText.Line(t))];
        StartTime = info.StartTime;
        LastSeen = info.LastSeen;
        Server = server;
    }

    /// <summary>The node's name (-NodeName).</summary>
    public string Name { get; }

    /// <summary>Where other nodes reach it (-NodeAddress).</summary>
    public string Address { get; }

    /// <summary>Tunnel clients connected to the node.</summary>
    public int SessionCount { get; }

    /// <summary>The public URLs the node's clients serve.</summary>
    public string[] Tunnels { get; }

    /// <summary>When the node started.</summary>
    public DateTimeOffset StartTime { get; }

    /// <summary>When the node's last heartbeat was written.</summary>
    public DateTimeOffset LastSeen { get; }

    /// <summary>The address of the server of this session that was asked (ServerAddress).</summary>
    public string Server { get; }

    public override string ToString() => Name;
}
