using System.Net;
using EngineServer = TunnelPS.Engine.Server.TunnelServer;
using EngineServerStatus = TunnelPS.Engine.Server.TunnelServerStatus;
using EngineTunnelStatus = TunnelPS.Engine.Client.TunnelStatus;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Transport;
using TunnelPS.Hosting;

namespace TunnelPS.Session;

/// <summary>
/// The process-wide registry of the servers and tunnels started in this PowerShell process:
/// what Get-Tunnel and Get-TunnelServer list, and what Stop-* and module removal stop.
/// </summary>
/// <remarks>
/// One wrapper object per engine object, so the same <see cref="Tunnel"/> comes back from
/// every command. Stopped objects leave the registry (when the engine reports completion, and
/// whenever the lists are read); failed ones stay visible, with their Error, until stopped.
/// Thread-safe: engine completion callbacks run on pool threads.
/// </remarks>
internal static class SessionRegistry
{
    private static readonly object s_gate = new();
    private static readonly List<TunnelServer> s_servers = [];
    private static readonly List<Tunnel> s_tunnels = [];
    private static readonly Dictionary<TunnelEndpoint, Tunnel> s_tunnelsByEndpoint = new(ReferenceEqualityComparer.Instance);
    private static readonly HashSet<string> s_pendingNames = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>How long module removal waits for everything to close.</summary>
    internal static readonly TimeSpan StopAllTimeout = TimeSpan.FromSeconds(15);

    static SessionRegistry()
    {
        // ModuleInitializer must not name engine types, so the registry hands it its cleanup.
        ModuleInitializer.StopAllOnRemove = StopAll;
    }

    /// <summary>Servers of this session, oldest first.</summary>
    internal static IReadOnlyList<TunnelServer> Servers
    {
        get
        {
            lock (s_gate)
            {
                s_servers.RemoveAll(s => s.Engine.Status == EngineServerStatus.Stopped);
                return [.. s_servers];
            }
        }
    }

    /// <summary>Tunnels (public URLs) of this session, oldest first.</summary>
    internal static IReadOnlyList<Tunnel> Tunnels
    {
        get
        {
            lock (s_gate)
            {
                RemoveStoppedTunnelsLocked();
                return [.. s_tunnels];
            }
        }
    }

    /// <summary>Wraps and registers a started server.</summary>
    internal static TunnelServer AddServer(EngineServer engine, EngineLogRoute log)
    {
        var server = new TunnelServer(engine, log);
        lock (s_gate)
        {
            s_servers.Add(server);
        }

        _ = engine.Completion.ContinueWith(
            _ => RemoveServerIfStopped(server),
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
        return server;
    }

    /// <summary>Forgets a server (after Stop-TunnelServer).</summary>
    internal static void RemoveServer(TunnelServer server)
    {
        lock (s_gate)
        {
            s_servers.Remove(server);
        }
    }

    /// <summary>The server Start-Tunnel uses without -ServerAddress: the newest running one in this session.</summary>
    internal static TunnelServer? DefaultServer
    {
        get
        {
            lock (s_gate)
            {
                return s_servers.LastOrDefault(s => s.Engine.Status == EngineServerStatus.Running);
            }
        }
    }

    /// <summary>The running server of this session that <paramref name="address"/> reaches (same port, a loopback name or its domain), if any.</summary>
    internal static TunnelServer? FindLocalServer(ServerAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        bool loopback = string.Equals(address.Host, "localhost", StringComparison.OrdinalIgnoreCase)
            || (IPAddress.TryParse(address.Host, out IPAddress? ip) && IPAddress.IsLoopback(ip));
        lock (s_gate)
        {
            return s_servers.LastOrDefault(s =>
                s.Engine.Status == EngineServerStatus.Running
                && s.Port == address.Port
                && (loopback || string.Equals(s.Domain, address.Host, StringComparison.OrdinalIgnoreCase)));
        }
    }

    /// <summary>
    /// Reserves a tunnel name until <see cref="AddClient"/> or <see cref="ReleaseName"/>:
    /// <paramref name="name"/> itself when <paramref name="exact"/>, else the first free one of
    /// name, name-2, name-3, … Returns null when an exact name is taken by a live tunnel.
    /// </summary>
    internal static string? ReserveName(string name, bool exact)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        lock (s_gate)
        {
            for (int suffix = 1; ; suffix++)
            {
                string candidate = suffix == 1 ? name : $"{name}-{suffix}";
                bool taken = s_pendingNames.Contains(candidate)
                    || s_tunnels.Exists(t => t.Endpoint.Status != EngineTunnelStatus.Stopped
                        && string.Equals(t.Name, candidate, StringComparison.OrdinalIgnoreCase));
                if (!taken)
                {
                    s_pendingNames.Add(candidate);
                    return candidate;
                }

                if (exact)
                {
                    return null;
                }
            }
        }
    }

