using System.Diagnostics;
using System.Net;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Cluster;
using TunnelPS.Engine.Protocol;
using TunnelPS.Engine.Server;
using TunnelPS.Engine.Tests.Support;
using Xunit.Abstractions;

namespace TunnelPS.Engine.Tests.Cluster;

/// <summary>
/// While the cluster store does not answer, a forwarding node keeps the last route it knew for a name and learns the
/// routes it lacks from the nodes it reaches; visitors of tunnels open before the outage see no failure.
/// </summary>
public sealed class ClusterStoreOutageTests(ITestOutputHelper output)
{
    private const string TokenA = "tenant-a-token-0001";

    /// <summary>Shorter than the outage many times over: every route a node remembered expires during it.</summary>
    private static readonly TimeSpan RouteCache = TimeSpan.FromMilliseconds(200);

    /// <summary>How long the tests keep Redis away while visitors come: the 30 s (150 route cache times, many node heartbeats).</summary>
    private static readonly TimeSpan Outage = TimeSpan.FromSeconds(30);

    private static Task<TunnelServer> StartNodeAsync(RedisProcess redis, string name, string? address = null) =>
        ClusterNameTests.StartNodeAsync(redis, name, more: o => o with
        {
            Cluster = o.Cluster! with
            {
                RouteCacheTime = RouteCache,
                Endpoints = address is null ? o.Cluster!.Endpoints : [address],
                StoreTimeout = TimeSpan.FromMilliseconds(500),
            },
        });

    private static string Through(TunnelServer node, string host) => $"http://{host}:{node.HttpPort}";

    [RedisFact]
    public async Task With_Redis_stopped_visitors_through_every_node_see_no_failure_for_tunnels_open_before_and_only_unknown_names_get_503()
    {
        await using var redis = await RedisProcess.StartAsync();
        TunnelServer[] nodes = [await StartNodeAsync(redis, "a"), await StartNodeAsync(redis, "b"), await StartNodeAsync(redis, "c")];
        await using var local = new LocalHttpService();
        var clients = new List<TunnelClient>();
        try
        {
            var hosts = new List<string>();
            foreach (var (node, name) in nodes.Zip(["alpha", "beta", "gamma"]))
            {
                var client = new TunnelClient(TunnelHarness.ClientOptions(node, TunnelHarness.Http(local.Port, name)) with { AuthToken = TokenA });
                clients.Add(client);
                hosts.Add(new Uri(Assert.Single(await client.StartAsync()).PublicUrl).Host);
            }
            using var http = TunnelHarness.Visitor(keepAlive: false);
            // Every node routes every name once before the outage, except node a, which never sees gamma.
            foreach (var node in nodes)
            {
                foreach (var host in hosts.Where(h => !(node == nodes[0] && h.StartsWith("gamma.", StringComparison.Ordinal))))
                {
                    Assert.Equal("hello GET /before", await http.GetStringAsync(Through(node, host) + "/before"));
                }
            }
            foreach (var node in nodes)
            {
                await TunnelHarness.WaitUntilAsync(() => node.Cluster!.Router.PeerCount == 2, $"node {node.NodeName} learned the other two nodes from the store");
            }

            await redis.StopAsync();
            var down = Stopwatch.StartNew();
            foreach (var node in nodes)
            {
                await TunnelHarness.WaitUntilAsync(() => !node.Cluster!.StoreReachable, $"node {node.NodeName} noticed that Redis is down");
            }
            var visits = 0;
            var failures = new List<string>();
            do
            {
                foreach (var node in nodes)
                {
                    foreach (var host in hosts)
                    {
                        visits++;
                        using var response = await http.GetAsync(Through(node, host) + "/during");
                        var body = await response.Content.ReadAsStringAsync();
                        if (response.StatusCode != HttpStatusCode.OK || body != "hello GET /during")
                        {
                            failures.Add($"{node.NodeName} {host}: {(int)response.StatusCode} {body}");
                        }
                    }
                }
            }
            while (down.Elapsed < Outage);
            output.WriteLine($"Redis down {down.Elapsed.TotalSeconds:0.0} s (route cache {RouteCache.TotalMilliseconds} ms): {visits} new visitor connections through 3 nodes, {failures.Count} failures.");
            Assert.Empty(failures);
            // Node a never saw gamma: it learned the route from node c over their link, without Redis.
            Assert.True(nodes[0].Cluster!.Router.PeerQuestions > 0, "node a asked the other nodes where gamma lives");

            // A name no node holds: the store cannot say it is free, so a 503, never a 404.
            var unknown = (await http.GetAsync(Through(nodes[1], "nobody.localhost") + "/")).StatusCode;
            Assert.Equal(HttpStatusCode.ServiceUnavailable, unknown);
            // Registrations fail with the message they give while the store does not answer.
            await using (var peer = await RawPeer.DialAsync(nodes[2].Port))
            {
                Assert.Equal("", (await peer.LoginAsync(TokenA)).Error);
                var refused = await peer.RequestAsync(new ReqTunnel { ReqId = "1", Protocol = "http", Subdomain = "newcomer" });
                Assert.Contains("cluster's store does not answer", refused.Error, StringComparison.Ordinal);
            }

            // Redis returns (empty): the nodes write their leases back and the store routes again.
            await redis.StartAgainAsync();
            foreach (var node in nodes)
            {
                await TunnelHarness.WaitUntilAsync(() => node.Cluster!.StoreReachable, $"node {node.NodeName} reached Redis again");
            }
            foreach (var node in nodes)
            {
                foreach (var host in hosts)
                {
                    Assert.Equal("hello GET /after", await http.GetStringAsync(Through(node, host) + "/after"));
                }
            }
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
            foreach (var node in nodes)
            {
                await node.DisposeAsync();
            }
        }
    }

