using System.Globalization;
using System.Net;
using TunnelPS.Engine.Server;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Bench.Soak;

/// <summary>
/// The soak's server child: a TunnelServer on loopback with the default limits and deadlines, except
/// -MaxConnectionsPerIP (all load comes from 127/8), tenants from a token file, and a generated certificate.
/// Arguments: the flag, the token file, -MaxConnectionsPerIP.
/// </summary>
internal static class ServerRole
{
    public const string Flag = "--soak-server";

    /// <summary>The names of the server's gauges whose peaks the child keeps.</summary>
    public const string ConnectionsGauge = "connections";
    public const string HandshakesGauge = "handshakes in progress";
    public const string HandshakesWaitingGauge = "handshakes waiting";

    public static async Task<int> RunAsync(string[] args)
    {
        var tokenFile = args[1];
        var maxPerIP = int.Parse(args[2], CultureInfo.InvariantCulture);
        TunnelServer? server = null;
        using var host = new ChildHost("server", new Dictionary<string, Func<int>>
        {
            [ConnectionsGauge] = () => server?.ConnectionCount ?? 0,
            [HandshakesGauge] = () => server?.TlsHandler.HandshakesInProgress ?? 0,
            [HandshakesWaitingGauge] = () => server?.TlsHandler.HandshakesWaiting ?? 0,
        });
        server = await TunnelServer.StartAsync(new TunnelServerOptions
        {
            Port = 0,
            HttpPort = 0,
            BindAddress = IPAddress.Loopback,
            Certificate = CertificateStore.CreateSelfSigned("localhost"),
            AuthTokenFile = tokenFile,
            MaxConnectionsPerIP = maxPerIP,
            // The soak churns clients of two tenants over the same names and checks that the server comes back to
            // where it started: names of aborted clients must lapse within the drain (the default grace is 10 minutes).
            ReconnectGrace = TimeSpan.FromSeconds(60),
            LoggerFactory = host.LoggerFactory(),
        });
        await using (server)
        {
            await host.RunAsync(
                new ServerReady(server.Port, server.HttpPort, server.CertificateThumbprint, server.MaxConnections, Environment.ProcessId),
                () => Figures(server, host),
                () => null);
        }
        return 0;
    }

    private static ServerFigures Figures(TunnelServer server, ChildHost host) => new()
    {
        Connections = server.ConnectionCount,
        MaxConnections = server.MaxConnections,
        Sessions = server.SessionCount,
        Tunnels = server.Tunnels.Count,
        ActiveWork = server.ActiveWorkCount,
        IdleProxies = server.IdleProxyCount,
        Links = server.LinkCount,
        DeadlineWatched = server.Deadlines.Count,
        HandshakesInProgress = server.TlsHandler.HandshakesInProgress,
        HandshakesWaiting = server.TlsHandler.HandshakesWaiting,
        Counters = host.Counters.ToDictionary(StringComparer.Ordinal),
        Logs = host.Logs.ToDictionary(StringComparer.Ordinal),
    };

    /// <summary>The READY line's content.</summary>
    internal sealed record ServerReady(int Port, int HttpPort, string Thumbprint, int MaxConnections, int Pid);
}
