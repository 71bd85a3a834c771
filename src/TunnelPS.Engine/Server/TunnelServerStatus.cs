namespace TunnelPS.Engine.Server;

/// <summary>The lifecycle of a server.</summary>
public enum TunnelServerStatus
{
    Starting,
    Running,
    Stopping,
    Stopped,
    Failed,
}
