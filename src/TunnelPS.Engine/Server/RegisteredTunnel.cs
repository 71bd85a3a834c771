namespace TunnelPS.Engine.Server;

/// <summary>One public URL on the server and the session that serves it.</summary>
internal sealed class RegisteredTunnel
{
    private long _connectionCount;

    public required string Url { get; init; }
    public required string Protocol { get; init; }
    /// <summary>The host name (http/https) or the domain (tcp).</summary>
    public required string Host { get; init; }
    public int Port { get; init; }
    public required string ClientId { get; init; }
    public BasicAuthentication? Auth { get; init; }

    /// <summary>The Host header sent to the local service instead of the visitor's (TunnelPS extension), or null.</summary>
    public string? HostHeader { get; init; }
    public DateTimeOffset StartTime { get; init; }

    /// <summary>The session serving it; null while it waits for its client to reconnect.</summary>
    public ControlSession? Session { get; set; }

    /// <summary>When a reserved tunnel is released for good.</summary>
    public DateTimeOffset ReservedUntil { get; set; } = DateTimeOffset.MaxValue;

    /// <summary>For tcp tunnels: the listener on <see cref="Port"/>.</summary>
    public TcpTunnelListener? Listener { get; set; }

    public long ConnectionCount => Interlocked.Read(ref _connectionCount);

    public void CountConnection() => Interlocked.Increment(ref _connectionCount);
}
