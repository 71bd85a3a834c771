using TunnelPS.Engine.Client;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Bench.DataPath;

/// <summary>
/// "--role client ...": one TunnelClient (one session, one proxy pool, defaults otherwise) with three tunnels to the
/// harness's nginx: http+https with capture on (the defaults), http with capture off, and tcp. Prints one TUNNEL
/// line per public URL, then END.
/// </summary>
internal static class ClientRole
{
    public const string CaptureOn = "bench-on";
    public const string CaptureOff = "bench-off";
    public const string Tcp = "bench-tcp";

    public static async Task<int> RunAsync(int serverPort, string thumbprint, string token, int localPort)
    {
        var local = new LocalTarget("127.0.0.1", localPort);
        await using var client = new TunnelClient(new TunnelClientOptions
        {
            Server = new ServerAddress("127.0.0.1", serverPort),
            Trust = new ServerTrust { PinnedThumbprint = thumbprint },
            AuthToken = token,
            Tunnels =
            [
                new TunnelDefinition { Name = CaptureOn, Protocols = ["http", "https"], Local = local, Subdomain = CaptureOn },
                new TunnelDefinition { Name = CaptureOff, Protocols = ["http"], Local = local, Subdomain = CaptureOff, Capture = new CaptureOptions { Enabled = false } },
                new TunnelDefinition { Name = Tcp, Protocols = ["tcp"], Local = local },
            ],
        });
        var endpoints = await client.StartAsync();
        Console.WriteLine("READY");
        foreach (var endpoint in endpoints)
        {
            Console.WriteLine($"TUNNEL {endpoint.Name} {endpoint.Protocol} {endpoint.PublicUrl}");
        }
        Console.WriteLine("END");
        await RoleProcess.ServeCommandsAsync(() => client.Endpoints.Sum(e => e.ConnectionCount));
        return 0;
    }
}
