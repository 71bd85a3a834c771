using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Diagnostics;
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

    [Fact]
    public async Task A_client_whose_token_is_refused_after_it_was_accepted_keeps_retrying_until_the_token_is_back()
    {
        // Issue 16, item 9: a reload that dropped the token (a token file empty for a moment, a token removed by
        // mistake) sent every client to Failed for good. Accepted once, a client now retries with back-off.
        const string token = "comeback-token-0001";
        var folder = Directory.CreateTempSubdirectory("tunnelps-tokens-");
        try
        {
            using var refusals = new MetricCollector<long>(null, "TunnelPS", "tunnelps.client.login_refusals");
            var file = Path.Combine(folder.FullName, "tokens.yml");
            var withToken = $"tokens:\n  - token: {token}\n  - token: other-token-0002\n";
            File.WriteAllText(file, withToken);
            var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
            var warnings = new ConcurrentQueue<string>();
            using var log = new CallbackLoggerFactory((level, _, message, _) =>
            {
                if (level == (int)LogLevel.Warning)
                {
                    warnings.Enqueue(message);
                }
            });
            await using var local = new LocalHttpService();
            await using var server = await TunnelHarness.StartServerAsync(o => o with { AuthTokenFile = file, TimeProvider = time, HeartbeatTimeout = TimeSpan.FromDays(1) });
            await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "comeback")) with { AuthToken = token, LoggerFactory = log });
            var endpoint = Assert.Single(await client.StartAsync());
            var statuses = new ConcurrentQueue<TunnelStatus>();
            client.StatusChanged += (_, _) => statuses.Enqueue(client.Status);

            File.WriteAllText(file, "tokens:\n  - token: other-token-0002\n");
            await MaintenanceTicks.UntilAsync(server, time, () => server.Tenants.Count == 1, "the token is removed");
            await TunnelHarness.WaitUntilAsync(() => client.Error is TunnelAuthenticationException || client.Status == TunnelStatus.Failed, "the client's next login is refused");

            Assert.Equal(TunnelStatus.Reconnecting, client.Status);
            Assert.Contains("token was refused", client.Error!.Message, StringComparison.Ordinal);
            Assert.Equal(TunnelStatus.Reconnecting, endpoint.Status);
            Assert.Contains("token was refused", endpoint.Error, StringComparison.Ordinal);
            // It keeps trying, with a warning for each refusal, and never gives up.
            await TunnelHarness.WaitUntilAsync(() => warnings.Count(m => m.Contains("refused the login", StringComparison.Ordinal)) >= 2, "a second refused attempt");
            Assert.Contains(warnings, m => m.Contains("refused the login", StringComparison.Ordinal) && m.Contains("retrying in", StringComparison.Ordinal));
            Assert.DoesNotContain(TunnelStatus.Failed, statuses);
            Assert.True(refusals.GetMeasurementSnapshot().Sum(m => m.Value) >= 2, "each refused attempt is counted");

            File.WriteAllText(file, withToken);
            await MaintenanceTicks.UntilAsync(server, time, () => server.Tenants.Count == 2, "the token is back");
            await TunnelHarness.WaitUntilAsync(() => client.Status == TunnelStatus.Online && endpoint.Status == TunnelStatus.Online, "the client is back");
            Assert.Null(client.Error);
            var tunnel = Assert.Single(server.Tunnels);
            Assert.Equal(endpoint.PublicUrl, tunnel.Url);
            Assert.True(tunnel.ClientConnected);
            Assert.DoesNotContain(TunnelStatus.Failed, statuses);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }
}