    [RedisFact]
    public async Task A_client_that_moves_while_a_forwarding_node_cannot_reach_Redis_is_followed_there()
    {
        await using var redis = await RedisProcess.StartAsync();
        await using var relay = new TcpRelay(redis.Port);
        await using var a = await StartNodeAsync(redis, "a");
        await using var c = await StartNodeAsync(redis, "c");
        // Node f reaches Redis only through the relay: cutting it splits f from the store, and only f.
        await using var f = await StartNodeAsync(redis, "f", address: $"127.0.0.1:{relay.Port}");
        await using var local = new LocalHttpService();
        var client = new TunnelClient(TunnelHarness.ClientOptions(a, TunnelHarness.Http(local.Port, "mover")) with { AuthToken = TokenA });
        var host = new Uri(Assert.Single(await client.StartAsync()).PublicUrl).Host;
        using var http = TunnelHarness.Visitor(keepAlive: false);
        Assert.Equal("hello GET /before", await http.GetStringAsync(Through(f, host) + "/before"));
        await TunnelHarness.WaitUntilAsync(() => f.Cluster!.Router.PeerCount == 2, "node f learned nodes a and c from the store");

        await relay.CutAsync();
        await TunnelHarness.WaitUntilAsync(() => !f.Cluster!.StoreReachable, "node f noticed that it cannot reach Redis");
        Assert.Equal("hello GET /split", await http.GetStringAsync(Through(f, host) + "/split"));

        // The client closes its tunnel on a and opens it on c (a and c reach Redis): f's route points at a, which
        // answers "not here"; f asks the nodes it reaches, c says it serves the name, and f follows it there.
        await client.DisposeAsync();
        await using var moved = new TunnelClient(TunnelHarness.ClientOptions(c, TunnelHarness.Http(local.Port, "mover")) with { AuthToken = TokenA });
        Assert.Equal(host, new Uri(Assert.Single(await moved.StartAsync()).PublicUrl).Host);
        var asked = f.Cluster!.Router.PeerQuestions;
        Assert.Equal("hello GET /moved", await http.GetStringAsync(Through(f, host) + "/moved"));
        Assert.True(f.Cluster.Router.PeerQuestions > asked, "node f asked the other nodes where the name went");
        Assert.Equal("hello GET /moved-again", await http.GetStringAsync(Through(f, host) + "/moved-again"));
        Assert.False(f.Cluster.StoreReachable);
        output.WriteLine($"node f: {f.Cluster.Router.Lookups} store lookups, {f.Cluster.Router.PeerQuestions} questions to other nodes.");
    }

