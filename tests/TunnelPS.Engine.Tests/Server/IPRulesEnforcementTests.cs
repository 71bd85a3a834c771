using System.Net;
using System.Net.Sockets;
using System.Text;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Protocol;
using TunnelPS.Engine.Tests.Support;
using TunnelPS.Engine.Tests.Transport;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Tests.Server;

/// <summary>The server enforces each tunnel's allow and deny lists for http, https and tcp, and its own deny list on every port.</summary>
public sealed class IPRulesEnforcementTests
{
    private static readonly IPAddress Allowed = IPAddress.Parse("127.0.5.1");
    private static readonly IPAddress Denied = IPAddress.Parse("127.0.5.2");

    [Fact]
    public async Task An_http_tunnel_answers_403_to_an_address_its_rules_refuse()
    {
        await using var local = new LocalHttpService();
        await using var server = await TunnelHarness.StartServerAsync();
        var definition = TunnelHarness.Http(local.Port, "guarded") with { AllowIP = ["127.0.5.0/24"], DenyIP = ["127.0.5.2"] };
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, definition));
        await client.StartAsync();

        using (var allowed = await RawVisitor.ConnectAsync(server.HttpPort, Allowed))
        {
            await allowed.SendAsync("GET / HTTP/1.1\r\nHost: guarded.localhost\r\n\r\n");
            Assert.Equal(200, (await allowed.Reader.ReadAsync()).Status);
        }
        foreach (var refused in new[] { Denied, IPAddress.Loopback })
        {
            using var visitor = await RawVisitor.ConnectAsync(server.HttpPort, refused);
            await visitor.SendAsync("GET / HTTP/1.1\r\nHost: guarded.localhost\r\n\r\n");
            var (status, body) = await visitor.Reader.ReadAsync();
            Assert.Equal(403, status);
            Assert.Contains("does not accept visitors from your address", body, StringComparison.Ordinal);
        }
        Assert.Single(local.Heads);
    }

    [Fact]
    public async Task The_rules_are_checked_on_every_request_of_a_keep_alive_connection()
    {
        await using var local = new LocalHttpService();
        await using var server = await TunnelHarness.StartServerAsync();
        var open = TunnelHarness.Http(local.Port, "open", "open");
        var guarded = TunnelHarness.Http(local.Port, "guarded", "guarded") with { AllowIP = ["10.0.0.0/8"] };
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, open, guarded));
        await client.StartAsync();

        using var visitor = await RawVisitor.ConnectAsync(server.HttpPort);
        await visitor.SendAsync("GET / HTTP/1.1\r\nHost: open.localhost\r\n\r\n");
        Assert.Equal(200, (await visitor.Reader.ReadAsync()).Status);
        await visitor.SendAsync("GET / HTTP/1.1\r\nHost: guarded.localhost\r\n\r\n");
        Assert.Equal(403, (await visitor.Reader.ReadAsync()).Status);
    }

    [Fact]
    public async Task A_tcp_tunnel_closes_a_refused_address_without_a_byte()
    {
        await using var echo = new LoopbackEchoServer(tls: false);
        await using var server = await TunnelHarness.StartServerAsync();
        var definition = new TunnelDefinition
        {
            Name = "ssh",
            Protocols = ["tcp"],
            Local = new LocalTarget("127.0.0.1", echo.Port),
            DenyIP = ["127.0.5.2/32"],
        };
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, definition));
        var endpoint = Assert.Single(await client.StartAsync());
        var port = new Uri(endpoint.PublicUrl).Port;

        using (var allowed = await RawVisitor.ConnectAsync(port, Allowed))
        {
            await allowed.SendAsync("ping");
            var buffer = new byte[4];
            await allowed.Stream.ReadExactlyAsync(buffer).AsTask().WaitAsync(TunnelHarness.Deadline);
            Assert.Equal("ping", Encoding.ASCII.GetString(buffer));
        }
        using var refused = await RawVisitor.ConnectAsync(port, Denied);
        await refused.SendAsync("ping");
        Assert.Equal("", await refused.ReadToEndAsync());
    }

    [Fact]
    public async Task The_server_wide_deny_list_closes_visitors_and_clients_at_accept()
    {
        await using var local = new LocalHttpService();
        await using var server = await TunnelHarness.StartServerAsync(o => o with { DenyIP = ["127.0.5.2"] });
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "open")));
        await client.StartAsync();

        using (var visitor = await RawVisitor.ConnectAsync(server.HttpPort, Denied))
        {
            await visitor.SendAsync("GET / HTTP/1.1\r\nHost: open.localhost\r\n\r\n");
            Assert.Equal("", await visitor.ReadToEndAsync());
        }
        await Assert.ThrowsAnyAsync<Exception>(() => RawPeer.DialAsync(server.Port, Denied));
        using (var visitor = await RawVisitor.ConnectAsync(server.HttpPort, Allowed))
        {
            await visitor.SendAsync("GET / HTTP/1.1\r\nHost: open.localhost\r\n\r\n");
            Assert.Equal(200, (await visitor.Reader.ReadAsync()).Status);
        }
        Assert.Single(local.Heads);
    }

    [Fact]
    public async Task A_bad_rule_in_a_tunnel_request_is_refused_naming_the_entry()
    {
        await using var server = await TunnelHarness.StartServerAsync();
        await using var peer = await RawPeer.DialAsync(server.Port);
        Assert.Equal("", (await peer.LoginAsync()).Error);
        var answer = await peer.RequestAsync(new ReqTunnel { ReqId = "1", Protocol = "http", AllowIP = ["10.0.0.0/8", "10.0.0.300"] });
        Assert.Contains("'10.0.0.300' is not an IP address or a CIDR range", answer.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("10.0.0.0/8", "10.255.1.2", true)]
    [InlineData("10.1.2.3/8", "10.9.9.9", true)]
    [InlineData("10.0.0.0/8", "11.0.0.1", false)]
    [InlineData("203.0.113.7", "203.0.113.7", true)]
    [InlineData("203.0.113.7", "203.0.113.8", false)]
    [InlineData("2001:db8::/32", "2001:db8:1::5", true)]
    [InlineData("2001:db8::/32", "2001:db9::5", false)]
    [InlineData("127.0.0.0/8", "::ffff:127.0.0.1", true)]
    [InlineData("0.0.0.0/0", "192.0.2.1", true)]
    public void Allow_ranges_match_addresses(string range, string address, bool allowed)
    {
        var rules = IPAccessList.Parse([range], null);
        Assert.Equal(allowed, rules.IsAllowed(IPAddress.Parse(address)));
    }

    [Theory]
    [InlineData("10.0.0.0/33")]
    [InlineData("::/129")]
    [InlineData("10.0.0")]
    [InlineData("example.com")]
    [InlineData("10.0.0.0/-1")]
    [InlineData("")]
    public void Entries_that_are_not_addresses_or_ranges_are_refused(string entry)
    {
        var error = Assert.Throws<TunnelConfigurationException>(() => IPAccessList.Parse(null, [entry], "-DenyIP"));
        Assert.Contains("-DenyIP", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Deny_wins_over_allow()
    {
        var rules = IPAccessList.Parse(["10.0.0.0/8"], ["10.1.0.0/16"]);
        Assert.True(rules.IsAllowed(IPAddress.Parse("10.2.0.1")));
        Assert.False(rules.IsAllowed(IPAddress.Parse("10.1.0.1")));
        Assert.False(rules.IsAllowed(new DnsEndPoint("example.com", 80)));
        Assert.True(IPAccessList.AllowAll.IsAllowed(new DnsEndPoint("example.com", 80)));
    }
}
