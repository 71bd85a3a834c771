using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Cluster;
using TunnelPS.Engine.Protocol;
using TunnelPS.Engine.Server;
using TunnelPS.Engine.Tests.Support;

namespace TunnelPS.Engine.Tests.Cluster;

/// <summary>
/// A visitor may reach any node: a node that does not hold the tunnel's client forwards the connection over a keyed,
/// multiplexed link to the node that does, where the tunnel's rules apply as for its own visitors.
/// </summary>
public sealed class ClusterForwardingTests
{
    private const string TokenA = "tenant-a-token-0001";

    private static string Through(TunnelServer node, string url, string scheme = "http")
    {
        var uri = new Uri(url);
        return $"{scheme}://{uri.Host}:{(scheme == "https" ? node.Port : node.HttpPort)}";
    }

    [RedisFact]
    public async Task A_forwarding_node_remembers_the_owner_and_follows_a_client_that_moved()
    {
        await using var redis = await RedisProcess.StartAsync();
        await using var a = await ClusterNameTests.StartNodeAsync(redis, "a");
        // A route cache longer than the test, so that what is counted does not depend on how fast the machine is.
        await using var b = await ClusterNameTests.StartNodeAsync(redis, "b", more: o => o with { Cluster = o.Cluster! with { RouteCacheTime = TimeSpan.FromMinutes(5) } });
        await using var c = await ClusterNameTests.StartNodeAsync(redis, "c");
        await using var local = new LocalHttpService();
        var client = new TunnelClient(TunnelHarness.ClientOptions(a, TunnelHarness.Http(local.Port, "remembered")) with { AuthToken = TokenA });
        var url = Assert.Single(await client.StartAsync()).PublicUrl;

        using var http = TunnelHarness.Visitor(keepAlive: false);
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal($"hello GET /warm-{i}", await http.GetStringAsync(Through(b, url) + $"/warm-{i}"));
        }
        // Five new visitor connections through b, one lookup in Redis.
        Assert.Equal(1, b.Cluster!.Router.Lookups);

        // The client stops and its token opens the name on node c: b's remembered route is stale, a says so, and b
        // finds the name on c.
        await client.DisposeAsync();
        await using var moved = new TunnelClient(TunnelHarness.ClientOptions(c, TunnelHarness.Http(local.Port, "remembered")) with { AuthToken = TokenA });
        Assert.Equal(new Uri(url).Host, new Uri(Assert.Single(await moved.StartAsync()).PublicUrl).Host);
        Assert.Equal("hello GET /moved", await http.GetStringAsync(Through(b, url) + "/moved"));
        Assert.Equal(2, b.Cluster.Router.Lookups);
        Assert.Equal("hello GET /moved-again", await http.GetStringAsync(Through(b, url) + "/moved-again"));
        Assert.Equal(2, b.Cluster.Router.Lookups);

