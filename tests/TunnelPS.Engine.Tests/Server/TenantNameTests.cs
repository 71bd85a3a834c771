using System.Net;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Configuration;
using TunnelPS.Engine.Protocol;
using TunnelPS.Engine.Server;
using TunnelPS.Engine.Tests.Support;

namespace TunnelPS.Engine.Tests.Server;

/// <summary>Names and ports belong to tenants (tokens): one tenant can never take or shadow another's.</summary>
public sealed class TenantNameTests
{
    private const string TokenA = "tenant-a-token-0001";
    private const string TokenB = "tenant-b-token-0002";

    private static Task<TunnelServer> TwoTenantServerAsync(Func<TunnelServerOptions, TunnelServerOptions>? more = null) =>
        TunnelHarness.StartServerAsync(o => (more ?? (x => x))(o with { AuthTokens = [TokenA, TokenB] }));

    private static async Task<RawPeer> LoginAsync(TunnelServer server, string token)
    {
        var peer = await RawPeer.DialAsync(server.Port);
        var login = await peer.LoginAsync(token);
        Assert.Equal("", login.Error);
        return peer;
    }

    [Fact]
    public async Task A_name_belongs_to_its_tenant_for_every_scheme()
    {
        // Finding 4: another tenant could take https://h when the owner registered only http for h.
        await using var server = await TwoTenantServerAsync();
        await using var owner = await LoginAsync(server, TokenA);
        Assert.Equal("", (await owner.RequestAsync(new ReqTunnel { ReqId = "1", Protocol = "http", Subdomain = "h" })).Error);

        await using var other = await LoginAsync(server, TokenB);
        var https = await other.RequestAsync(new ReqTunnel { ReqId = "2", Protocol = "https", Subdomain = "h" });
        Assert.Contains("already registered by another client", https.Error, StringComparison.Ordinal);

        // The owner may add the other scheme.
        Assert.Equal("", (await owner.RequestAsync(new ReqTunnel { ReqId = "3", Protocol = "https", Subdomain = "h" })).Error);
    }

    [Theory]
    [InlineData("a", "x.a")]
    [InlineData("x.b", "b")]
    [InlineData("deep.x.c", "c")]
    public async Task No_tenant_s_name_may_nest_under_or_above_another_tenant_s(string held, string wanted)
    {
        // Finding 4: x.a could be registered under another tenant's a (a parent's cookies reach its children).
        await using var server = await TwoTenantServerAsync();
        await using var owner = await LoginAsync(server, TokenA);
        Assert.Equal("", (await owner.RequestAsync(new ReqTunnel { ReqId = "1", Protocol = "http", Subdomain = held })).Error);

        await using var other = await LoginAsync(server, TokenB);
        var answer = await other.RequestAsync(new ReqTunnel { ReqId = "2", Protocol = "http", Subdomain = wanted });
        Assert.Contains("another client holds", answer.Error, StringComparison.Ordinal);

        // The same tenant may nest its own names.
        Assert.Equal("", (await owner.RequestAsync(new ReqTunnel { ReqId = "3", Protocol = "http", Subdomain = "more." + held })).Error);
    }

