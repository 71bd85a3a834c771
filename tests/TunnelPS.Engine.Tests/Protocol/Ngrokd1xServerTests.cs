using System.Text;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Transport;
using TunnelPS.Engine.Tests.Support;

namespace TunnelPS.Engine.Tests.Protocol;

/// <summary>
/// The TunnelPS client against a scripted server that behaves like ngrokd 1.x: frames written as two records (length,
/// then body), no Capabilities, failed NewTunnel answers without a ReqId.
/// </summary>
public sealed class Ngrokd1xServerTests
{
    [Fact]
    public async Task The_client_matches_an_error_without_ReqId_to_its_oldest_request_and_reports_it()
    {
        await using var ngrokd = new ScriptedTunnelServer(async (control, request, token) =>
            await ScriptedTunnelServer.WriteAsync(control, "NewTunnel", new { ReqId = "", Url = "", Protocol = "", Error = "The tunnel http://taken.example.com is already registered." }, token));
        await using var client = new TunnelClient(Options(ngrokd.Port, 1));

        var error = await Assert.ThrowsAsync<TunnelRequestException>(() => client.StartAsync());
        Assert.Contains("already registered", error.Message, StringComparison.Ordinal);
        Assert.False(client.ServerIsTunnelPS);
    }

    [Fact]
    public async Task The_client_opens_a_tunnel_answers_ReqProxy_and_splices_a_StartProxy_to_the_local_service()
    {
        await using var local = new LocalHttpService((_, _) => (200, "via ngrokd"));
        await using var ngrokd = new ScriptedTunnelServer(async (control, request, token) =>
        {
            await ScriptedTunnelServer.WriteAsync(control, "NewTunnel", new { ReqId = request.GetProperty("ReqId").GetString(), Url = "http://legacy.example.com", Protocol = "http", Error = "" }, token);
            await ScriptedTunnelServer.WriteAsync(control, "ReqProxy", new { }, token);
        });
        await using var client = new TunnelClient(Options(ngrokd.Port, local.Port));
        var endpoint = Assert.Single(await client.StartAsync());
        Assert.Equal("http://legacy.example.com", endpoint.PublicUrl);

        using var deadline = new CancellationTokenSource(TunnelHarness.Deadline);
        var proxy = await ngrokd.ProxyConnections.Reader.ReadAsync(deadline.Token);
        await ScriptedTunnelServer.WriteAsync(proxy, "StartProxy", new { Url = "http://legacy.example.com", ClientAddr = "203.0.113.7:5555" }, deadline.Token);
        await proxy.WriteAsync(Encoding.ASCII.GetBytes("GET /x HTTP/1.1\r\nHost: legacy.example.com\r\n\r\n"), deadline.Token);
        var (status, body) = await new HttpResponseReader(proxy).ReadAsync();

        Assert.Equal(200, status);
        Assert.Equal("via ngrokd", body);
        Assert.Equal(1, endpoint.ConnectionCount);
    }

    private static TunnelClientOptions Options(int serverPort, int localPort) => new()
    {
        Server = new ServerAddress("127.0.0.1", serverPort),
        Trust = new ServerTrust { SkipCertificateCheck = true },
        Tunnels = [new TunnelDefinition { Name = "legacy", Protocols = ["http"], Local = new LocalTarget("127.0.0.1", localPort), Subdomain = "legacy" }],
        ReconnectMinDelay = TimeSpan.FromHours(1),
    };
}
