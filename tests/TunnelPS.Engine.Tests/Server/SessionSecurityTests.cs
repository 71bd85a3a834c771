using System.Net;
using System.Net.Http;
using Microsoft.Extensions.Time.Testing;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Diagnostics;
using TunnelPS.Engine.Protocol;
using TunnelPS.Engine.Server;
using TunnelPS.Engine.Tests.Support;

namespace TunnelPS.Engine.Tests.Server;

/// <summary>Sessions are the unit of trust: proxy connections, session ids and names cannot be taken from outside.</summary>
public sealed class SessionSecurityTests
{
    private const string TokenA = "tenant-a-token-0001";
    private const string TokenB = "tenant-b-token-0002";

    [Fact]
    public async Task A_RegProxy_that_only_knows_a_live_ClientId_is_closed_and_visitors_stay_with_the_real_client()
    {
        // Finding 1: a TLS connection sending only RegProxy{ClientId} became a pooled proxy connection, and pool
        // recycling soon handed every visitor (Authorization header, cookies) to it.
        await using var local = new LocalHttpService((_, _) => (200, "the real service"));
        await using var server = await TunnelHarness.StartServerAsync();
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "victim")));
        var endpoint = Assert.Single(await client.StartAsync());

        for (var i = 0; i < 8; i++)
        {
            await using var attacker = await RawPeer.DialAsync(server.Port);
            await attacker.SendAsync(new RegProxy { ClientId = client.ClientId });
            Assert.True(await attacker.IsClosedByServerAsync(), "an unproven RegProxy must be closed, never pooled");
        }

        using var http = TunnelHarness.Visitor(keepAlive: false);
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal("the real service", await http.GetStringAsync(endpoint.PublicUrl + "/"));
        }
    }

    [Fact]
    public async Task A_client_with_the_session_key_may_bring_only_the_connections_the_server_asked_for()
    {
        await using var server = await TunnelHarness.StartServerAsync(o => o with { PoolSize = 2 });
        await using var control = await RawPeer.DialAsync(server.Port);
        var login = await control.LoginAsync();
        Assert.Equal("", login.Error);
        Assert.Contains(ProtocolVersion.ProxyKeyCapability, login.Capabilities!);
        Assert.Matches("^[0-9a-f]{64}$", login.ProxyKey!);
        await control.ReadUntilAsync<ReqProxy>();
        await control.ReadUntilAsync<ReqProxy>();

        var accepted = new List<RawPeer>();
        try
        {
            for (var i = 0; i < 2; i++)
            {
                var proxy = await RawPeer.DialAsync(server.Port);
                accepted.Add(proxy);
                await proxy.SendAsync(new RegProxy { ClientId = login.ClientId, ProxyKey = login.ProxyKey });
            }
            await TunnelHarness.WaitUntilAsync(() => server.IdleProxyCount == 2, "the two requested connections are pooled");

            await using var unrequested = await RawPeer.DialAsync(server.Port);
            await unrequested.SendAsync(new RegProxy { ClientId = login.ClientId, ProxyKey = login.ProxyKey });
            Assert.True(await unrequested.IsClosedByServerAsync(), "a connection the server did not ask for is closed");

            await using var wrongKey = await RawPeer.DialAsync(server.Port);
            await wrongKey.SendAsync(new RegProxy { ClientId = login.ClientId, ProxyKey = new string('0', 64) });
            Assert.True(await wrongKey.IsClosedByServerAsync(), "a wrong key is closed");
            Assert.Equal(2, server.IdleProxyCount);
        }
        finally
        {
            foreach (var proxy in accepted)
            {
                await proxy.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task An_ngrok_1x_client_s_proxy_connections_must_come_from_its_control_connection_s_address()
    {
        await using var server = await TunnelHarness.StartServerAsync(o => o with { PoolSize = 2 });
        await using var control = await RawPeer.DialAsync(server.Port, IPAddress.Loopback);
        var login = await control.LoginAsync(tunnelPS: false);
        Assert.Null(login.ProxyKey);
        await control.ReadUntilAsync<ReqProxy>();

        await using var elsewhere = await RawPeer.DialAsync(server.Port, IPAddress.Parse("127.0.0.2"));
        await elsewhere.SendAsync(new RegProxy { ClientId = login.ClientId });
        Assert.True(await elsewhere.IsClosedByServerAsync(), "a RegProxy from another address is closed");

        await using var same = await RawPeer.DialAsync(server.Port, IPAddress.Loopback);
        await same.SendAsync(new RegProxy { ClientId = login.ClientId });
        await TunnelHarness.WaitUntilAsync(() => server.IdleProxyCount == 1, "the connection from the client's address is pooled");
    }

    [Fact]
    public async Task An_Auth_with_another_tenant_s_ClientId_gets_a_session_of_its_own_and_cannot_take_the_names()
    {
        // Finding 2: Auth with another client's ClientId (and any valid token) replaced that client's session.
        await using var local = new LocalHttpService((_, _) => (200, "victim's service"));
        await using var server = await TunnelHarness.StartServerAsync(o => o with { AuthTokens = [TokenA, TokenB] });
        await using var victim = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "victim")) with { AuthToken = TokenA });
        var endpoint = Assert.Single(await victim.StartAsync());

        await using var attacker = await RawPeer.DialAsync(server.Port);
        var login = await attacker.LoginAsync(TokenB, clientId: victim.ClientId);
        Assert.Equal("", login.Error);
        Assert.NotEqual(victim.ClientId, login.ClientId);
        var taken = await attacker.RequestAsync(new ReqTunnel { ReqId = "x1", Protocol = "http", Subdomain = "victim" });
        Assert.Contains("already registered", taken.Error, StringComparison.Ordinal);

        Assert.Equal(2, server.SessionCount);
        Assert.Equal(TunnelStatus.Online, victim.Status);
        using var http = TunnelHarness.Visitor(keepAlive: false);
        Assert.Equal("victim's service", await http.GetStringAsync(endpoint.PublicUrl + "/"));
    }

    [Fact]
    public async Task A_client_chosen_ClientId_is_not_honoured_for_a_new_session()
    {
        await using var server = await TunnelHarness.StartServerAsync();
        await using var peer = await RawPeer.DialAsync(server.Port);
        var login = await peer.LoginAsync(clientId: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
        Assert.Equal("", login.Error);
        Assert.NotEqual("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", login.ClientId);
        Assert.Matches("^[0-9a-f]{32}$", login.ClientId);
    }

    [Fact]
    public async Task A_restarted_client_with_the_same_token_takes_its_names_back_at_once_and_no_other_token_can()
    {
        // Finding 8: after kill -9 the restarted process (a new session id) waited 60 s for its own names, and then
        // any tenant could take them first.
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var local = new LocalHttpService();
        await using var server = await TunnelHarness.StartServerAsync(o => o with { AuthTokens = [TokenA, TokenB], TimeProvider = time, HeartbeatTimeout = TimeSpan.FromDays(1) });
        var crashed = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "mine")) with
        {
            AuthToken = TokenA,
            ReconnectMinDelay = TimeSpan.FromHours(1),
            ReconnectMaxDelay = TimeSpan.FromHours(1),
        });
        var first = Assert.Single(await crashed.StartAsync());
        crashed.AbortControlForTest();
        await TunnelHarness.WaitUntilAsync(() => server.SessionCount == 0, "the server notices the lost client");

        await using (var other = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "mine")) with { AuthToken = TokenB }))
        {
            var error = await Assert.ThrowsAsync<TunnelRequestException>(() => other.StartAsync());
            Assert.Contains("already registered", error.Message, StringComparison.Ordinal);
        }
        time.Advance(server.Options.ReconnectGrace - TimeSpan.FromSeconds(5));
        await using (var other = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "mine")) with { AuthToken = TokenB }))
        {
            await Assert.ThrowsAsync<TunnelRequestException>(() => other.StartAsync());
        }

        await using var restarted = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "mine")) with { AuthToken = TokenA });
        var again = Assert.Single(await restarted.StartAsync());
        Assert.Equal(first.PublicUrl, again.PublicUrl);
        using var http = TunnelHarness.Visitor(keepAlive: false);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(again.PublicUrl + "/")).StatusCode);
        await crashed.DisposeAsync();
    }

    [Fact]
    public async Task Session_ids_never_reach_the_log_or_the_tunnel_list()
    {
        var messages = new System.Collections.Concurrent.ConcurrentQueue<string>();
        using var factory = new CallbackLoggerFactory((_, _, message, _) => messages.Enqueue(message));
        await using var local = new LocalHttpService();
        await using var server = await TunnelHarness.StartServerAsync(o => o with { LoggerFactory = factory });
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "quiet")) with { LoggerFactory = factory });
        var endpoint = Assert.Single(await client.StartAsync());
        using var http = TunnelHarness.Visitor(keepAlive: false);
        await http.GetStringAsync(endpoint.PublicUrl + "/");
        await client.StopAsync();
        await TunnelHarness.WaitUntilAsync(() => server.SessionCount == 0, "the session ends");

        Assert.NotEmpty(client.ClientId);
        Assert.DoesNotContain(messages, m => m.Contains(client.ClientId, StringComparison.OrdinalIgnoreCase));
        Assert.Contains(messages, m => m.Contains(SessionLabel.Of(client.ClientId), StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_tunnel_list_shows_a_session_label_and_the_tenant_not_the_session_id()
    {
        await using var local = new LocalHttpService();
        await using var server = await TunnelHarness.StartServerAsync(o => o with { AuthTokens = [TokenA] });
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "listed")) with { AuthToken = TokenA });
        await client.StartAsync();

        var tunnel = Assert.Single(server.Tunnels);
        Assert.Equal(SessionLabel.Of(client.ClientId), tunnel.Session);
        Assert.Matches("^[0-9a-f]{8}$", tunnel.Session);
        Assert.DoesNotContain(client.ClientId, tunnel.ToString(), StringComparison.Ordinal);
        Assert.StartsWith("token:", tunnel.Tenant, StringComparison.Ordinal);
    }
}
