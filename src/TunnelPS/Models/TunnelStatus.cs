namespace TunnelPS;

/// <summary>The state of a tunnel (one public URL), as <see cref="Tunnel.Status"/> shows it.</summary>
public enum TunnelStatus
{
    /// <summary>Logging in to the server and asking for the tunnel.</summary>
    Connecting,

    /// <summary>The public URL serves requests.</summary>
    Online,

    /// <summary>The connection to the server broke; the client is reconnecting and asks for the same name.</summary>
    Reconnecting,

    /// <summary>Stopped by Stop-Tunnel (or the module was removed).</summary>
    Stopped,

    /// <summary>Ended by an error the client does not retry; <see cref="Tunnel.Error"/> says why.</summary>
    Failed,

    /// <summary>
    /// The public URL is up, but the local service does not answer: visitors get the client's 502 (refused) or 504
    /// (timed out) page, captured with its Error. <see cref="Tunnel.Error"/> says why; Online again when it answers.
    /// </summary>
    Degraded,
}
