using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Tests.Support;

namespace TunnelPS.Engine.Tests.Client;

public sealed class LocalHttpsServiceTests
{
    [Fact]
    public async Task A_tunnel_to_an_https_local_service_speaks_TLS_to_it_and_accepts_its_development_certificate()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var serve = Task.Run(async () =>
        {
            using var client = await listener.AcceptTcpClientAsync();
            await using var ssl = new SslStream(client.GetStream());
            await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = TunnelHarness.Certificate });
            var buffer = new byte[4096];
            var head = "";
            while (!head.Contains("\r\n\r\n", StringComparison.Ordinal))
            {
                var n = await ssl.ReadAsync(buffer);
                if (n == 0)
                {
                    return "";
                }
                head += Encoding.ASCII.GetString(buffer, 0, n);
            }
            await ssl.WriteAsync(Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\nover tls!"));
            return head;
        });

        await using var server = await TunnelHarness.StartServerAsync();
        var definition = new TunnelDefinition { Name = "secure-local", Protocols = ["http"], Local = LocalTarget.Parse($"https://127.0.0.1:{port}"), Subdomain = "securelocal" };
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, definition));
        var endpoint = Assert.Single(await client.StartAsync());
        using var http = TunnelHarness.Visitor();

        Assert.Equal("over tls!", await http.GetStringAsync(endpoint.PublicUrl + "/secure"));
        var head = await serve.WaitAsync(TunnelHarness.Deadline);
        Assert.StartsWith("GET /secure HTTP/1.1", head, StringComparison.Ordinal);
        Assert.Equal($"https://127.0.0.1:{port}", endpoint.LocalAddress);
    }
}
