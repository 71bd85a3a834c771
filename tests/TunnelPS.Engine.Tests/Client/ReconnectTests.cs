using System.Net;
using Microsoft.Extensions.Time.Testing;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Tests.Server;
using TunnelPS.Engine.Tests.Support;
using TunnelPS.Engine.Tests.Transport;

namespace TunnelPS.Engine.Tests.Client;

public sealed class ReconnectTests
{
    [Fact]
    public async Task After_the_server_restarts_the_client_reconnects_with_the_same_random_name_and_tcp_port()
    {
        await using var local = new LocalHttpService();
        await using var echo = new LoopbackEchoServer(tls: false);
        var server = await TunnelHarness.StartServerAsync();
        var (port, httpPort) = (server.Port, server.HttpPort);
        var http = TunnelHarness.Http(local.Port);
        var tcp = new TunnelDefinition { Name = "tcp", Protocols = ["tcp"], Local = new LocalTarget("127.0.0.1", echo.Port) };
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, http, tcp));
        var endpoints = await client.StartAsync();
        var urls = endpoints.Select(e => e.PublicUrl).ToArray();

        await server.StopAsync();
        await TunnelHarness.WaitUntilAsync(() => client.Status == TunnelStatus.Reconnecting, "the client notices");
        await using var restarted = await TunnelHarness.StartServerAsync(port: port, httpPort: httpPort);
        await TunnelHarness.WaitUntilAsync(() => client.Status == TunnelStatus.Online && restarted.Tunnels.Count == 2, "the client is back");

        Assert.Equal(urls, client.Endpoints.Select(e => e.PublicUrl).ToArray());
        Assert.All(client.Endpoints, e => Assert.Equal(TunnelStatus.Online, e.Status));
        using var visitor = TunnelHarness.Visitor(keepAlive: false);
        Assert.Equal("hello GET /", await visitor.GetStringAsync(urls[0] + "/"));
    }

    [Fact]
    public async Task While_the_client_is_away_visitors_get_a_503_and_the_name_stays_reserved()
    {
        await using var local = new LocalHttpService();
        await using var server = await TunnelHarness.StartServerAsync(o => o with { AuthTokens = ["owner-token-1", "other-token-1"] });
        var client = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "away")) with { AuthToken = "owner-token-1", ReconnectMinDelay = TimeSpan.FromMinutes(5), ReconnectMaxDelay = TimeSpan.FromMinutes(5) });
        var endpoint = Assert.Single(await client.StartAsync());

        // Cut the control connection without a goodbye, as a network failure would.
        client.AbortControlForTest();
        await TunnelHarness.WaitUntilAsync(() => server.Tunnels.Count == 1 && !server.Tunnels[0].ClientConnected, "the server notices");
        using var visitor = TunnelHarness.Visitor(keepAlive: false);
        var response = await visitor.GetAsync(endpoint.PublicUrl + "/");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Contains("away.localhost", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        await using var intruder = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "away")) with { AuthToken = "other-token-1" });
        await Assert.ThrowsAsync<TunnelRequestException>(() => intruder.StartAsync());
        await client.DisposeAsync();
    }

    [Fact]
    public async Task A_server_ends_a_session_that_stops_sending_pings()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var local = new LocalHttpService();
        await using var server = await TunnelHarness.StartServerAsync(o => o with { TimeProvider = time, HeartbeatTimeout = TimeSpan.FromSeconds(30) });
        // The client's own heartbeat runs on real time with a long interval, so it stays silent here.
        var options = TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "quiet")) with
        {
            HeartbeatInterval = TimeSpan.FromHours(1),
            ReconnectMinDelay = TimeSpan.FromHours(1),
            ReconnectMaxDelay = TimeSpan.FromHours(1),
        };
        await using var client = new TunnelClient(options);
        await client.StartAsync();
        Assert.Equal(1, server.SessionCount);

        time.Advance(TimeSpan.FromSeconds(29));
        await Task.Yield();
        Assert.Equal(1, server.SessionCount);
        for (var i = 0; i < 3 && server.SessionCount == 1; i++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            await TunnelHarness.WaitUntilAsync(() => true, "tick");
        }
        await TunnelHarness.WaitUntilAsync(() => server.SessionCount == 0, "the silent session is ended");
        await TunnelHarness.WaitUntilAsync(() => client.Status == TunnelStatus.Reconnecting, "the client sees the drop");
    }

    [Fact]
    public async Task A_client_drops_a_control_connection_whose_pong_is_late()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var local = new LocalHttpService();
        await using var server = await TunnelHarness.StartServerAsync();
        var options = TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "pinger")) with { TimeProvider = time };
        await using var client = new TunnelClient(options);
        await client.StartAsync();

        client.SuppressPongsForTest = true;
        time.Advance(options.HeartbeatInterval);
        await TunnelHarness.WaitUntilAsync(() => client.PingsSentForTest == 1, "a ping is sent");
        time.Advance(options.PongTimeout + TimeSpan.FromSeconds(1));

        await TunnelHarness.WaitUntilAsync(() => client.Status == TunnelStatus.Reconnecting, "the client drops the connection");
        Assert.Contains("heartbeat", client.Error!.Message, StringComparison.Ordinal);
    }
}
