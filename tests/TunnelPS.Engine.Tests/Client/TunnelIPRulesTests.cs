using System.Text.Json;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Protocol;
using TunnelPS.Engine.Tests.Support;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Tests.Client;

/// <summary>
/// Per-tunnel IP allow and deny lists on the client side: validated in the definition, sent in ReqTunnel (and again
/// after a reconnect), never sent to a server that would ignore them. The server's enforcement is tested with it.
/// </summary>
public sealed class TunnelIPRulesTests
{
    private static readonly string[] TunnelPS = [ProtocolVersion.TunnelPSCapability, ProtocolVersion.IPRulesCapability];

    [Fact]
    public async Task ReqTunnel_carries_the_allow_and_deny_lists_trimmed()
    {
        await using var server = new ScriptedTunnelServer { Capabilities = TunnelPS };
        var definition = Http("api") with { AllowIP = ["10.0.0.0/8", " 2001:db8::/32 ", "203.0.113.7"], DenyIP = ["10.1.2.3"] };
        await using var client = new TunnelClient(Options(server.Port, definition));

        await client.StartAsync();
        var request = await server.NextRequestAsync();

        Assert.Equal(["10.0.0.0/8", "2001:db8::/32", "203.0.113.7"], Strings(request, "AllowIP"));
        Assert.Equal(["10.1.2.3"], Strings(request, "DenyIP"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_tunnel_without_rules_sends_no_AllowIP_or_DenyIP_field(bool emptyLists)
    {
        await using var server = new ScriptedTunnelServer { Capabilities = TunnelPS };
        var definition = emptyLists ? Http("plain") with { AllowIP = [], DenyIP = [] } : Http("plain");
        await using var client = new TunnelClient(Options(server.Port, definition));

        await client.StartAsync();
        var request = await server.NextRequestAsync();

        Assert.False(request.TryGetProperty("AllowIP", out _));
        Assert.False(request.TryGetProperty("DenyIP", out _));
    }

    [Fact]
    public async Task Only_a_deny_list_sends_only_DenyIP()
    {
        await using var server = new ScriptedTunnelServer { Capabilities = TunnelPS };
        var definition = new TunnelDefinition { Name = "ssh", Protocols = ["tcp"], Local = new LocalTarget("127.0.0.1", 22), DenyIP = ["198.51.100.0/24"] };
        await using var client = new TunnelClient(Options(server.Port, definition));

        await client.StartAsync();
        var request = await server.NextRequestAsync();

        Assert.Equal("tcp", request.GetProperty("Protocol").GetString());
        Assert.False(request.TryGetProperty("AllowIP", out _));
        Assert.Equal(["198.51.100.0/24"], Strings(request, "DenyIP"));
    }

    [Fact]
    public async Task The_rules_are_sent_again_when_the_client_reconnects()
    {
        await using var server = new ScriptedTunnelServer { Capabilities = TunnelPS };
        var definition = Http("api") with { AllowIP = ["192.0.2.0/24"], DenyIP = ["192.0.2.9"] };
        await using var client = new TunnelClient(Options(server.Port, definition));
        await client.StartAsync();
        var first = await server.NextRequestAsync();

        client.AbortControlForTest();
        var again = await server.NextRequestAsync();

        Assert.Equal(["192.0.2.0/24"], Strings(again, "AllowIP"));
        Assert.Equal(["192.0.2.9"], Strings(again, "DenyIP"));
        Assert.Equal("api.example.test", again.GetProperty("Hostname").GetString());
        Assert.NotEqual(first.GetProperty("ReqId").GetString(), again.GetProperty("ReqId").GetString());
        await TunnelHarness.WaitUntilAsync(() => client.Status == TunnelStatus.Online, "the client is back online");
    }

    [Fact]
    public async Task A_tunnel_with_rules_is_not_opened_on_a_server_that_is_not_TunnelPS()
    {
        await using var ngrokd = new ScriptedTunnelServer(); // no Capabilities: ngrokd 1.x ignores AllowIP/DenyIP
        await using var client = new TunnelClient(Options(ngrokd.Port, Http("api") with { AllowIP = ["10.0.0.0/8"] }));

        var error = await Assert.ThrowsAsync<TunnelRequestException>(() => client.StartAsync());

        Assert.Equal(TunnelErrorKind.InvalidConfiguration, error.Kind);
        Assert.Contains("does not enforce IP rules", error.Message, StringComparison.Ordinal);
        Assert.Contains("'api'", error.Message, StringComparison.Ordinal);
        Assert.False(ngrokd.Requests.Reader.TryRead(out _));
    }

    [Fact]
    public async Task A_tunnel_without_rules_still_opens_on_a_server_that_is_not_TunnelPS()
    {
        await using var ngrokd = new ScriptedTunnelServer();
        await using var client = new TunnelClient(Options(ngrokd.Port, Http("plain")));

        var endpoint = Assert.Single(await client.StartAsync());

        Assert.Equal("http://plain.example.test", endpoint.PublicUrl);
    }

    [Fact]
    public async Task After_reconnecting_to_a_server_that_is_not_TunnelPS_a_tunnel_with_rules_fails_instead_of_opening()
    {
        await using var server = new ScriptedTunnelServer { Capabilities = TunnelPS };
        var options = Options(server.Port, Http("guarded") with { DenyIP = ["203.0.113.0/24"] }, Http("open"));
        await using var client = new TunnelClient(options);
        await client.StartAsync();
        await server.NextRequestAsync();
        await server.NextRequestAsync();

        server.Capabilities = null;
        client.AbortControlForTest();

        var reopened = await server.NextRequestAsync();
        Assert.Equal("open.example.test", reopened.GetProperty("Hostname").GetString());
        await TunnelHarness.WaitUntilAsync(() => client.Endpoints.Single(e => e.Name == "guarded").Status == TunnelStatus.Failed, "the guarded tunnel fails");
        Assert.Contains("does not enforce IP rules", client.Endpoints.Single(e => e.Name == "guarded").Error, StringComparison.Ordinal);
        await TunnelHarness.WaitUntilAsync(() => client.Endpoints.Single(e => e.Name == "open").Status == TunnelStatus.Online, "the open tunnel is back");
        Assert.False(server.Requests.Reader.TryRead(out _));
    }

    [Fact]
    public void The_lists_are_read_only_copies_of_what_was_given()
    {
        string[] given = ["10.0.0.0/8"];
        var definition = Http("api") with { AllowIP = given, DenyIP = given };

        given[0] = "0.0.0.0/0";

        Assert.Equal(["10.0.0.0/8"], definition.AllowIP!);
        Assert.Equal(["10.0.0.0/8"], definition.DenyIP!);
        Assert.Throws<NotSupportedException>(() => ((IList<string>)definition.AllowIP!)[0] = "0.0.0.0/0");
    }

    [Theory]
    [InlineData("10.0.0.0/8")]
    [InlineData("10.1.2.3/8")]
    [InlineData("203.0.113.7")]
    [InlineData("2001:db8::/32")]
    [InlineData("::1")]
    [InlineData("::ffff:192.0.2.1")]
    public void Validate_accepts_addresses_and_ranges(string entry)
    {
        (Http("ok") with { AllowIP = [entry], DenyIP = [entry] }).Validate();
    }

    [Theory]
    [InlineData("10.0.0.300")]
    [InlineData("10.0.0.0/33")]
    [InlineData("2001:db8::/129")]
    [InlineData("example.com")]
    [InlineData("10.0.0.0/")]
    [InlineData("")]
    public void Validate_names_the_tunnel_the_list_and_the_bad_entry(string entry)
    {
        var allow = Assert.Throws<TunnelConfigurationException>(() => (Http("api") with { AllowIP = ["192.0.2.1", entry] }).Validate());
        var deny = Assert.Throws<TunnelConfigurationException>(() => (Http("api") with { DenyIP = [entry] }).Validate());

        Assert.StartsWith("Tunnel 'api', allowed addresses (AllowIP): '" + entry + "' is not an IP address or a CIDR range.", allow.Message, StringComparison.Ordinal);
        Assert.StartsWith("Tunnel 'api', denied addresses (DenyIP): '" + entry + "' is not an IP address or a CIDR range.", deny.Message, StringComparison.Ordinal);
        Assert.Contains("10.0.0.0/8", deny.Message, StringComparison.Ordinal);
    }

    private static TunnelDefinition Http(string subdomain) => new()
    {
        Name = subdomain,
        Protocols = ["http"],
        Local = new LocalTarget("127.0.0.1", 1),
        Subdomain = subdomain,
    };

    private static TunnelClientOptions Options(int serverPort, params TunnelDefinition[] tunnels) => new()
    {
        Server = new ServerAddress("127.0.0.1", serverPort),
        Trust = new ServerTrust { SkipCertificateCheck = true },
        Tunnels = tunnels,
        ReconnectMinDelay = TimeSpan.FromMilliseconds(1),
        ReconnectMaxDelay = TimeSpan.FromMilliseconds(10),
    };

    private static string[] Strings(JsonElement request, string name) =>
        request.GetProperty(name).EnumerateArray().Select(e => e.GetString()!).ToArray();
}