        // Once the name is gone, the stale route gives way to the store's answer: a 404. Node c releases the name when
        // it has seen the client go, which is after DisposeAsync returns (until then a visitor rightly gets a 503).
        await moved.DisposeAsync();
        var hostKey = ClusterLease.HostKey(new Uri(url).Host);
        await TunnelHarness.WaitUntilAsync(() => c.Cluster!.FindAsync(hostKey, CancellationToken.None).GetAwaiter().GetResult() is null, "node c released the name in the store");
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync(Through(b, url) + "/gone")).StatusCode);
    }

    [RedisFact]
    public async Task The_owner_applies_its_DenyIP_and_per_address_limit_to_forwarded_visitors()
    {
        await using var redis = await RedisProcess.StartAsync();
        // The owner denies 127.0.0.2 and lets one address hold two connections; the forwarding node has neither rule.
        await using var a = await ClusterNameTests.StartNodeAsync(redis, "a", more: o => o with { DenyIP = ["127.0.0.2"], MaxConnectionsPerIP = 2 });
        await using var b = await ClusterNameTests.StartNodeAsync(redis, "b");
        await using var local = new LocalHttpService();
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(a, TunnelHarness.Http(local.Port, "guarded")) with { AuthToken = TokenA });
        Assert.Single(await client.StartAsync());
        var host = $"guarded.localhost:{b.HttpPort}";

        // First one allowed request through b, so that b knows the route and has its link to a: the checks below are then
        // about the owner's rules, not about a forwarding node that has not yet seen its peer (seen: a 503 from b under load).
        using (var warm = new TcpClient())
        {
            await warm.ConnectAsync(IPAddress.Loopback, b.HttpPort);
            Assert.StartsWith("HTTP/1.1 200", await RawGetAsync(warm.GetStream(), host, "/warm"), StringComparison.Ordinal);
        }
        await TunnelHarness.WaitUntilAsync(() => a.Connections.Limiter.CountOf(IPAddress.Loopback) == 0, "the owner released the warm-up connection's place");

        // A denied address reaching the forwarding node is closed by the owner without an answer, as on the owner.
        using (var denied = new TcpClient(new IPEndPoint(IPAddress.Parse("127.0.0.2"), 0)))
        {
            await denied.ConnectAsync(IPAddress.Loopback, b.HttpPort);
            var answer = await RawGetAsync(denied.GetStream(), host, "/denied");
            Assert.Equal("", answer);
        }
        Assert.DoesNotContain(local.Heads, head => head.Contains("/denied", StringComparison.Ordinal));

        // 127.0.0.1 holds two forwarded connections at the owner; a third is refused there with a 503.
        var held = new List<TcpClient>();
        try
        {
            for (var i = 0; i < 2; i++)
            {
                var kept = new TcpClient();
                held.Add(kept);
                await kept.ConnectAsync(IPAddress.Loopback, b.HttpPort);
                Assert.StartsWith("HTTP/1.1 200", await RawGetAsync(kept.GetStream(), host, $"/kept-{i}"), StringComparison.Ordinal);
            }
            using (var third = new TcpClient())
            {
                await third.ConnectAsync(IPAddress.Loopback, b.HttpPort);
                var answer = await RawGetAsync(third.GetStream(), host, "/third");
                Assert.StartsWith("HTTP/1.1 503", answer, StringComparison.Ordinal);
                Assert.Contains("Too many connections", answer, StringComparison.Ordinal);
            }

            // One of the two closes: its place at the owner is free again.
            held[0].Dispose();
            await TunnelHarness.WaitUntilAsync(() => a.Connections.Limiter.CountOf(IPAddress.Loopback) < 2, "the owner released the closed connection's place");
            using var fourth = new TcpClient();
            await fourth.ConnectAsync(IPAddress.Loopback, b.HttpPort);
            Assert.StartsWith("HTTP/1.1 200", await RawGetAsync(fourth.GetStream(), host, "/fourth"), StringComparison.Ordinal);
        }
        finally
        {
            foreach (var kept in held)
            {
                kept.Dispose();
            }
        }
    }

    /// <summary>Sends one keep-alive GET and reads its response (head and Content-Length body); "" when the connection closes first.</summary>
    private static async Task<string> RawGetAsync(NetworkStream stream, string host, string path)
    {
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n"));
        var received = new List<byte>();
        var buffer = new byte[4096];
        using var deadline = new CancellationTokenSource(TunnelHarness.Deadline);
        while (true)
        {
            var text = Encoding.ASCII.GetString(received.ToArray());
            var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (end >= 0)
            {
                var length = text[..end].Split("\r\n").Where(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
                    .Select(l => int.Parse(l["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture)).FirstOrDefault();
                if (received.Count >= end + 4 + length)
                {
                    return text;
                }
            }
            var n = await stream.ReadAsync(buffer, deadline.Token);
            if (n == 0)
            {
                return Encoding.ASCII.GetString(received.ToArray());
            }
            received.AddRange(buffer.AsSpan(0, n).ToArray());
        }
    }

    [RedisFact]
    public async Task A_tunnel_opened_on_node_A_answers_through_nodes_B_and_C_over_one_link_each()
    {
        await using var redis = await RedisProcess.StartAsync();
        await using var a = await ClusterNameTests.StartNodeAsync(redis, "a");
        await using var b = await ClusterNameTests.StartNodeAsync(redis, "b");
        await using var c = await ClusterNameTests.StartNodeAsync(redis, "c");
        await using var local = new LocalHttpService();
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(a, TunnelHarness.Http(local.Port, "spread", "web", "http", "https")) with { AuthToken = TokenA });
        var url = (await client.StartAsync()).First(e => e.PublicUrl.StartsWith("http:", StringComparison.Ordinal)).PublicUrl;

        foreach (var node in new[] { b, c })
        {
            using var http = TunnelHarness.Visitor(keepAlive: false);
            for (var i = 0; i < 5; i++)
            {
                Assert.Equal($"hello GET /via-{node.NodeName}-{i}", await http.GetStringAsync(Through(node, url) + $"/via-{node.NodeName}-{i}"));
                Assert.Equal($"hello GET /tls-{node.NodeName}-{i}", await http.GetStringAsync(Through(node, url, "https") + $"/tls-{node.NodeName}-{i}"));
            }
            using var keepAlive = TunnelHarness.Visitor();
            for (var i = 0; i < 3; i++)
            {
                Assert.Equal($"hello POST /post-{i}", await (await keepAlive.PostAsync(Through(node, url) + $"/post-{i}", new StringContent("body"))).Content.ReadAsStringAsync());
            }
            // Ten visitor connections, one link from the node to A.
            Assert.Equal(1, node.Cluster!.Links.Count);
        }
        // A accepted one link from each of B and C.
        Assert.Equal(2, a.Cluster!.Links.Count);
        // The local service sees the visitor's address, as through A itself.
        Assert.All(local.Heads, head => Assert.Contains("X-Forwarded-For: 127.0.0.1", head, StringComparison.Ordinal));

        // A name no node holds is a 404 on every node (a client that stops releases its names at once); a name whose
        // client went away without stopping is reserved: a 503 on every node.
        using var probe = TunnelHarness.Visitor(keepAlive: false);
        await client.DisposeAsync();
        await TunnelHarness.WaitUntilAsync(() => a.SessionCount == 0, "node a saw the client go");
        Assert.Equal(HttpStatusCode.NotFound, (await probe.GetAsync(Through(b, url) + "/gone")).StatusCode);
        var dropped = await RawPeer.DialAsync(a.Port);
        Assert.Equal("", (await dropped.LoginAsync(TokenA)).Error);
        var away = await dropped.RequestAsync(new ReqTunnel { ReqId = "1", Protocol = "http", Subdomain = "away" });
        Assert.Equal("", away.Error);
        await dropped.DisposeAsync();
        await TunnelHarness.WaitUntilAsync(() => a.SessionCount == 0, "node a saw the dropped client go");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await probe.GetAsync(Through(c, away.Url) + "/")).StatusCode);
    }

    [RedisFact]
    public async Task Basic_auth_IP_rules_and_the_visitor_s_address_apply_through_a_forwarding_node_as_on_the_owner()
    {
        await using var redis = await RedisProcess.StartAsync();
        await using var a = await ClusterNameTests.StartNodeAsync(redis, "a");
        await using var b = await ClusterNameTests.StartNodeAsync(redis, "b");
        await using var local = new LocalHttpService();
        var guarded = TunnelHarness.Http(local.Port, "guarded", "guarded") with { HttpAuth = "user:pass" };
        var fenced = TunnelHarness.Http(local.Port, "fenced", "fenced") with { DenyIP = ["127.0.0.1/32", "::1/128"] };
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(a, guarded, fenced) with { AuthToken = TokenA });
        var endpoints = await client.StartAsync();
        var guardedUrl = endpoints.Single(e => e.PublicUrl.Contains("guarded", StringComparison.Ordinal)).PublicUrl;
        var fencedUrl = endpoints.Single(e => e.PublicUrl.Contains("fenced", StringComparison.Ordinal)).PublicUrl;

        using var http = TunnelHarness.Visitor(keepAlive: false);
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync(Through(b, guardedUrl) + "/")).StatusCode);
        using var authorized = new HttpRequestMessage(HttpMethod.Get, Through(b, guardedUrl) + "/in");
        authorized.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.ASCII.GetBytes("user:pass")));
        var response = await http.SendAsync(authorized);
        Assert.Equal("hello GET /in", await response.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.Forbidden, (await http.GetAsync(Through(b, fencedUrl) + "/")).StatusCode);
        Assert.DoesNotContain(local.Heads, head => head.Contains("GET / ", StringComparison.Ordinal));
    }

    [RedisFact]
    public async Task A_link_without_the_cluster_secret_is_refused()
    {
        await using var redis = await RedisProcess.StartAsync();
        await using var a = await ClusterNameTests.StartNodeAsync(redis, "a");
        await using var peer = await RawPeer.DialAsync(a.Port);
        await peer.SendAsync(new NodeAuth { Node = "intruder", Nonce = "00112233445566778899aabbccddeeff" });
        var challenge = Assert.IsType<NodeAuth>(await peer.ReadAsync());
        Assert.Equal("a", challenge.Node);
        Assert.Equal(64, challenge.Proof.Length);
        await peer.SendAsync(new NodeAuth { Node = "intruder", Proof = new string('0', 64) });
        var refusal = Assert.IsType<NodeAuth>(await peer.ReadAsync());
        Assert.Contains("does not match this cluster's secret", refusal.Error, StringComparison.Ordinal);
        Assert.True(await peer.IsClosedByServerAsync());
        Assert.Equal(0, a.Cluster!.Links.Count);
    }

    [RedisFact]
    public async Task A_node_with_another_secret_cannot_forward_to_the_owner()
    {
        await using var redis = await RedisProcess.StartAsync();
        await using var a = await ClusterNameTests.StartNodeAsync(redis, "a");
        await using var rogue = await ClusterNameTests.StartNodeAsync(redis, "rogue", more: o => o with { Cluster = o.Cluster! with { Secret = "another-secret-entirely-000" } });
        await using var local = new LocalHttpService();
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(a, TunnelHarness.Http(local.Port, "private")) with { AuthToken = TokenA });
        var url = Assert.Single(await client.StartAsync()).PublicUrl;

        using var http = TunnelHarness.Visitor(keepAlive: false);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await http.GetAsync(Through(rogue, url) + "/")).StatusCode);
        Assert.Empty(local.Heads);
        Assert.Equal(0, a.Cluster!.Links.Count);
    }
}
