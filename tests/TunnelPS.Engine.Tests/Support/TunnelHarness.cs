using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Server;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Tests.Support;

/// <summary>Starts real servers and clients on loopback with free ports, and visits public URLs.</summary>
internal static class TunnelHarness
{
    private static readonly Lazy<X509Certificate2> s_certificate = new(() => CertificateStore.CreateSelfSigned("localhost"));

    public static X509Certificate2 Certificate => s_certificate.Value;

    public static TimeSpan Deadline { get; } = TimeSpan.FromSeconds(20);

    public static Task<TunnelServer> StartServerAsync(Func<TunnelServerOptions, TunnelServerOptions>? configure = null, int port = 0, int httpPort = 0)
    {
        var options = new TunnelServerOptions
        {
            Domain = "localhost",
            Port = port,
            HttpPort = httpPort,
            BindAddress = IPAddress.Loopback,
            Certificate = Certificate,
        };
        return TunnelServer.StartAsync(configure is null ? options : configure(options));
    }

    public static TunnelClientOptions ClientOptions(TunnelServer server, params TunnelDefinition[] tunnels) => new()
    {
        Server = new ServerAddress("127.0.0.1", server.Port),
        Trust = new ServerTrust { PinnedThumbprint = server.CertificateThumbprint },
        Tunnels = tunnels,
        ReconnectMinDelay = TimeSpan.FromMilliseconds(50),
        ReconnectMaxDelay = TimeSpan.FromMilliseconds(400),
    };

    public static TunnelDefinition Http(int localPort, string? subdomain = null, string name = "web", params string[] protocols) => new()
    {
        Name = name,
        Protocols = protocols.Length == 0 ? ["http"] : protocols,
        Local = new LocalTarget("127.0.0.1", localPort),
        Subdomain = subdomain,
    };

    /// <summary>An HttpClient that sends every request to 127.0.0.1 on the port of its URL, keeping the URL's Host.</summary>
    public static HttpClient Visitor(bool keepAlive = true) => new(new SocketsHttpHandler
    {
        ConnectCallback = async (context, token) =>
        {
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, context.DnsEndPoint.Port), token);
            return new NetworkStream(socket, ownsSocket: true);
        },
        SslOptions = { RemoteCertificateValidationCallback = static (_, _, _, _) => true },
        PooledConnectionLifetime = keepAlive ? Timeout.InfiniteTimeSpan : TimeSpan.Zero,
        UseProxy = false,
    })
    { Timeout = Deadline };

    /// <summary>Polls a condition until it holds or the deadline passes.</summary>
    public static async Task WaitUntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? Deadline);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("Timed out waiting until " + what);
            }
            await Task.Delay(10);
        }
    }
}