    /// <summary>Gives back names reserved by <see cref="ReserveName"/> whose tunnels did not start.</summary>
    internal static void ReleaseNames(IEnumerable<string> names)
    {
        lock (s_gate)
        {
            s_pendingNames.ExceptWith(names);
        }
    }

    /// <summary>Gives back a name reserved by <see cref="ReserveName"/> whose tunnel did not start.</summary>
    internal static void ReleaseName(string name)
    {
        lock (s_gate)
        {
            s_pendingNames.Remove(name);
        }
    }

    /// <summary>Wraps and registers the endpoints of a started client; releases the names reserved for it.</summary>
    internal static IReadOnlyList<Tunnel> AddClient(TunnelClient client, IReadOnlyList<TunnelEndpoint> endpoints, string serverAddress, EngineLogRoute log, IReadOnlyList<string> reservedNames)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(endpoints);
        var tunnels = new List<Tunnel>(endpoints.Count);
        lock (s_gate)
        {
            foreach (TunnelEndpoint endpoint in endpoints)
            {
                // One wrapper per endpoint, whoever asks.
                if (!s_tunnelsByEndpoint.TryGetValue(endpoint, out Tunnel? tunnel))
                {
                    tunnel = new Tunnel(endpoint, serverAddress, log, InspectorHost.ShownUrlFor);
                    s_tunnelsByEndpoint.Add(endpoint, tunnel);
                    s_tunnels.Add(tunnel);
                }

                tunnels.Add(tunnel);
            }

            s_pendingNames.ExceptWith(reservedNames);
        }

        _ = client.Completion.ContinueWith(
            _ => RemoveStoppedTunnels(),
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
        return tunnels;
    }

    /// <summary>Forgets a tunnel (after Stop-Tunnel).</summary>
    internal static void RemoveTunnel(Tunnel tunnel)
    {
        lock (s_gate)
        {
            s_tunnels.Remove(tunnel);
            s_tunnelsByEndpoint.Remove(tunnel.Endpoint);
        }
    }

    /// <summary>Stops every client, then every server, waiting up to <see cref="StopAllTimeout"/>; empties the registry.</summary>
    internal static void StopAll()
    {
        List<TunnelClient> clients;
        List<TunnelServer> servers;
        lock (s_gate)
        {
            clients = s_tunnels.Select(t => t.Client).Distinct().ToList();
            servers = [.. s_servers];
            s_tunnels.Clear();
            s_tunnelsByEndpoint.Clear();
            s_servers.Clear();
        }

        try
        {
            Task stopping = StopAllAsync(clients, servers);
            stopping.Wait(StopAllTimeout);
        }
        catch (AggregateException)
        {
            // Module removal must not fail because a socket did not close cleanly.
        }
    }

    private static async Task StopAllAsync(List<TunnelClient> clients, List<TunnelServer> servers)
    {
        await Task.WhenAll(clients.Select(c => c.StopAsync())).ConfigureAwait(false);
        await Task.WhenAll(servers.Select(s => s.Engine.StopAsync())).ConfigureAwait(false);
    }

    private static void RemoveServerIfStopped(TunnelServer server)
    {
        if (server.Engine.Status == EngineServerStatus.Stopped)
        {
            RemoveServer(server);
        }
    }

    private static void RemoveStoppedTunnels()
    {
        lock (s_gate)
        {
            RemoveStoppedTunnelsLocked();
        }
    }

    private static void RemoveStoppedTunnelsLocked()
    {
        foreach (Tunnel stopped in s_tunnels.Where(t => t.Endpoint.Status == EngineTunnelStatus.Stopped).ToList())
        {
            s_tunnels.Remove(stopped);
            s_tunnelsByEndpoint.Remove(stopped.Endpoint);
        }
    }
}
