using TunnelPS.Engine.Server;

namespace TunnelPS;

/// <summary>A snapshot of one public URL registered on a self-hosted server (any client's, not only this session's).</summary>
public sealed class ServerTunnel
{
    internal ServerTunnel(ServerTunnelInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        Url = info.Url;
        Protocol = info.Protocol;
        ClientId = info.ClientId;
        ClientAddress = info.ClientAddress;
        Connected = info.ClientConnected;
        ConnectionCount = info.ConnectionCount;
        StartTime = info.StartTime;
    }

    /// <summary>The public URL, e.g. http://blog.localhost:8080 or tcp://localhost:41234.</summary>
    public string Url { get; }

    /// <summary>http, https or tcp.</summary>
    public string Protocol { get; }

    /// <summary>The session id of the client that holds the URL.</summary>
    public string ClientId { get; }

    /// <summary>The client's ip:port; null while it is disconnected.</summary>
    public string? ClientAddress { get; }

    /// <summary>False while the client is away and the name is reserved for its reconnect.</summary>
    public bool Connected { get; }

    /// <summary>Public connections served so far.</summary>
    public long ConnectionCount { get; }

    /// <summary>When the URL was registered.</summary>
    public DateTimeOffset StartTime { get; }

    /// <summary>The URL.</summary>
    public override string ToString() => Url;
}
