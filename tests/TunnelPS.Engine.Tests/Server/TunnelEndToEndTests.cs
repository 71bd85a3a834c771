using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Server;
using TunnelPS.Engine.Tests.Support;
using TunnelPS.Engine.Tests.Transport;

namespace TunnelPS.Engine.Tests.Server;

public sealed class TunnelEndToEndTests
{
    [Fact]
    public async Task A_request_through_an_http_tunnel_reaches_the_local_service_with_forwarding_headers()
    {
        await using var local = new LocalHttpService();
        await using var server = await TunnelHarness.StartServerAsync();
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "blog")));
        var endpoints = await client.StartAsync();

        var endpoint = Assert.Single(endpoints);
        Assert.Equal($"http://blog.localhost:{server.HttpPort}", endpoint.PublicUrl);
        using var http = TunnelHarness.Visitor();
        var body = await http.GetStringAsync(endpoint.PublicUrl + "/hello?x=1");

        Assert.Equal("hello GET /hello?x=1", body);
        var head = Assert.Single(local.Heads);
        Assert.Contains("X-Forwarded-For: 127.0.0.1", head, StringComparison.Ordinal);
        Assert.Contains("X-Forwarded-Proto: http", head, StringComparison.Ordinal);
        Assert.Contains($"X-Forwarded-Host: blog.localhost:{server.HttpPort}", head, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Http_plus_https_gives_two_urls_with_one_name_both_served_and_https_on_the_tls_port()
    {
        await using var local = new LocalHttpService();
        await using var server = await TunnelHarness.StartServerAsync();
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "both", "both", "http", "https")));
        var endpoints = await client.StartAsync();

        Assert.Equal(2, endpoints.Count);
        Assert.Contains(endpoints, e => e.PublicUrl == $"http://both.localhost:{server.HttpPort}");
        Assert.Contains(endpoints, e => e.PublicUrl == $"https://both.localhost:{server.Port}");
        using var http = TunnelHarness.Visitor();
        foreach (var endpoint in endpoints)
        {
            Assert.Equal("hello GET /", await http.GetStringAsync(endpoint.PublicUrl + "/"));
        }
        Assert.Contains(local.Heads, h => h.Contains("X-Forwarded-Proto: https", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Http_plus_https_with_a_random_name_uses_one_name_for_both_and_ports_stay_readable_after_stop()
    {
        await using var local = new LocalHttpService();
        var server = await TunnelHarness.StartServerAsync();
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, null, "both", "http", "https")));
        var endpoints = await client.StartAsync();

        var hosts = endpoints.Select(e => new Uri(e.PublicUrl).Host).Distinct().ToArray();
        Assert.Single(hosts);
        var (port, httpPort) = (server.Port, server.HttpPort);
        await server.StopAsync();
        Assert.Equal((port, httpPort), (server.Port, server.HttpPort));
        Assert.Equal($"localhost:{port}", server.ServerAddress);
    }

    [Theory]
    [InlineData("rewrite", null)]
    [InlineData("app.internal:8080", "app.internal:8080")]
    public async Task The_host_header_can_be_rewritten_for_the_local_service(string hostHeader, string? expected)
    {
        await using var local = new LocalHttpService();
        await using var server = await TunnelHarness.StartServerAsync();
        var definition = TunnelHarness.Http(local.Port, "rehost") with { HostHeader = hostHeader };
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, definition));
        var endpoint = Assert.Single(await client.StartAsync());
        using var http = TunnelHarness.Visitor();
        await http.GetStringAsync(endpoint.PublicUrl + "/");

        var head = Assert.Single(local.Heads);
        Assert.Contains($"Host: {expected ?? $"127.0.0.1:{local.Port}"}\r\n", head + "\r\n", StringComparison.Ordinal);
        Assert.Contains($"X-Forwarded-Host: rehost.localhost:{server.HttpPort}", head, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Each_request_of_a_keep_alive_connection_is_routed_by_its_own_host()
    {
        await using var blue = new LocalHttpService((_, _) => (200, "blue"));
        await using var green = new LocalHttpService((_, _) => (200, "green"));
        await using var server = await TunnelHarness.StartServerAsync();
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server,
            TunnelHarness.Http(blue.Port, "blue", "blue"), TunnelHarness.Http(green.Port, "green", "green")));
        await client.StartAsync();

        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, server.HttpPort);
        using var stream = new NetworkStream(socket);
        var reader = new HttpResponseReader(stream);
        foreach (var (host, expected) in new[] { ("blue", "blue"), ("green", "green"), ("blue", "blue"), ("nobody", "404") })
        {
            await stream.WriteAsync(Encoding.ASCII.GetBytes($"GET / HTTP/1.1\r\nHost: {host}.localhost:{server.HttpPort}\r\n\r\n"));
            var (status, body) = await reader.ReadAsync();
            if (expected == "404")
            {
                Assert.Equal(404, status);
                Assert.Contains("nobody.localhost", body, StringComparison.Ordinal);
            }
            else
            {
                Assert.Equal(200, status);
                Assert.Equal(expected, body);
            }
        }
        Assert.Equal(2, blue.Heads.Count);
        Assert.Single(green.Heads);
    }

    [Fact]
    public async Task A_visitor_on_a_warm_pool_uses_a_connection_dialled_before_it_arrived_and_the_pool_refills()
    {
        await using var local = new LocalHttpService();
        await using var server = await TunnelHarness.StartServerAsync(o => o with { PoolSize = 3 });
        // The pool is what a client without multiplexed links (an ngrok 1.x client, or UseMultiplexing off) uses.
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "warm")) with { UseMultiplexing = false });
        var endpoint = Assert.Single(await client.StartAsync());
        await TunnelHarness.WaitUntilAsync(() => server.IdleProxyCount == 3, "the pool is warm");

        var dialledBefore = client.ProxyDialCount;
        using var http = TunnelHarness.Visitor();
        Assert.Equal("hello GET /", await http.GetStringAsync(endpoint.PublicUrl + "/"));

        Assert.InRange(client.LastStartedConnectionId, 1, dialledBefore);
        await TunnelHarness.WaitUntilAsync(() => server.IdleProxyCount == 3, "the pool refills");
        Assert.True(client.ProxyDialCount > dialledBefore);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_burst_of_visitors_larger_than_the_pool_is_served_in_full(bool multiplexed)
    {
        await using var local = new LocalHttpService();
        await using var server = await TunnelHarness.StartServerAsync(o => o with { PoolSize = 2 });
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "burst")) with { UseMultiplexing = multiplexed });
        var endpoint = Assert.Single(await client.StartAsync());
        using var http = TunnelHarness.Visitor(keepAlive: false);

        var bodies = await Task.WhenAll(Enumerable.Range(0, 60).Select(i => http.GetStringAsync($"{endpoint.PublicUrl}/b/{i}")));

        Assert.Equal(Enumerable.Range(0, 60).Select(i => $"hello GET /b/{i}"), bodies);
        Assert.Equal(60, endpoint.ConnectionCount);
        Assert.Equal(multiplexed, client.UsesLinks);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Connection_churn_leaves_no_running_work_behind_on_either_side(bool multiplexed)
    {
        await using var local = new LocalHttpService();
        await using var server = await TunnelHarness.StartServerAsync(o => o with { PoolSize = 2 });
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "churn")) with { UseMultiplexing = multiplexed });
        var endpoint = Assert.Single(await client.StartAsync());
        // What a quiet session holds: a warm pool of 2 (ngrok 1.x path), or its links and no pool at all.
        var pooled = multiplexed ? 0 : 2;
        await TunnelHarness.WaitUntilAsync(() => server.IdleProxyCount == pooled && (!multiplexed || client.LinkCount == client.Options.LinkCount), "the session is ready");
        var (serverBaseline, clientBaseline) = (server.ActiveWorkCount, client.ActiveWorkCount);
        using var http = TunnelHarness.Visitor(keepAlive: false);

        for (var i = 0; i < 300; i++)
        {
            Assert.Equal($"hello GET /c/{i}", await http.GetStringAsync($"{endpoint.PublicUrl}/c/{i}"));
        }

        // Every visitor connection, proxy connection or stream, and local connection ends: only what a quiet session holds remains.
        await TunnelHarness.WaitUntilAsync(
            () => server.IdleProxyCount == pooled && server.ActiveWorkCount <= serverBaseline + 2 && client.ActiveWorkCount <= clientBaseline + 2,
            $"work drains (server {server.ActiveWorkCount} vs {serverBaseline}, client {client.ActiveWorkCount} vs {clientBaseline})");
        Assert.Equal(300, endpoint.ConnectionCount);
    }

    [Fact]
    public async Task Basic_auth_answers_401_without_credentials_and_forwards_with_them()
    {
        await using var local = new LocalHttpService();
        await using var server = await TunnelHarness.StartServerAsync();
        var definition = TunnelHarness.Http(local.Port, "secret") with { HttpAuth = "alice:s3cret" };
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, definition));
        var endpoint = Assert.Single(await client.StartAsync());
        using var http = TunnelHarness.Visitor();

        var anonymous = await http.GetAsync(endpoint.PublicUrl + "/");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal("Basic", anonymous.Headers.WwwAuthenticate.Single().Scheme);
        using var wrong = new HttpRequestMessage(HttpMethod.Get, endpoint.PublicUrl + "/");
        wrong.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("alice:nope")));
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(wrong)).StatusCode);
        using var right = new HttpRequestMessage(HttpMethod.Get, endpoint.PublicUrl + "/");
        right.Headers.TryAddWithoutValidation("Authorization", "basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("alice:s3cret")));
        var ok = await http.SendAsync(right);

        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Single(local.Heads);
    }

    [Fact]
    public async Task A_wrong_token_is_refused_with_a_clear_final_error()
    {
        await using var server = await TunnelHarness.StartServerAsync(o => o with { AuthTokens = ["right-token"] });
        var options = TunnelHarness.ClientOptions(server, TunnelHarness.Http(1)) with { AuthToken = "wrong-token" };
        await using var client = new TunnelClient(options);

        var error = await Assert.ThrowsAsync<TunnelAuthenticationException>(() => client.StartAsync());
        Assert.Contains("auth token was refused", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong-token", error.Message, StringComparison.Ordinal);
        Assert.Equal(TunnelErrorKind.Authentication, error.Kind);

        var good = TunnelHarness.ClientOptions(server, TunnelHarness.Http(1)) with { AuthToken = "right-token" };
        await using var accepted = new TunnelClient(good);
        Assert.Single(await accepted.StartAsync());
    }

    [Fact]
    public async Task A_closed_local_port_gives_a_502_page_naming_the_local_address()
    {
        var closedPort = FreePort();
        await using var server = await TunnelHarness.StartServerAsync();
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(closedPort, "down")));
        var endpoint = Assert.Single(await client.StartAsync());
        using var http = TunnelHarness.Visitor();

        var response = await http.GetAsync(endpoint.PublicUrl + "/");

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Contains($"127.0.0.1:{closedPort}", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_taken_name_is_refused_and_freed_when_its_tunnel_closes()
    {
        await using var local = new LocalHttpService();
        await using var server = await TunnelHarness.StartServerAsync(o => o with { AuthTokens = ["token-one-1234", "token-two-1234"] });
        var first = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "taken")) with { AuthToken = "token-one-1234" });
        await first.StartAsync();

        await using (var second = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "taken")) with { AuthToken = "token-two-1234" }))
        {
            var error = await Assert.ThrowsAsync<TunnelRequestException>(() => second.StartAsync());
            Assert.Contains("already registered", error.Message, StringComparison.Ordinal);
            Assert.Equal(TunnelErrorKind.Conflict, error.Kind);
        }
        await using (var sameToken = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "taken")) with { AuthToken = "token-one-1234" }))
        {
            var error = await Assert.ThrowsAsync<TunnelRequestException>(() => sameToken.StartAsync());
            Assert.Contains("already open in another session of the same token", error.Message, StringComparison.Ordinal);
            Assert.Equal(TunnelErrorKind.Conflict, error.Kind);
        }

        await first.CloseEndpointAsync(first.Endpoints[0]);
        await TunnelHarness.WaitUntilAsync(() => server.Tunnels.Count == 0, "the name is released");
        await using var third = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "taken")) with { AuthToken = "token-two-1234" });
        Assert.Single(await third.StartAsync());
    }

    [Fact]
    public async Task Closing_one_of_two_tunnels_frees_its_name_at_once_and_keeps_the_other()
    {
        await using var local = new LocalHttpService();
        await using var server = await TunnelHarness.StartServerAsync();
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server,
            TunnelHarness.Http(local.Port, "one", "one"), TunnelHarness.Http(local.Port, "two", "two")));
        var endpoints = await client.StartAsync();

        await client.CloseEndpointAsync(endpoints[0]);

        await TunnelHarness.WaitUntilAsync(() => server.Tunnels.Count == 1, "one tunnel is released");
        using var http = TunnelHarness.Visitor();
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync(endpoints[0].PublicUrl + "/")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(endpoints[1].PublicUrl + "/")).StatusCode);
    }

    [Fact]
    public async Task A_tcp_tunnel_echoes_bytes_and_half_closes()
    {
        await using var echo = new LoopbackEchoServer(tls: false);
        await using var server = await TunnelHarness.StartServerAsync();
        var definition = new TunnelDefinition { Name = "echo", Protocols = ["tcp"], Local = new LocalTarget("127.0.0.1", echo.Port) };
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, definition));
        var endpoint = Assert.Single(await client.StartAsync());
        var port = new Uri(endpoint.PublicUrl).Port;
        Assert.StartsWith("tcp://localhost:", endpoint.PublicUrl, StringComparison.Ordinal);

        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, port);
        using var stream = new NetworkStream(socket);
        var payload = Encoding.ASCII.GetBytes(new string('x', 100_000));
        await stream.WriteAsync(payload);
        socket.Shutdown(SocketShutdown.Send);
        using var received = new MemoryStream();
        await stream.CopyToAsync(received).WaitAsync(TunnelHarness.Deadline);

        Assert.Equal(payload.Length, received.Length);
        Assert.Equal(1, endpoint.ConnectionCount);
    }

    [Fact]
    public async Task A_requested_remote_port_is_given_and_a_taken_one_is_refused()
    {
        await using var echo = new LoopbackEchoServer(tls: false);
        await using var server = await TunnelHarness.StartServerAsync();
        var port = FreePort();
        var definition = new TunnelDefinition { Name = "ssh", Protocols = ["tcp"], Local = new LocalTarget("127.0.0.1", echo.Port), RemotePort = port };
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, definition));
        Assert.Equal($"tcp://localhost:{port}", Assert.Single(await client.StartAsync()).PublicUrl);

        await using var other = new TunnelClient(TunnelHarness.ClientOptions(server, definition with { Name = "ssh2" }));
        var error = await Assert.ThrowsAsync<TunnelRequestException>(() => other.StartAsync());
        Assert.Contains($"{port}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unknown_hosts_get_a_404_page_naming_the_host()
    {
        await using var server = await TunnelHarness.StartServerAsync();
        using var http = TunnelHarness.Visitor();
        var response = await http.GetAsync($"http://ghost.localhost:{server.HttpPort}/");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("ghost.localhost", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Malformed_requests_get_a_400_and_are_not_forwarded()
    {
        await using var local = new LocalHttpService();
        await using var server = await TunnelHarness.StartServerAsync();
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "strict")));
        await client.StartAsync();
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, server.HttpPort);
        using var stream = new NetworkStream(socket);
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"GET / HTTP/1.1\r\nHost: strict.localhost\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello"));
        var (status, _) = await new HttpResponseReader(stream).ReadAsync();
        Assert.Equal(400, status);
        Assert.Empty(local.Heads);
    }

    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
