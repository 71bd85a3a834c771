using System.Net;
using System.Net.Sockets;
using System.Text;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Protocol;
using TunnelPS.Engine.Tests.Support;

namespace TunnelPS.Engine.Tests.Server;

/// <summary>Visitors carried as streams over multiplexed links between a TunnelPS client and server.</summary>
public sealed class MultiplexedTunnelTests
{
    [Fact]
    public async Task Visitors_travel_over_a_few_links_and_no_proxy_connection_is_dialled()
    {
        await using var local = new LocalHttpService();
        await using var server = await TunnelHarness.StartServerAsync();
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "mux")) with { LinkCount = 2 });
        var endpoint = Assert.Single(await client.StartAsync());
        Assert.True(client.UsesLinks);
        await TunnelHarness.WaitUntilAsync(() => client.LinkCount == 2, "both links are up");

        using var http = TunnelHarness.Visitor(keepAlive: false);
        var bodies = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => http.GetStringAsync($"{endpoint.PublicUrl}/m/{i}")));

        Assert.Equal(Enumerable.Range(0, 40).Select(i => $"hello GET /m/{i}"), bodies);
        Assert.Equal(0, client.ProxyDialCount);
        Assert.Equal(0, server.IdleProxyCount);
        Assert.Equal(2, client.LinkCount);
    }

    [Fact]
    public async Task The_pool_recycling_never_asks_a_session_on_links_for_proxy_connections()
    {
        // Soak finding: the periodic pool recycling refilled every session's pool, so each client on links also
        // dialled and held four proxy connections nobody used.
        await using var local = new LocalHttpService();
        await using var server = await TunnelHarness.StartServerAsync();
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "norefill")) with { LinkCount = 2 });
        await client.StartAsync();
        await TunnelHarness.WaitUntilAsync(() => client.LinkCount == 2, "both links are up");

        server.Sessions.CheckHeartbeats(recycle: true);

        var session = Assert.Single(server.Sessions.All);
        Assert.True(session.UsesLinks);
        Assert.Equal(0, session.Pool.OutstandingCount);
        Assert.Equal(0, server.IdleProxyCount);
        Assert.Equal(0, client.ProxyDialCount);
    }

    [Fact]
    public async Task A_visitor_that_stops_reading_a_large_response_does_not_slow_the_others()
    {
        // One visitor asks for 256 MiB and reads none of it; the others on the same links still get their pages.
        using var service = new TcpListener(IPAddress.Loopback, 0);
        service.Start();
        var serving = Task.Run(async () =>
        {
            while (true)
            {
                var connection = await service.AcceptTcpClientAsync();
                _ = Task.Run(async () =>
                {
                    using (connection)
                    {
                        var stream = connection.GetStream();
                        var head = new byte[4096];
                        var n = await stream.ReadAsync(head);
                        var big = Encoding.ASCII.GetString(head, 0, n).StartsWith("GET /big", StringComparison.Ordinal);
                        try
                        {
                            if (big)
                            {
                                await stream.WriteAsync(Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Length: 268435456\r\n\r\n"));
                                var chunk = new byte[64 * 1024];
                                for (var i = 0; i < 4096; i++)
                                {
                                    await stream.WriteAsync(chunk);
                                }
                            }
                            else
                            {
                                await stream.WriteAsync(Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nsmall"));
                            }
                        }
                        catch (IOException)
                        {
                            // The stalled visitor's stream was reset at the end of the test.
                        }
                    }
                });
            }
        });
        await using var server = await TunnelHarness.StartServerAsync();
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(((IPEndPoint)service.LocalEndpoint).Port, "fair")) with { LinkCount = 1 });
        var endpoint = Assert.Single(await client.StartAsync());

        using var stalled = await RawVisitor.ConnectAsync(server.HttpPort);
        stalled.Stream.Socket.ReceiveBufferSize = 4096;
        await stalled.SendAsync("GET /big HTTP/1.1\r\nHost: fair.localhost\r\n\r\n");

        using var http = TunnelHarness.Visitor(keepAlive: false);
        for (var i = 0; i < 50; i++)
        {
            Assert.Equal("small", await http.GetStringAsync(endpoint.PublicUrl + "/small"));
        }
        service.Stop();
    }

    [Fact]
    public async Task A_RegLink_without_the_session_key_is_refused()
    {
        await using var local = new LocalHttpService();
        await using var server = await TunnelHarness.StartServerAsync();
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "linked")));
        var endpoint = Assert.Single(await client.StartAsync());

        foreach (var key in new[] { "", new string('0', 64) })
        {
            await using var attacker = await RawPeer.DialAsync(server.Port);
            await attacker.SendAsync(new RegLink { ClientId = client.ClientId, ProxyKey = key });
            Assert.True(await attacker.IsClosedByServerAsync(), "a link without the session's key is closed");
        }
        using var http = TunnelHarness.Visitor(keepAlive: false);
        Assert.Equal("hello GET /", await http.GetStringAsync(endpoint.PublicUrl + "/"));
    }

    [Fact]
    public async Task A_session_that_did_not_ask_for_links_gets_none()
    {
        await using var server = await TunnelHarness.StartServerAsync();
        await using var peer = await RawPeer.DialAsync(server.Port);
        var login = await peer.LoginAsync();
        Assert.DoesNotContain(ProtocolVersion.MuxCapability, login.Capabilities!);
        await using var link = await RawPeer.DialAsync(server.Port);
        await link.SendAsync(new RegLink { ClientId = login.ClientId, ProxyKey = login.ProxyKey! });
        Assert.True(await link.IsClosedByServerAsync());
    }

    [Fact]
    public async Task A_lost_link_is_dialled_again_and_visitors_keep_being_served()
    {
        await using var local = new LocalHttpService();
        await using var server = await TunnelHarness.StartServerAsync();
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "again")) with { LinkCount = 1 });
        var endpoint = Assert.Single(await client.StartAsync());
        await TunnelHarness.WaitUntilAsync(() => client.LinkCount == 1, "the link is up");

        var session = Assert.Single(server.Sessions.All);
        session.CloseLinksForTest();
        using var http = TunnelHarness.Visitor(keepAlive: false);
        Assert.Equal("hello GET /after", await http.GetStringAsync(endpoint.PublicUrl + "/after"));
        await TunnelHarness.WaitUntilAsync(() => client.LinkCount == 1 && session.LinkCount == 1, "the link is back");
    }
}
