using System.Globalization;
using System.Net;
using System.Security.Cryptography;

namespace TunnelPS.Bench.DataPath;

/// <summary>A server role process and a client role process logged in to it, with the client's public URLs.</summary>
internal sealed class TunnelPair : IAsyncDisposable
{
    private TunnelPair(RoleProcess server, RoleProcess client, int tlsPort, int httpPort, string maxConnections, IReadOnlyDictionary<string, Uri> urls)
    {
        Server = server;
        Client = client;
        TlsPort = tlsPort;
        HttpPort = httpPort;
        MaxConnections = maxConnections;
        Urls = urls;
    }

    public RoleProcess Server { get; }
    public RoleProcess Client { get; }
    public int TlsPort { get; }
    public int HttpPort { get; }
    public string MaxConnections { get; }

    /// <summary>Public URLs by "tunnel-name protocol".</summary>
    public IReadOnlyDictionary<string, Uri> Urls { get; }

    public BenchTarget CaptureOn => Http("http capture on", ClientRole.CaptureOn + " http", false, HttpPort);
    public BenchTarget CaptureOff => Http("http capture off", ClientRole.CaptureOff + " http", false, HttpPort);
    public BenchTarget Https => Http("https capture on", ClientRole.CaptureOn + " https", true, TlsPort);
    public BenchTarget Tcp => new("tcp", new IPEndPoint(IPAddress.Loopback, Urls[ClientRole.Tcp + " tcp"].Port), "localhost", false);

    private BenchTarget Http(string name, string key, bool tls, int port) => new(name, new IPEndPoint(IPAddress.Loopback, port), Urls[key].Authority, tls);

    public static async Task<TunnelPair> StartAsync(int localPort)
    {
        var token = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
        var server = RoleProcess.Start([DataPathBench.RoleFlag, "server", "--token", token]);
        RoleProcess? client = null;
        try
        {
            var ready = (await server.ReadLineAsync(TimeSpan.FromSeconds(60))).Split(' ');
            if (ready[0] != "READY")
            {
                throw new InvalidOperationException("The server role did not start: " + string.Join(' ', ready));
            }
            client = RoleProcess.Start([DataPathBench.RoleFlag, "client", "--server-port", ready[1], "--thumbprint", ready[3], "--token", token, "--local-port", localPort.ToString(CultureInfo.InvariantCulture)]);
            if (await client.ReadLineAsync(TimeSpan.FromSeconds(60)) != "READY")
            {
                throw new InvalidOperationException("The client role did not start.");
            }
            var urls = new Dictionary<string, Uri>(StringComparer.Ordinal);
            while (await client.ReadLineAsync(TimeSpan.FromSeconds(10)) is var line && line != "END")
            {
                var parts = line.Split(' ');
                urls[parts[1] + " " + parts[2]] = new Uri(parts[3]);
            }
            return new TunnelPair(server, client, int.Parse(ready[1], CultureInfo.InvariantCulture), int.Parse(ready[2], CultureInfo.InvariantCulture), ready[4], urls);
        }
        catch
        {
            if (client is not null)
            {
                await client.DisposeAsync();
            }
            await server.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync();
        await Server.DisposeAsync();
    }
}
