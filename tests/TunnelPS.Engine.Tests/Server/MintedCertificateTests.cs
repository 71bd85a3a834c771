using System.Net;
using System.Net.Http;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Server;
using TunnelPS.Engine.Tests.Support;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Tests.Server;

/// <summary>
/// A server on its default certificates, end to end: visitors of an https tunnel get a certificate for exactly its
/// host that validates against the local CA (as curl --cacert and a browser that trusts the CA do), while clients
/// keep pinning the control-plane certificate.
/// </summary>
public sealed class MintedCertificateTests : IAsyncDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "tunnelps-minted-" + Guid.NewGuid().ToString("n"));

    public ValueTask DisposeAsync()
    {
        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
        return ValueTask.CompletedTask;
    }

    private Task<TunnelServer> StartServerAsync() =>
        TunnelHarness.StartServerAsync(o => o with { Certificate = null, CertificateFolder = _folder });

    [Fact]
    public async Task A_visitor_of_an_https_tunnel_gets_a_certificate_for_its_host_that_the_CA_vouches_for()
    {
        await using var local = new LocalHttpService();
        await using var server = await StartServerAsync();
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "api", "api", "https")));
        var endpoint = Assert.Single(await client.StartAsync());
        Assert.NotNull(server.CertificateAuthority);
        Assert.False(server.CertificateAuthority!.HasPrivateKey);

        using var http = new HttpClient(new SocketsHttpHandler
        {
            ConnectCallback = async (context, token) =>
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, context.DnsEndPoint.Port), token);
                return new NetworkStream(socket, ownsSocket: true);
            },
            // What curl --cacert does: the chain must end at the CA, and the certificate must name the host.
            SslOptions = { RemoteCertificateValidationCallback = (_, certificate, _, errors) => TrustedByCa(certificate, "api.localhost", server.CertificateAuthority!) },
            UseProxy = false,
        }) { Timeout = TunnelHarness.Deadline };

        Assert.Equal("hello GET /secure", await http.GetStringAsync(endpoint.PublicUrl + "/secure"));

        var seen = await HandshakeAsync(server.Port, "api.localhost");
        Assert.Equal(["api.localhost"], seen.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single().EnumerateDnsNames());
        Assert.Equal(server.SpkiPin, CertificateStore.SpkiPin(seen));
        Assert.NotEqual(server.CertificateThumbprint, CertificateStore.Thumbprint(seen));
        Assert.Equal(1, server.Certificates.MintCount);
    }

    [Fact]
    public async Task The_control_plane_and_names_the_server_does_not_serve_get_the_pinned_default_certificate()
    {
        await using var local = new LocalHttpService();
        await using var server = await StartServerAsync();
        // The client pins server.CertificateThumbprint (TunnelHarness.ClientOptions) and dials 127.0.0.1.
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "web", "web", "https")));
        _ = await client.StartAsync();

        foreach (var name in new[] { "localhost", "nosuch.localhost", "example.org" })
        {
            Assert.Equal(server.CertificateThumbprint, CertificateStore.Thumbprint(await HandshakeAsync(server.Port, name)));
        }
        Assert.Equal(0, server.Certificates.MintCount);
        Assert.Equal(server.SpkiPin, CertificateStore.SpkiPin(server.Certificate));
    }

    [Fact]
    public async Task A_certificate_given_by_the_user_is_used_for_every_name()
    {
        await using var local = new LocalHttpService();
        await using var server = await TunnelHarness.StartServerAsync();
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "api", "api", "https")));
        _ = await client.StartAsync();

        Assert.Null(server.CertificateAuthority);
        Assert.Equal(TunnelHarness.Certificate.Thumbprint, (await HandshakeAsync(server.Port, "api.localhost")).Thumbprint);
        Assert.Equal(CertificateStore.SpkiPin(TunnelHarness.Certificate), server.SpkiPin);
    }

    /// <summary>The certificate the server shows for <paramref name="serverName"/> (SNI) on 127.0.0.1.</summary>
    private static async Task<X509Certificate2> HandshakeAsync(int port, string serverName)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        await using var ssl = new SslStream(tcp.GetStream());
        using var deadline = new CancellationTokenSource(TunnelHarness.Deadline);
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = serverName,
            RemoteCertificateValidationCallback = static (_, _, _, _) => true,
        }, deadline.Token);
        return new X509Certificate2(ssl.RemoteCertificate!);
    }

    private static bool TrustedByCa(X509Certificate? presented, string host, X509Certificate2 ca)
    {
        if (presented is null)
        {
            return false;
        }
        using var leaf = new X509Certificate2(presented);
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(leaf) && leaf.MatchesHostname(host);
    }
}
