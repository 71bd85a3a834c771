using System.Net;
using System.Net.Sockets;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Display;
using TunnelPS.Engine.Inspection;
using TunnelPS.Engine.Tests.Support;

namespace TunnelPS.Engine.Tests.Display;

public sealed class TunnelActivityTests
{
    [Fact]
    public async Task Requests_through_a_tunnel_show_as_lines_with_their_figures_newest_first()
    {
        await using var local = new LocalHttpService((method, target) => target == "/missing" ? (404, "no") : (200, "fine"));
        await using var server = await TunnelHarness.StartServerAsync();
        var definition = TunnelHarness.Http(local.Port, "act", "act", "http", "https");
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, definition));
        var endpoints = await client.StartAsync();
        using var activity = new TunnelActivity(endpoints, "1.2.3", ["localhost:1"], () => "http://127.0.0.1:4040");
        var seen = new List<StatusRequest>();
        activity.RequestSeen += (_, r) => { lock (seen) { seen.Add(r); } };
        using var http = TunnelHarness.Visitor(keepAlive: false);

        await http.GetStringAsync(endpoints[0].PublicUrl + "/one?x=1");
        using var missing = await http.GetAsync(endpoints[0].PublicUrl + "/missing");
        await TunnelHarness.WaitUntilAsync(() => activity.Snapshot().RequestsTotal == 2, "both requests are seen");

        StatusSnapshot snapshot = activity.Snapshot();
        Assert.Equal("online", snapshot.Status);
        Assert.Null(snapshot.Error);
        Assert.Equal("1.2.3", snapshot.Version);
        Assert.Equal("http://127.0.0.1:4040", snapshot.InspectUrl);
        Assert.Equal(endpoints.Select(e => e.PublicUrl), snapshot.Forwardings.Select(f => f.PublicUrl));
        Assert.All(snapshot.Forwardings, f => Assert.Equal($"127.0.0.1:{local.Port}", f.LocalAddress));
        Assert.Equal(["/missing", "/one?x=1"], snapshot.Requests.Select(r => r.Target));
        Assert.Equal([404, 200], snapshot.Requests.Select(r => r.Status));
        Assert.Equal(2, snapshot.RequestsPerMinute);
        Assert.Equal(2, snapshot.ConnectionsTotal);
        Assert.NotNull(snapshot.P50);
        Assert.True(snapshot.P90 >= snapshot.P50);
        Assert.Equal(0, snapshot.LocalFailures);
        lock (seen)
        {
            Assert.Equal(["/one?x=1", "/missing"], seen.Select(r => r.Target));
        }
    }

    [Fact]
    public async Task A_local_service_that_is_down_shows_one_502_line_per_visitor()
    {
        int port = FreePort();
        await using var server = await TunnelHarness.StartServerAsync();
        var definition = TunnelHarness.Http(port, "down", "down");
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, definition));
        var endpoint = Assert.Single(await client.StartAsync());
        using var activity = new TunnelActivity([endpoint], "1.0.0", ["localhost:1"]);
        var seen = new List<StatusRequest>();
        activity.RequestSeen += (_, r) => { lock (seen) { seen.Add(r); } };
        using var http = TunnelHarness.Visitor(keepAlive: false);

        foreach (string path in new[] { "/a", "/b" })
        {
            using var response = await http.GetAsync(endpoint.PublicUrl + path);
            Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        }

        // The client captures such visitors too: each one's captured exchange takes its failure line's place.
        await TunnelHarness.WaitUntilAsync(() => activity.Snapshot() is { LocalFailures: 2, RequestsTotal: 2 }, "both failures are counted and captured");
        StatusSnapshot snapshot = activity.Snapshot();
        Assert.Equal(["/a", "/b"], snapshot.Requests.Select(r => r.Target).Order());
        Assert.All(snapshot.Requests, r =>
        {
            Assert.False(r.IsLocalFailure);
            Assert.Equal(502, r.Status);
            Assert.Contains($"127.0.0.1:{port}", r.Error, StringComparison.Ordinal);
        });
        Assert.Equal(502, snapshot.LastLocalFailure!.Status);
        Assert.Equal("degraded", snapshot.Status);
        Assert.Contains("Connection refused", snapshot.Error, StringComparison.Ordinal);
        lock (seen)
        {
            // One line per visitor, written when the client answered it (before its exchange was captured).
            Assert.Equal(2, seen.Count);
            Assert.All(seen, r => Assert.True(r.IsLocalFailure));
            Assert.All(seen, r => Assert.Contains($"local service 127.0.0.1:{port} did not answer", r.Error, StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task An_exchange_with_an_error_that_no_local_failure_announced_adds_its_own_line()
    {
        int port = FreePort();
        await using var server = await TunnelHarness.StartServerAsync();
        var definition = TunnelHarness.Http(port, "answered", "answered");
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, definition));
        var endpoint = Assert.Single(await client.StartAsync());
        using var activity = new TunnelActivity([endpoint], "1.0.0", ["localhost:1"]);
        var seen = new List<StatusRequest>();
        activity.RequestSeen += (_, r) => { lock (seen) { seen.Add(r); } };
        using var http = TunnelHarness.Visitor(keepAlive: false);
        using (var response = await http.GetAsync(endpoint.PublicUrl + "/a"))
        {
            Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        }

        await TunnelHarness.WaitUntilAsync(() => activity.Snapshot().RequestsTotal == 1, "the failure is captured");
        var store = client.CaptureFor(definition)!;
        store.Add(new CapturedExchange { TunnelName = "answered", ConnectionId = endpoint.LastLocalFailure!.ConnectionId + 1000, Method = "GET", Target = "/b", Status = 502, Reason = "Bad Gateway", Error = "other" });
        await TunnelHarness.WaitUntilAsync(() => activity.Snapshot().RequestsTotal == 2, "the second exchange");

        StatusSnapshot snapshot = activity.Snapshot();
        Assert.Equal(["/a", "/b"], snapshot.Requests.Select(r => r.Target).Order());
        Assert.All(snapshot.Requests, r => Assert.False(r.IsLocalFailure));
        lock (seen)
        {
            Assert.Equal([true, false], seen.Select(r => r.IsLocalFailure));
            Assert.Equal("/b", seen[1].Target);
        }
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    [Fact]
    public async Task Requests_are_listed_by_start_time_latest_first_whatever_order_they_were_captured_in()
    {
        await using var local = new LocalHttpService();
        await using var server = await TunnelHarness.StartServerAsync();
        var definition = TunnelHarness.Http(local.Port, "order", "order");
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, definition));
        var endpoint = Assert.Single(await client.StartAsync());
        using var activity = new TunnelActivity([endpoint], "1.0.0", ["localhost:1"]);
        var store = client.CaptureFor(definition)!;
        var start = DateTimeOffset.UtcNow;

        foreach (var (target, second) in new[] { ("/second", 2), ("/first", 1), ("/third", 3) })
        {
            store.Add(new CapturedExchange { TunnelName = "order", Method = "GET", Target = target, Status = 200, Reason = "OK", StartTime = start.AddSeconds(second) });
        }

        await TunnelHarness.WaitUntilAsync(() => activity.Snapshot().RequestsTotal == 3, "the three exchanges");
        Assert.Equal(["/third", "/second", "/first"], activity.Snapshot().Requests.Select(r => r.Target));
    }

    [Fact]
    public async Task The_activity_ends_when_every_url_has_stopped()
    {
        await using var local = new LocalHttpService();
        await using var server = await TunnelHarness.StartServerAsync();
        var definition = TunnelHarness.Http(local.Port, "ends", "ends", "http", "https");
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, definition));
        var endpoints = await client.StartAsync();
        using var activity = new TunnelActivity(endpoints, "1.0.0", ["localhost:1"]);
        Assert.False(activity.HasEnded);

        await client.StopAsync();

        Assert.True(activity.HasEnded);
        StatusSnapshot snapshot = activity.Snapshot();
        Assert.True(snapshot.HasEnded);
        Assert.Equal("stopped", snapshot.Status);
    }

    [Fact]
    public void Percentiles_take_the_nearest_rank()
    {
        double[] sorted = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        Assert.Equal(TimeSpan.FromMilliseconds(5), TunnelActivity.Percentile(sorted, 0.5));
        Assert.Equal(TimeSpan.FromMilliseconds(9), TunnelActivity.Percentile(sorted, 0.9));
        Assert.Equal(TimeSpan.FromMilliseconds(7), TunnelActivity.Percentile([7], 0.9));
        Assert.Null(TunnelActivity.Percentile([], 0.5));
    }
}