    [Theory]
    [InlineData("localhost", "the server's own domain")]
    [InlineData("LOCALHOST.", "the server's own domain")]
    [InlineData("www.example.com", "only names under localhost")]
    [InlineData("localhost.evil", "only names under localhost")]
    public async Task Hostnames_outside_the_domain_and_the_domain_itself_are_refused_by_default(string hostname, string why)
    {
        // Finding 4: the apex could be registered (cookies for every tenant), and so could any name at all.
        await using var server = await TwoTenantServerAsync();
        await using var peer = await LoginAsync(server, TokenA);
        var answer = await peer.RequestAsync(new ReqTunnel { ReqId = "1", Protocol = "http", Hostname = hostname });
        Assert.Contains(why, answer.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AllowedHostname_patterns_open_names_outside_the_domain()
    {
        await using var server = await TwoTenantServerAsync(o => o with { AllowedHostnames = ["*.example.org", "exact.example.net"] });
        await using var peer = await LoginAsync(server, TokenA);
        Assert.Equal("", (await peer.RequestAsync(new ReqTunnel { ReqId = "1", Protocol = "http", Hostname = "app.example.org" })).Error);
        Assert.Equal("", (await peer.RequestAsync(new ReqTunnel { ReqId = "2", Protocol = "http", Hostname = "exact.example.net" })).Error);
        Assert.Contains("does not give out", (await peer.RequestAsync(new ReqTunnel { ReqId = "3", Protocol = "http", Hostname = "example.org" })).Error, StringComparison.Ordinal);
        Assert.Contains("does not give out", (await peer.RequestAsync(new ReqTunnel { ReqId = "4", Protocol = "http", Hostname = "other.example.net" })).Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Names_and_ports_reserved_in_the_token_file_are_only_their_tenant_s()
    {
        var free = FreePort();
        var file = TempFile($"""
            tokens:
              - token: {TokenA}
                name: alice
                subdomains: [blog]
                hostnames: [www.alice.localhost]
                tcp_ports: [{free}]
              - token: {TokenB}
                name: bob
            """);
        await using var server = await TunnelHarness.StartServerAsync(o => o with { AuthTokenFile = file });
        await using var bob = await LoginAsync(server, TokenB);
        Assert.Contains("reserved for another token", (await bob.RequestAsync(new ReqTunnel { ReqId = "1", Protocol = "http", Subdomain = "blog" })).Error, StringComparison.Ordinal);
        Assert.Contains("reserved for another token", (await bob.RequestAsync(new ReqTunnel { ReqId = "2", Protocol = "http", Subdomain = "x.blog" })).Error, StringComparison.Ordinal);
        Assert.Contains("reserved for another token", (await bob.RequestAsync(new ReqTunnel { ReqId = "3", Protocol = "http", Subdomain = "alice" })).Error, StringComparison.Ordinal);
        Assert.Contains("reserved for another token", (await bob.RequestAsync(new ReqTunnel { ReqId = "4", Protocol = "tcp", RemotePort = free })).Error, StringComparison.Ordinal);

        await using var alice = await LoginAsync(server, TokenA);
        Assert.Equal("", (await alice.RequestAsync(new ReqTunnel { ReqId = "5", Protocol = "http", Subdomain = "blog" })).Error);
        Assert.Equal("", (await alice.RequestAsync(new ReqTunnel { ReqId = "6", Protocol = "http", Subdomain = "www.alice" })).Error);
        var tcp = await alice.RequestAsync(new ReqTunnel { ReqId = "7", Protocol = "tcp", RemotePort = free });
        Assert.Equal("", tcp.Error);
        Assert.EndsWith($":{free}", tcp.Url, StringComparison.Ordinal);
        Assert.Contains(server.Tunnels, t => t.Tenant == "alice");
    }

    [Fact]
    public async Task Random_names_never_land_on_a_reserved_name_and_tcp_ports_stay_in_the_range()
    {
        var first = FreePort();
        await using var server = await TwoTenantServerAsync(o => o with { TcpPortRange = (first, first) });
        await using var peer = await LoginAsync(server, TokenA);
        var tcp = await peer.RequestAsync(new ReqTunnel { ReqId = "1", Protocol = "tcp" });
        Assert.Equal("", tcp.Error);
        Assert.EndsWith($":{first}", tcp.Url, StringComparison.Ordinal);
        var outside = await peer.RequestAsync(new ReqTunnel { ReqId = "2", Protocol = "tcp", RemotePort = first == 65535 ? first - 1 : first + 1 });
        Assert.Contains("outside this server's TCP port range", outside.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_a_range_privileged_ports_are_refused()
    {
        // Finding 6: an explicit RemotePort ignored the range (port 22 as root).
        await using var server = await TwoTenantServerAsync();
        await using var peer = await LoginAsync(server, TokenA);
        var answer = await peer.RequestAsync(new ReqTunnel { ReqId = "1", Protocol = "tcp", RemotePort = 22 });
        Assert.Contains("privileged port", answer.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task One_token_may_hold_only_its_share_of_tcp_ports_and_sessions()
    {
        // Finding 6: one token could fill the global session limit and take the whole port range.
        await using var server = await TwoTenantServerAsync(o => o with { MaxTcpPortsPerToken = 2, MaxSessionsPerToken = 2 });
        await using var peer = await LoginAsync(server, TokenA);
        Assert.Equal("", (await peer.RequestAsync(new ReqTunnel { ReqId = "1", Protocol = "tcp" })).Error);
        Assert.Equal("", (await peer.RequestAsync(new ReqTunnel { ReqId = "2", Protocol = "tcp" })).Error);
        Assert.Contains("already holds 2 TCP ports", (await peer.RequestAsync(new ReqTunnel { ReqId = "3", Protocol = "tcp" })).Error, StringComparison.Ordinal);

        await using var second = await LoginAsync(server, TokenA);
        await using var third = await RawPeer.DialAsync(server.Port);
        var refused = await third.LoginAsync(TokenA);
        Assert.Contains("already has 2 clients connected", refused.Error, StringComparison.Ordinal);

        await using var otherTenant = await LoginAsync(server, TokenB);
        Assert.Equal("", (await otherTenant.RequestAsync(new ReqTunnel { ReqId = "4", Protocol = "tcp" })).Error);
    }

    [Fact]
    public async Task A_token_removed_from_the_file_ends_its_sessions_and_a_bad_reload_keeps_the_old_tokens()
    {
        var file = TempFile($"tokens:\n  - token: {TokenA}\n  - token: {TokenB}\n");
        var messages = new System.Collections.Concurrent.ConcurrentQueue<string>();
        using var log = new TunnelPS.Engine.Diagnostics.CallbackLoggerFactory((_, _, message, _) => messages.Enqueue(message));
        await using var local = new LocalHttpService();
        await using var server = await TunnelHarness.StartServerAsync(o => o with { AuthTokenFile = file, LoggerFactory = log });
        await using var a = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "a")) with { AuthToken = TokenA, ReconnectMinDelay = TimeSpan.FromHours(1), ReconnectMaxDelay = TimeSpan.FromHours(1) });
        await a.StartAsync();
        await using var b = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "b")) with { AuthToken = TokenB });
        await b.StartAsync();

        // A broken file is not applied: both stay.
        await File.WriteAllTextAsync(file, "tokens: [unclosed\n");
        File.SetLastWriteTimeUtc(file, DateTime.UtcNow.AddSeconds(5));
        await TunnelHarness.WaitUntilAsync(() => messages.Any(m => m.Contains("could not be reloaded", StringComparison.Ordinal)), "the reload is tried and refused");
        Assert.Contains(messages, m => m.Contains("could not be reloaded", StringComparison.Ordinal) && m.Contains(file + ":", StringComparison.Ordinal));
        Assert.Equal(2, server.Tenants.Count);
        Assert.Equal(TunnelStatus.Online, a.Status);

        await File.WriteAllTextAsync(file, $"tokens:\n  - token: {TokenB}\n");
        File.SetLastWriteTimeUtc(file, DateTime.UtcNow.AddSeconds(10));
        await TunnelHarness.WaitUntilAsync(() => server.Tenants.Count == 1 && a.Status != TunnelStatus.Online && server.SessionCount == 1, "A's session ends when its token goes");
        Assert.Equal(TunnelStatus.Online, b.Status);

        await using var refused = await RawPeer.DialAsync(server.Port);
        Assert.Contains("token was refused", (await refused.LoginAsync(TokenA)).Error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_token_file_with_errors_names_the_place_and_the_fix()
    {
        var duplicate = Assert.Throws<ConfigurationException>(() => ServerTokenFile.Parse("""
            tokens:
              - token: first-token-111
                subdomains: [blog]
              - token: second-token-22
                subdomains: [blog]
            """, "tokens.yml", "localhost"));
        Assert.Equal(5, duplicate.Line);
        Assert.Contains("already reserved by item 1", duplicate.Message, StringComparison.Ordinal);

        var nested = Assert.Throws<ConfigurationException>(() => ServerTokenFile.Parse("""
            tokens:
              - token: first-token-111
                subdomains: [blog]
              - token: second-token-22
                subdomains: [x.blog]
            """, "tokens.yml", "localhost"));
        Assert.Contains("under 'blog.localhost'", nested.Message, StringComparison.Ordinal);

        var typo = Assert.Throws<ConfigurationException>(() => ServerTokenFile.Parse("tokens:\n  - token: first-token-111\n    subdomain: [blog]\n", "tokens.yml", "localhost"));
        Assert.Equal((3, 5), (typo.Line, typo.Column));
        Assert.Contains("Did you mean 'subdomains'?", typo.Message, StringComparison.Ordinal);

        var shortToken = Assert.Throws<ConfigurationException>(() => ServerTokenFile.Parse("tokens: [abc]\n", "tokens.yml", "localhost"));
        Assert.Contains("at least 8", shortToken.Message, StringComparison.Ordinal);

        var apex = Assert.Throws<ConfigurationException>(() => ServerTokenFile.Parse("tokens:\n  - token: first-token-111\n    hostnames: [localhost]\n", "tokens.yml", "localhost"));
        Assert.Contains("server's domain", apex.Message, StringComparison.Ordinal);

        var hashed = ServerTokenFile.Parse($"tokens:\n  - sha256: {ServerTokenFile.HashToken("a-secret-token").ToUpperInvariant()}\n    max_sessions: 3\n", "tokens.yml", "localhost");
        Assert.Equal(ServerTokenFile.HashToken("a-secret-token"), Assert.Single(hashed).TokenHash);
        Assert.Equal(3, hashed[0].MaxSessions);
    }

    [Fact]
    public async Task A_token_given_by_its_SHA256_in_the_file_logs_in_with_the_token()
    {
        var file = TempFile($"tokens:\n  - sha256: {ServerTokenFile.HashToken(TokenA)}\n    name: hashed\n");
        await using var local = new LocalHttpService();
        await using var server = await TunnelHarness.StartServerAsync(o => o with { AuthTokenFile = file });
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "h")) with { AuthToken = TokenA });
        await client.StartAsync();
        Assert.Equal("hashed", Assert.Single(server.Tunnels).Tenant);
    }

    private static string TempFile(string text)
    {
        var path = Path.Combine(Path.GetTempPath(), "tunnelps-tokens-" + Guid.NewGuid().ToString("N") + ".yml");
        File.WriteAllText(path, text);
        return path;
    }

    private static int FreePort()
    {
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }
}
