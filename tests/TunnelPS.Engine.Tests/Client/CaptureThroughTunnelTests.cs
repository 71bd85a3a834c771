using TunnelPS.Engine.Client;
using TunnelPS.Engine.Inspection;
using TunnelPS.Engine.Tests.Support;

namespace TunnelPS.Engine.Tests.Client;

public sealed class CaptureThroughTunnelTests
{
    [Fact]
    public async Task Requests_through_an_http_tunnel_are_captured_with_status_headers_and_bodies()
    {
        await using var local = new LocalHttpService((method, target) => target == "/fail" ? (500, "boom") : (200, "fine"));
        await using var server = await TunnelHarness.StartServerAsync();
        var definition = TunnelHarness.Http(local.Port, "cap", "cap");
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, definition));
        var endpoint = Assert.Single(await client.StartAsync());
        var store = client.CaptureFor(definition)!;
        using var http = TunnelHarness.Visitor();

        await http.GetStringAsync(endpoint.PublicUrl + "/ok");
        using var post = new StringContent("{\"a\":1}", System.Text.Encoding.UTF8, "application/json");
        await http.PostAsync(endpoint.PublicUrl + "/fail", post);
        await TunnelHarness.WaitUntilAsync(() => store.Snapshot().Count == 2, "both exchanges are captured");

        var exchanges = store.Snapshot();
        Assert.Equal(["GET", "POST"], exchanges.Select(e => e.Method).ToArray());
        var failed = exchanges[1];
        Assert.Equal(500, failed.Status);
        Assert.Equal("/fail", failed.Target);
        Assert.Equal("cap", failed.TunnelName);
        Assert.Equal("{\"a\":1}", System.Text.Encoding.UTF8.GetString(failed.RequestBody.Span));
        Assert.Equal("boom", System.Text.Encoding.UTF8.GetString(failed.ResponseBody.Span));
        Assert.StartsWith("127.0.0.1:", failed.ClientAddress, StringComparison.Ordinal);
        Assert.Contains(failed.RequestHeaders, h => h.Key == "X-Forwarded-Proto" && h.Value == "http");
    }

    [Fact]
    public async Task Capture_can_be_turned_off_per_tunnel()
    {
        await using var local = new LocalHttpService();
        await using var server = await TunnelHarness.StartServerAsync();
        var definition = TunnelHarness.Http(local.Port, "nocap") with { Capture = new CaptureOptions { Enabled = false } };
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, definition));
        var endpoint = Assert.Single(await client.StartAsync());
        using var http = TunnelHarness.Visitor();
        Assert.Equal("hello GET /", await http.GetStringAsync(endpoint.PublicUrl + "/"));
        Assert.Null(client.CaptureFor(definition));
    }
}
