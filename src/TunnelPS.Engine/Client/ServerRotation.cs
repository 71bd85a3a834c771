using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Client;

/// <summary>
/// The servers (cluster nodes) a client may log in to, and the one it uses now: the first pick is random, so that
/// clients spread over the nodes, and each failed attempt moves to the next one.
/// </summary>
internal sealed class ServerRotation
{
    private readonly ServerAddress[] _servers;
    private int _index;

    public ServerRotation(ServerAddress first, IReadOnlyList<ServerAddress> fallbacks)
    {
        _servers = [first, .. fallbacks];
        _index = _servers.Length > 1 ? Random.Shared.Next(_servers.Length) : 0;
    }

    /// <summary>How many servers there are to try.</summary>
    public int Count => _servers.Length;

    /// <summary>The server the client is connected to, or will dial next.</summary>
    public ServerAddress Current => _servers[Volatile.Read(ref _index)];

    /// <summary>Moves to the next server of the list (a no-op with one).</summary>
    public void Next() => Volatile.Write(ref _index, (Volatile.Read(ref _index) + 1) % _servers.Length);
}
