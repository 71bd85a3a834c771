using System.Net;
using System.Net.Sockets;
using System.Text;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Tests.Support;

namespace TunnelPS.Engine.Tests.Server;

/// <summary>What the server forwards, refuses and answers itself: requests are routed by the name they carry, and a visitor gets an HTTP answer for every failure.</summary>
public sealed class RequestRoutingTests
{
    [Fact]
    public async Task An_absolute_form_target_routes_by_its_authority_which_replaces_Host()
    {
        // Finding 5: "GET http://h.localhost/admin" with "Host: b.localhost" was routed to h (no auth) but forwarded
        // with Host: b.localhost, so a service that picks its site by Host served b's pages.
        await using var local = new LocalHttpService();
        await using var server = await TunnelHarness.StartServerAsync();
        var open = TunnelHarness.Http(local.Port, "h", "open");
        var closed = TunnelHarness.Http(local.Port, "b", "closed") with { HttpAuth = "user:secret" };
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, open, closed));
        await client.StartAsync();

        using (var visitor = await RawVisitor.ConnectAsync(server.HttpPort))
        {
            await visitor.SendAsync("GET http://h.localhost/admin?x=1#frag HTTP/1.1\r\nHost: b.localhost\r\n\r\n");
            Assert.Equal(200, (await visitor.Reader.ReadAsync()).Status);
        }
        var head = Assert.Single(local.Heads);
        Assert.StartsWith("GET /admin?x=1 HTTP/1.1\r\n", head, StringComparison.Ordinal);
        Assert.Contains("\r\nHost: h.localhost\r\n", head, StringComparison.Ordinal);
        Assert.DoesNotContain("b.localhost", head, StringComparison.Ordinal);

        using (var visitor = await RawVisitor.ConnectAsync(server.HttpPort))
        {
            await visitor.SendAsync("GET http://b.localhost/ HTTP/1.1\r\nHost: h.localhost\r\n\r\n");
            Assert.Equal(401, (await visitor.Reader.ReadAsync()).Status);
        }
        Assert.Single(local.Heads);
    }

    [Fact]
    public async Task A_second_Authorization_header_is_refused_before_anything_is_forwarded()
    {
        // Finding 10: with two Authorization headers only the first was checked.
        await using var local = new LocalHttpService();
        await using var server = await TunnelHarness.StartServerAsync();
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "guarded") with { HttpAuth = "user:secret" }));
        await client.StartAsync();
        var good = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("user:secret"));

        using var visitor = await RawVisitor.ConnectAsync(server.HttpPort);
        await visitor.SendAsync($"GET / HTTP/1.1\r\nHost: guarded.localhost\r\nAuthorization: {good}\r\nAuthorization: Basic bWFsbG9yeTp4\r\n\r\n");
        var (status, body) = await visitor.Reader.ReadAsync();
        Assert.Equal(400, status);
        Assert.Contains("more than one Authorization header", body, StringComparison.Ordinal);
        Assert.Empty(local.Heads);
    }

    [Theory]
    [InlineData("Content-Length: 4, 4\r\n")]
    [InlineData("Content-Length: 4\r\nContent-Length: 4\r\n")]
    public async Task A_Content_Length_list_or_repeat_is_refused_before_anything_is_forwarded(string framing)
    {
        // Finding 10: "Content-Length: 4, 4" was accepted (a request smuggling pattern).
        await using var local = new LocalHttpService();
        await using var server = await TunnelHarness.StartServerAsync();
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "lengths")));
        await client.StartAsync();

        using var visitor = await RawVisitor.ConnectAsync(server.HttpPort);
        await visitor.SendAsync($"POST / HTTP/1.1\r\nHost: lengths.localhost\r\n{framing}\r\nbody");
        var (status, body) = await visitor.Reader.ReadAsync();
        Assert.Equal(400, status);
        Assert.Contains("Content-Length", body, StringComparison.Ordinal);
        Assert.Empty(local.Heads);
    }

    [Theory]
    [InlineData(true)] // the client answers in the local service's place, naming it
    [InlineData(false)] // without capture the client does not follow the exchange: the server answers
    public async Task A_tunnel_that_closes_before_the_local_service_answers_gives_a_502(bool capture)
    {
        // Finding 10: the visitor got an empty reply.
        using var hangUp = new TcpListener(IPAddress.Loopback, 0);
        hangUp.Start();
        var serve = Task.Run(async () =>
        {
            using var c = await hangUp.AcceptTcpClientAsync();
            _ = await c.GetStream().ReadAsync(new byte[4096]);
        });
        await using var server = await TunnelHarness.StartServerAsync();
        var port = ((IPEndPoint)hangUp.LocalEndpoint).Port;
        var definition = TunnelHarness.Http(port, "hangs") with { Capture = new CaptureOptions { Enabled = capture } };
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, definition));
        await client.StartAsync();

        using var visitor = await RawVisitor.ConnectAsync(server.HttpPort);
        await visitor.SendAsync("GET / HTTP/1.1\r\nHost: hangs.localhost\r\n\r\n");
        var answer = await visitor.ReadToEndAsync();
        Assert.StartsWith("HTTP/1.1 502 Bad Gateway\r\n", answer, StringComparison.Ordinal);
        Assert.Contains(
            capture
                ? $"the local service at 127.0.0.1:{port} closed the connection before it answered"
                : "the TunnelPS client ended the connection before a response came: the local service closed it without answering, or the client lost its connection",
            answer,
            StringComparison.Ordinal);
        Assert.DoesNotContain("its client closed", answer, StringComparison.Ordinal);
        await serve.WaitAsync(TunnelHarness.Deadline);
    }

    [Theory]
    [InlineData("ZZ\r\nhello\r\n0\r\n\r\n")]
    [InlineData("5\nhello\r\n0\r\n\r\n")]
    [InlineData("fffffffffffffffffff\r\n")]
    public async Task A_malformed_chunked_body_gets_a_400_and_the_rest_is_not_forwarded(string body)
    {
        // Finding 10: chunk-size overflow and a chunk line ending in a bare LF dropped the connection without a 400.
        await using var local = new LocalHttpService { BeforeRespond = () => Task.Delay(Timeout.Infinite) };
        await using var server = await TunnelHarness.StartServerAsync();
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "chunks")));
        await client.StartAsync();

        using var visitor = await RawVisitor.ConnectAsync(server.HttpPort);
        await visitor.SendAsync("POST /upload HTTP/1.1\r\nHost: chunks.localhost\r\nTransfer-Encoding: chunked\r\n\r\n" + body);
        var answer = await visitor.ReadToEndAsync();
        Assert.StartsWith("HTTP/1.1 400 Bad Request\r\n", answer, StringComparison.Ordinal);
        Assert.Contains("Malformed chunked body", answer, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_response_head_that_is_not_http_never_reaches_the_visitor()
    {
        // Finding 10: a garbage response head from the tunnel was passed through.
        using var liar = new TcpListener(IPAddress.Loopback, 0);
        liar.Start();
        var serve = Task.Run(async () =>
        {
            using var c = await liar.AcceptTcpClientAsync();
            var s = c.GetStream();
            _ = await s.ReadAsync(new byte[4096]);
            // Looks like HTTP for its first bytes, then is not: nothing of it may go on.
            await s.WriteAsync(Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nSet-Cookie: session=stolen\r\nbroken header line\r\n\r\n<script>"));
            c.Client.Shutdown(SocketShutdown.Send);
            _ = await s.ReadAsync(new byte[16]);
        });
        await using var server = await TunnelHarness.StartServerAsync();
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(((IPEndPoint)liar.LocalEndpoint).Port, "liar")));
        await client.StartAsync();

        using var visitor = await RawVisitor.ConnectAsync(server.HttpPort);
        await visitor.SendAsync("GET / HTTP/1.1\r\nHost: liar.localhost\r\n\r\n");
        var answer = await visitor.ReadToEndAsync();
        Assert.StartsWith("HTTP/1.1 502 Bad Gateway\r\n", answer, StringComparison.Ordinal);
        Assert.DoesNotContain("stolen", answer, StringComparison.Ordinal);
        Assert.DoesNotContain("<script>", answer, StringComparison.Ordinal);
        await serve.WaitAsync(TunnelHarness.Deadline);
    }

    [Fact]
    public async Task A_response_head_split_across_many_reads_is_passed_on_whole()
    {
        using var slow = new TcpListener(IPAddress.Loopback, 0);
        slow.Start();
        var serve = Task.Run(async () =>
        {
            using var c = await slow.AcceptTcpClientAsync();
            c.NoDelay = true;
            var s = c.GetStream();
            _ = await s.ReadAsync(new byte[4096]);
            foreach (var b in Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Long: " + new string('x', 40_000) + "\r\n\r\nhello"))
            {
                await s.WriteAsync(new[] { b });
                if (b == (byte)'\n')
                {
                    await s.FlushAsync();
                }
            }
            _ = await s.ReadAsync(new byte[16]);
        });
        await using var server = await TunnelHarness.StartServerAsync();
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(((IPEndPoint)slow.LocalEndpoint).Port, "slowhead")));
        await client.StartAsync();

        using var visitor = await RawVisitor.ConnectAsync(server.HttpPort);
        await visitor.SendAsync("GET / HTTP/1.1\r\nHost: slowhead.localhost\r\n\r\n");
        var (status, body) = await visitor.Reader.ReadAsync();
        Assert.Equal(200, status);
        Assert.Equal("hello", body);
        visitor.Dispose();
        await serve.WaitAsync(TunnelHarness.Deadline);
    }
}
