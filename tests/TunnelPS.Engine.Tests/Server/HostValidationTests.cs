using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Server;
using TunnelPS.Engine.Tests.Support;

namespace TunnelPS.Engine.Tests.Server;

/// <summary>
/// Host and the request target are checked before routing (RFC 9110 7.2, RFC 9112 3.2): what the local service gets as
/// Host and X-Forwarded-Host names the tunnel's host and nothing else.
/// </summary>
public sealed class HostValidationTests : IAsyncLifetime
{
    private LocalHttpService _local = null!;
    private TunnelServer _server = null!;
    private TunnelClient _client = null!;

    public async Task InitializeAsync()
    {
        _local = new LocalHttpService();
        _server = await TunnelHarness.StartServerAsync();
        _client = new TunnelClient(TunnelHarness.ClientOptions(_server, TunnelHarness.Http(_local.Port, "name")));
        await _client.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _client.DisposeAsync();
        await _server.DisposeAsync();
        await _local.DisposeAsync();
    }

    [Theory]
    [InlineData("name.localhost:@evil.example")]
    [InlineData("name.localhost:80/evil.example")]
    [InlineData("name.localhost:\"><script>")]
    [InlineData("name.localhost:80 evil")]
    [InlineData("name.localhost:")]
    [InlineData("name.localhost:0")]
    [InlineData("name.localhost:65536")]
    [InlineData("name.localhost:8080:80")]
    [InlineData("evil.example@name.localhost")]
    [InlineData("name.localhost%2")]
    [InlineData("[::1")]
    [InlineData("[fe80::1%25eth0]")]
    public async Task A_Host_that_is_not_host_and_port_gets_a_400_and_reaches_nothing(string host)
    {
        // Issue 16 item 4: these routed to the tunnel (200) and reached the local service verbatim as Host and X-Forwarded-Host.
        var (status, body) = await VisitAsync($"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n");
        Assert.Equal(400, status);
        Assert.Contains("The Host header is not a valid host", body, StringComparison.Ordinal);
        Assert.Empty(_local.Heads);
    }

    [Theory]
    [InlineData("name.localhost")]
    [InlineData("NAME.LOCALHOST")]
    [InlineData("Name.Localhost:8080")]
    [InlineData("name.localhost.:1")]
    [InlineData("name.localhost:65535")]
    public async Task A_valid_Host_routes_and_is_forwarded_as_sent(string host)
    {
        var (status, _) = await VisitAsync($"GET /p?q=1 HTTP/1.1\r\nHost: {host}\r\n\r\n");
        Assert.Equal(200, status);
        var head = Assert.Single(_local.Heads) + "\r\n";
        Assert.Contains($"\r\nHost: {host}\r\n", head, StringComparison.Ordinal);
        Assert.Contains($"\r\nX-Forwarded-Host: {host}\r\n", head, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("[::1]")]
    [InlineData("[::1]:8080")]
    [InlineData("[2001:DB8::1]:443")]
    [InlineData("127.0.0.1:8080")]
    public async Task An_IP_address_Host_is_valid_and_names_no_tunnel(string host)
    {
        var (status, body) = await VisitAsync($"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n");
        Assert.Equal(404, status);
        Assert.Contains("No tunnel is open", body, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("POST @127.0.0.2:31998/collect HTTP/1.1", "not valid")]
    [InlineData("GET name.localhost:80 HTTP/1.1", "only for CONNECT")]
    [InlineData("GET * HTTP/1.1", "only for OPTIONS")]
    [InlineData("CONNECT /x HTTP/1.1", "must be host:port")]
    [InlineData("CONNECT http://name.localhost/ HTTP/1.1", "must be host:port")]
    [InlineData("GET http://name.localhost:@evil.example/ HTTP/1.1", "not valid")]
    [InlineData("GET http://evil.example@name.localhost/ HTTP/1.1", "not valid")]
    [InlineData("GET http://name.localhost:80 evil/ HTTP/1.1", "Malformed request line")]
    [InlineData("GET ftp://name.localhost/ HTTP/1.1", "scheme other than http")]
    public async Task A_request_target_in_none_of_its_forms_gets_a_400_and_reaches_nothing(string requestLine, string why)
    {
        var (status, body) = await VisitAsync($"{requestLine}\r\nHost: name.localhost\r\nContent-Length: 0\r\n\r\n");
        Assert.Equal(400, status);
        Assert.Contains(why, body, StringComparison.Ordinal);
        Assert.Empty(_local.Heads);
    }

    [Theory]
    [InlineData("OPTIONS * HTTP/1.1", "OPTIONS * HTTP/1.1")]
    [InlineData("GET http://NAME.localhost:8080 HTTP/1.1", "GET / HTTP/1.1")]
    [InlineData("GET https://name.localhost/a?b#c HTTP/1.1", "GET /a?b HTTP/1.1")]
    public async Task A_request_target_in_a_valid_form_is_forwarded(string requestLine, string forwardedLine)
    {
        var (status, _) = await VisitAsync($"{requestLine}\r\nHost: name.localhost\r\n\r\n");
        Assert.Equal(200, status);
        Assert.StartsWith(forwardedLine + "\r\n", Assert.Single(_local.Heads), StringComparison.Ordinal);
    }

    [Fact]
    public async Task After_an_absolute_form_request_an_origin_form_one_on_the_same_connection_keeps_its_own_Host()
    {
        using var visitor = await RawVisitor.ConnectAsync(_server.HttpPort);
        await visitor.SendAsync("GET http://name.localhost:1/first HTTP/1.1\r\nHost: name.localhost\r\n\r\n");
        Assert.Equal(200, (await visitor.Reader.ReadAsync()).Status);
        await visitor.SendAsync("GET /second HTTP/1.1\r\nHost: name.localhost:2\r\nX-Order: 1\r\n\r\n");
        Assert.Equal(200, (await visitor.Reader.ReadAsync()).Status);
        Assert.Equal(2, _local.Heads.Count);
        // Forwarded line for line, as sent (its Host was once replaced by the first request's authority, after the others).
        Assert.StartsWith("GET /second HTTP/1.1\r\nHost: name.localhost:2\r\nX-Order: 1\r\n", _local.Heads[1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Over_HTTPS_the_name_in_SNI_picks_the_certificate_and_Host_picks_the_tunnel()
    {
        // Unchanged by the Host checks: SNI is never compared with Host (as in Caddy's and nginx's defaults).
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(_server,
            TunnelHarness.Http(_local.Port, "sni-a", "sni-a", "https"), TunnelHarness.Http(_local.Port, "sni-b", "sni-b", "https")));
        await client.StartAsync();
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(IPAddress.Loopback, _server.Port);
        await using var ssl = new SslStream(new NetworkStream(socket, ownsSocket: false), false, (_, _, _, _) => true);
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "sni-a.localhost" }).WaitAsync(TunnelHarness.Deadline);
        await ssl.WriteAsync(Encoding.ASCII.GetBytes("GET /which HTTP/1.1\r\nHost: sni-b.localhost\r\nConnection: close\r\n\r\n"));
        var (status, _) = await new HttpResponseReader(ssl).ReadAsync();
        Assert.Equal(200, status);
        Assert.Contains("\r\nHost: sni-b.localhost\r\n", Assert.Single(_local.Heads), StringComparison.Ordinal);
    }

    private async Task<(int Status, string Body)> VisitAsync(string request)
    {
        using var visitor = await RawVisitor.ConnectAsync(_server.HttpPort);
        await visitor.SendAsync(request);
        return await visitor.Reader.ReadAsync();
    }
}
