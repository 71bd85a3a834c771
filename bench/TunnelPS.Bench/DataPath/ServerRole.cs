using System.Globalization;
using System.Net;
using TunnelPS.Engine.Server;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Bench.DataPath;

/// <summary>
/// "--role server --token T": a TunnelServer on loopback with its defaults and one auth token. The connection limits
/// (per address, in total, per tunnel) are raised so that the idle-connection test measures memory, not the limits;
/// the total is still lowered by the engine to what the descriptor limit allows. The certificate is a fresh
/// self-signed one (the default would be written to the user's certificate store).
/// </summary>
internal static class ServerRole
{
    public static async Task<int> RunAsync(string token)
    {
        await using var server = await TunnelServer.StartAsync(new TunnelServerOptions
        {
            Port = 0,
            HttpPort = 0,
            BindAddress = IPAddress.Loopback,
            Certificate = CertificateStore.CreateSelfSigned("localhost"),
            AuthTokens = [token],
            MaxConnectionsPerIP = 20_000,
            MaxConnections = 20_000,
            MaxConnectionsPerTunnel = 20_000,
        });
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"READY {server.Port} {server.HttpPort} {server.CertificateThumbprint} {server.MaxConnections}"));
        await RoleProcess.ServeCommandsAsync(() => server.ConnectionCount);
        return 0;
    }
}