    [RedisFact]
    public async Task Nodes_that_never_answer_hold_a_visitor_at_most_the_store_timeout_and_a_node_remembers_a_bounded_number_of_nodes()
    {
        await using var redis = await RedisProcess.StartAsync();
        await using var a = await StartNodeAsync(redis, "a");
        await using var b = await StartNodeAsync(redis, "b");
        await using var local = new LocalHttpService();
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(b, TunnelHarness.Http(local.Port, "held")) with { AuthToken = TokenA });
        var host = new Uri(Assert.Single(await client.StartAsync()).PublicUrl).Host;
        // A port that takes connections and never answers: every "node" there stays silent.
        using var silent = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var hole = $"127.0.0.1:{((IPEndPoint)silent.LocalEndpoint).Port}";

        await redis.StopAsync();
        await TunnelHarness.WaitUntilAsync(() => !a.Cluster!.StoreReachable, "node a noticed that Redis is down");
        // The store's node list (what a writer to Redis could fill) names node b and a hundred silent nodes: a keeps
        // only its bound of them.
        var descriptions = new List<string> { $$"""{"name":"b","run":"{{b.Cluster!.Run}}","address":"{{b.Cluster.Address}}"}""" };
        descriptions.AddRange(Enumerable.Range(0, 100).Select(i => $$"""{"name":"silent{{i}}","run":"r","address":"{{hole}}"}"""));
        a.Cluster!.Router.LearnPeers(descriptions);
        Assert.Equal(ClusterRouter.MaxPeers, a.Cluster.Router.PeerCount);

        using var http = TunnelHarness.Visitor(keepAlive: false);
        // Node b says it serves the name: the silent nodes do not hold the visitor back.
        Assert.Equal("hello GET /found", await http.GetStringAsync(Through(a, host) + "/found"));
        // No node says it serves this one: every question ends at the store timeout, and the visitor gets a 503.
        var waited = Stopwatch.StartNew();
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await http.GetAsync(Through(a, "nobody.localhost") + "/")).StatusCode);
        output.WriteLine($"A name no node serves, with {ClusterRouter.MaxPeers - 1} silent nodes: 503 after {waited.ElapsedMilliseconds} ms (store timeout 500 ms).");
    }

    [RedisFact]
    public async Task A_network_split_between_nodes_costs_the_cut_off_node_s_visitors_a_503_and_heals_when_the_link_does()
    {
        await using var redis = await RedisProcess.StartAsync();
        // Node a is reached by the other nodes only through the relay: cutting it splits f from a (Redis reaches both).
        var port = ClusterNameTests.FreeTcpPort();
        await using var relay = new TcpRelay(port);
        await using var a = await ClusterNameTests.StartNodeAsync(redis, "a", more: o => o with { Port = port, Cluster = o.Cluster! with { NodeAddress = $"127.0.0.1:{relay.Port}", RouteCacheTime = RouteCache } });
        await using var f = await StartNodeAsync(redis, "f");
        await using var local = new LocalHttpService();
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(a, TunnelHarness.Http(local.Port, "split")) with { AuthToken = TokenA });
        var host = new Uri(Assert.Single(await client.StartAsync()).PublicUrl).Host;
        using var http = TunnelHarness.Visitor(keepAlive: false);
        Assert.Equal("hello GET /before", await http.GetStringAsync(Through(f, host) + "/before"));

        await relay.CutAsync();
        var split = Stopwatch.StartNew();
        // The owner's own visitors never notice; the cut-off node cannot reach the owner and answers 503 (never 404).
        Assert.Equal("hello GET /owner", await http.GetStringAsync(Through(a, host) + "/owner"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await http.GetAsync(Through(f, host) + "/cut")).StatusCode);
        Assert.True(f.Cluster!.StoreReachable);

        relay.Mend();
        await TunnelHarness.WaitUntilAsync(() => http.GetAsync(Through(f, host) + "/healed").GetAwaiter().GetResult().StatusCode == HttpStatusCode.OK, "node f forwards again once the link can be dialled");
        output.WriteLine($"Split between nodes f and a for {split.Elapsed.TotalSeconds:0.0} s: a's visitors served throughout, f's visitors got 503 until the link was dialled again.");
    }
}
