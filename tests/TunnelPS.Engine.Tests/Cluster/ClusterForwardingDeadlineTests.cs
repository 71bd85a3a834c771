using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Tests.Server;
using TunnelPS.Engine.Tests.Support;

namespace TunnelPS.Engine.Tests.Cluster;

/// <summary>
/// A node that forwards a visitor to the tunnel's node holds that visitor's connection: it applies the same deadlines
/// to it as to its own visitors (the write deadline it alone can see, and the end the owner decides on), so forwarded
/// visitors cannot hold its connections past them.
/// </summary>
public sealed class ClusterForwardingDeadlineTests
{
    private const string TokenA = "tenant-a-token-0001";

    [RedisFact]
    public async Task A_forwarding_node_cuts_visitors_that_read_nothing_at_its_write_deadline()
    {
        await using var redis = await RedisProcess.StartAsync();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var a = await ClusterNameTests.StartNodeAsync(redis, "a");
        // The forwarding node runs on a fake clock and holds at most two connections.
        await using var b = await ClusterNameTests.StartNodeAsync(redis, "b", more: o => o with { TimeProvider = time, HeartbeatTimeout = TimeSpan.FromDays(1), MaxConnections = 2 });
        var big = new string('x', 16 << 20);
        await using var local = new LocalHttpService((method, target) => (200, target == "/big" ? big : $"hello {method} {target}"));
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(a, TunnelHarness.Http(local.Port, "stalled")) with { AuthToken = TokenA });
        Assert.Single(await client.StartAsync());
        var request = Encoding.ASCII.GetBytes($"GET /big HTTP/1.1\r\nHost: stalled.localhost:{b.HttpPort}\r\n\r\n");

        // What 127.0.0.1 holds at the owner before the visitors (the client's connections may still count while they
        // log in, so the count afterwards is compared with at most this).
        var ownerBaseline = a.Connections.Limiter.CountOf(IPAddress.Loopback);
        var stalled = new List<TcpClient>();
        try
        {
            // Two visitors ask for 16 MiB each and read none of it.
            for (var i = 0; i < 2; i++)
            {
                var visitor = new TcpClient { ReceiveBufferSize = 4096 };
                stalled.Add(visitor);
                await visitor.ConnectAsync(IPAddress.Loopback, b.HttpPort);
                await visitor.GetStream().WriteAsync(request);
            }
            await TunnelHarness.WaitUntilAsync(() => Requests(local, "/big") == 2, "the local service has both requests");

            // While they are held, node b has no room for anyone else.
            using (var refused = new TcpClient())
            {
                await refused.ConnectAsync(IPAddress.Loopback, b.HttpPort);
                Assert.StartsWith("HTTP/1.1 503", await UpgradeAndConnectTests.ReadToEndAsync(refused.GetStream()), StringComparison.Ordinal);
            }

            // Node b's clock moves until its write deadline cuts both (the owner's real clock never reaches its own).
            var deadline = DateTime.UtcNow + TunnelHarness.Deadline;
            while (b.Connections.Limiter.Total > 0 && DateTime.UtcNow < deadline)
            {
                time.Advance(TimeSpan.FromSeconds(5));
                await Task.Delay(20);
            }
            Assert.Equal(0, b.Connections.Limiter.Total);
            await TunnelHarness.WaitUntilAsync(() => a.Connections.Limiter.CountOf(IPAddress.Loopback) <= ownerBaseline, "the owner let the forwarded connections go");

            // Node b serves new visitors again.
            using var http = TunnelHarness.Visitor(keepAlive: false);
            Assert.Equal("hello GET /after", await http.GetStringAsync($"http://stalled.localhost:{b.HttpPort}/after"));
        }
        finally
        {
            foreach (var visitor in stalled)
            {
                visitor.Dispose();
            }
        }
    }

    private static int Requests(LocalHttpService local, string path)
    {
        lock (local.Heads)
        {
            return local.Heads.Count(head => head.StartsWith($"GET {path} ", StringComparison.Ordinal));
        }
    }

    [RedisFact]
    public async Task When_the_owner_ends_a_forwarded_connection_the_forwarding_node_lets_it_go()
    {
        await using var redis = await RedisProcess.StartAsync();
        await using var a = await ClusterNameTests.StartNodeAsync(redis, "a");
        await using var b = await ClusterNameTests.StartNodeAsync(redis, "b");
        await using var local = new LocalHttpService();
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(a, TunnelHarness.Http(local.Port, "ended")) with { AuthToken = TokenA });
        Assert.Single(await client.StartAsync());

        // The owner answers and ends the connection (its idle and head deadlines end it the same way); the visitor
        // keeps its socket open and says nothing more.
        using var visitor = new TcpClient();
        await visitor.ConnectAsync(IPAddress.Loopback, b.HttpPort);
        await visitor.GetStream().WriteAsync(Encoding.ASCII.GetBytes($"GET /last HTTP/1.1\r\nHost: ended.localhost:{b.HttpPort}\r\nConnection: close\r\n\r\n"));
        var answer = await UpgradeAndConnectTests.ReadToEndAsync(visitor.GetStream());
        Assert.StartsWith("HTTP/1.1 200", answer, StringComparison.Ordinal);
        Assert.EndsWith("hello GET /last", answer, StringComparison.Ordinal);

        await TunnelHarness.WaitUntilAsync(() => b.Connections.Limiter.Total == 0, "node b let the visitor's connection go once the owner ended it");
    }

    [RedisFact]
    public async Task CONNECT_through_a_forwarding_node_is_refused_there_with_405()
    {
        await using var redis = await RedisProcess.StartAsync();
        await using var a = await ClusterNameTests.StartNodeAsync(redis, "a");
        await using var b = await ClusterNameTests.StartNodeAsync(redis, "b");
        await using var local = new LocalHttpService();
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(a, TunnelHarness.Http(local.Port, "proxyish")) with { AuthToken = TokenA });
        Assert.Single(await client.StartAsync());

        using var visitor = new TcpClient();
        await visitor.ConnectAsync(IPAddress.Loopback, b.HttpPort);
        await visitor.GetStream().WriteAsync(Encoding.ASCII.GetBytes($"CONNECT x:443 HTTP/1.1\r\nHost: proxyish.localhost:{b.HttpPort}\r\n\r\n"));
        Assert.StartsWith("HTTP/1.1 405 Method Not Allowed", await UpgradeAndConnectTests.ReadToEndAsync(visitor.GetStream()), StringComparison.Ordinal);
        // Refused where it arrived: no route lookup, nothing forwarded, nothing reached the local service.
        Assert.Equal(0, b.Cluster!.Router.Lookups);
        lock (local.Heads)
        {
            Assert.DoesNotContain(local.Heads, head => head.StartsWith("CONNECT", StringComparison.Ordinal));
        }
        await TunnelHarness.WaitUntilAsync(() => b.Connections.Limiter.Total == 0, "node b closed the refused connection");
    }
}
