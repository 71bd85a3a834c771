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
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        await using var server = await TunnelHarness.StartServerAsync();
        var definition = TunnelHarness.Http(port, "down", "down");
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, definition));
        var endpoint = Assert.Single(await client.StartAsync());
        using var activity = new TunnelActivity([endpoint], "1.0.0", ["localhost:1"]);
        int seen = 0;
        activity.RequestSeen += (_, r) => Interlocked.Increment(ref seen);
        using var http = TunnelHarness.Visitor(keepAlive: false);

        using (var first = await http.GetAsync(endpoint.PublicUrl + "/a"))
        {
            Assert.Equal(HttpStatusCode.BadGateway, first.StatusCode);
        }

        using (var second = await http.GetAsync(endpoint.PublicUrl + "/b"))
        {
            Assert.Equal(HttpStatusCode.BadGateway, second.StatusCode);
        }

        await TunnelHarness.WaitUntilAsync(() => activity.Snapshot().LocalFailures == 2, "both failures are counted");
        StatusSnapshot snapshot = activity.Snapshot();
        Assert.Equal(2, Volatile.Read(ref seen));
        Assert.Equal(2, snapshot.Requests.Count);
        Assert.All(snapshot.Requests, r =>
        {
            Assert.True(r.IsLocalFailure);
            Assert.Equal(502, r.Status);
            Assert.Contains($"127.0.0.1:{port} did not answer", r.Error, StringComparison.Ordinal);
        });
        Assert.Equal(502, snapshot.LastLocalFailure!.Status);
        Assert.Equal(0, snapshot.ConnectionsOpen);
    }

    [Fact]
    public async Task A_captured_exchange_of_a_visitor_the_client_answered_takes_its_failure_line_instead_of_adding_one()
    {
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

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

        await TunnelHarness.WaitUntilAsync(() => activity.Snapshot().Requests.Count == 1, "the failure line");
        LocalFailure failure = endpoint.LastLocalFailure!;
        var store = client.CaptureFor(definition)!;

        // What a client that also captures such visitors adds to the store (same tunnel and connection id), then an
        // unrelated exchange with an error.
        store.Add(new CapturedExchange { TunnelName = "answered", ConnectionId = failure.ConnectionId, Method = "GET", Target = "/a", Status = 502, Reason = "Bad Gateway", Error = "answered by the client" });
        store.Add(new CapturedExchange { TunnelName = "answered", ConnectionId = failure.ConnectionId + 1000, Method = "GET", Target = "/b", Status = 502, Reason = "Bad Gateway", Error = "other" });
        await TunnelHarness.WaitUntilAsync(() => activity.Snapshot().RequestsTotal == 2, "both exchanges are seen");

        StatusSnapshot snapshot = activity.Snapshot();
        Assert.Equal(["/a", "/b"], snapshot.Requests.Select(r => r.Target).Order());
        StatusRequest answered = Assert.Single(snapshot.Requests, r => r.Target == "/a");
        Assert.False(answered.IsLocalFailure);
        Assert.Equal("answered by the client", answered.Error);
        lock (seen)
        {
            Assert.Equal([true, false], seen.Select(r => r.IsLocalFailure));
            Assert.Equal("/b", seen[1].Target);
        }
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
