using TunnelPS.Engine;
using TunnelPS.Engine.Server;

namespace TunnelPS;

/// <summary>
/// A snapshot of one public URL registered on a self-hosted server (any client's, not only this session's). What a
/// client or the token file named shows its control characters visibly (<see cref="TerminalText.Line"/>).
/// </summary>
public sealed class ServerTunnel
{
    internal ServerTunnel(ServerTunnelInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        Url = TerminalText.Line(info.Url);
        Protocol = info.Protocol;
        Session = TerminalText.Line(info.Session);
        Tenant = TerminalText.Line(info.Tenant);
        ClientAddress = TerminalText.Line(info.ClientAddress);
        Connected = info.ClientConnected;
        ConnectionCount = info.ConnectionCount;
        OpenConnections = info.OpenConnections;
        StartTime = info.StartTime;
    }

    /// <summary>The public URL, e.g. http://blog.localhost:8080 or tcp://localhost:41234.</summary>
    public string Url { get; }

    /// <summary>http, https or tcp.</summary>
    public string Protocol { get; }

    /// <summary>
    /// A short label of the client session that serves the URL (empty while the client is away). The session id itself
    /// is a secret the server never shows.
    /// </summary>
    public string Session { get; }

    /// <summary>The token that owns the name: its name in the token file, or "token:" and the first 8 hex digits of its SHA-256; "anonymous" on a server without tokens.</summary>
    public string Tenant { get; }

    /// <summary>The client's ip:port; null while it is disconnected.</summary>
    public string? ClientAddress { get; }

    /// <summary>False while the client is away and the name is reserved for its reconnect.</summary>
    public bool Connected { get; }

    /// <summary>Public connections served so far.</summary>
    public long ConnectionCount { get; }

    /// <summary>Visitor connections open right now.</summary>
    public int OpenConnections { get; }

    /// <summary>When the URL was registered.</summary>
    public DateTimeOffset StartTime { get; }

    /// <summary>The URL.</summary>
    public override string ToString() => Url;
}
