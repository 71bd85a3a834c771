namespace TunnelPS;

/// <summary>The lifecycle of a self-hosted server, as <see cref="TunnelServer.Status"/> shows it.</summary>
public enum TunnelServerStatus
{
    /// <summary>Opening its listeners.</summary>
    Starting,

    /// <summary>Accepting clients and visitors.</summary>
    Running,

    /// <summary>Closing listeners and sessions.</summary>
    Stopping,

    /// <summary>Stopped by Stop-TunnelServer, Ctrl+C on -Wait, or removal of the module.</summary>
    Stopped,

    /// <summary>Ended by an error; <see cref="TunnelServer.Error"/> says why.</summary>
    Failed,
}
