using System.Diagnostics;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Cluster;
using TunnelPS.Engine.Protocol;
using TunnelPS.Engine.Server;
using TunnelPS.Engine.Tests.Support;
using Xunit.Abstractions;

namespace TunnelPS.Engine.Tests.Cluster;

/// <summary>What a node does when its cluster store goes away, comes back, or is never there.</summary>
public sealed class ClusterFaultTests(ITestOutputHelper output)
{
    private const string TokenA = "tenant-a-token-0001";

    [RedisFact]
    public async Task While_Redis_is_down_open_tunnels_keep_serving_and_new_ones_fail_with_a_clear_error_until_it_returns()
    {
        await using var redis = await RedisProcess.StartAsync();
        await using var node = await ClusterNameTests.StartNodeAsync(redis, "a");
        await using var forwarder = await ClusterNameTests.StartNodeAsync(redis, "f", more: o => o with { Cluster = o.Cluster! with { RouteCacheTime = TimeSpan.FromMinutes(5) } });
        await using var cold = await ClusterNameTests.StartNodeAsync(redis, "g");
        await using var local = new LocalHttpService();
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(node, TunnelHarness.Http(local.Port, "steady")) with { AuthToken = TokenA });
        var url = Assert.Single(await client.StartAsync()).PublicUrl;
        using var http = TunnelHarness.Visitor();
        Assert.Equal("hello GET /before", await http.GetStringAsync(url + "/before"));
        var throughForwarder = $"http://steady.localhost:{forwarder.HttpPort}";
        Assert.Equal("hello GET /forwarded", await http.GetStringAsync(throughForwarder + "/forwarded"));

        await TunnelHarness.WaitUntilAsync(() => cold.Cluster!.Router.PeerCount == 2, "node g learned the other nodes from Redis");
        await redis.StopAsync();
        var down = Stopwatch.StartNew();
        Assert.Equal("hello GET /during", await http.GetStringAsync(url + "/during"));
        // A node that never routed the name asks the nodes it knows (it learned them from Redis) and finds it; a name no
        // node holds gets a 503, never a 404 (the store cannot say it is free). A node that remembers where the name
        // lives keeps forwarding new connections to it.
        using var fresh = TunnelHarness.Visitor(keepAlive: false);
        Assert.Equal("hello GET /during", await fresh.GetStringAsync($"http://steady.localhost:{cold.HttpPort}/during"));
        Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, (await fresh.GetAsync($"http://nobody.localhost:{cold.HttpPort}/during")).StatusCode);
        Assert.Equal("hello GET /remembered", await fresh.GetStringAsync(throughForwarder + "/remembered"));
        await using var peer = await RawPeer.DialAsync(node.Port);
        Assert.Equal("", (await peer.LoginAsync(TokenA)).Error);
        var refused = await peer.RequestAsync(new ReqTunnel { ReqId = "1", Protocol = "http", Subdomain = "newcomer" });
        Assert.Contains("cluster's store does not answer", refused.Error, StringComparison.Ordinal);
        Assert.Contains("Tunnels already open keep serving", refused.Error, StringComparison.Ordinal);
        // Once the node's heartbeat has failed, the tunnel still serves (the node keeps serving what it holds).
        await TunnelHarness.WaitUntilAsync(() => !node.Cluster!.StoreReachable, "the node's heartbeat failed");
        Assert.Equal("hello GET /still", await http.GetStringAsync(url + "/still"));
        output.WriteLine($"Redis down for {down.Elapsed.TotalSeconds:0.0} s; the open tunnel answered throughout.");

        // Redis returns empty (no persistence): the node writes its leases again and registrations work.
        await redis.StartAgainAsync();
        var deadline = DateTime.UtcNow + TunnelHarness.Deadline;
        NewTunnel answer;
        var back = Stopwatch.StartNew();
        do
        {
            answer = await peer.RequestAsync(new ReqTunnel { ReqId = Guid.NewGuid().ToString("n"), Protocol = "http", Subdomain = "newcomer" });
        }
        while (answer.Error.Length > 0 && DateTime.UtcNow < deadline);
        Assert.Equal("", answer.Error);
        output.WriteLine($"Registrations worked again {back.Elapsed.TotalSeconds:0.0} s after Redis came back.");
        await using var other = await ClusterNameTests.StartNodeAsync(redis, "b");
        await using var rival = await RawPeer.DialAsync(other.Port);
        Assert.Equal("", (await rival.LoginAsync("tenant-b-token-0002")).Error);
        // The open tunnel's lease is written again by the node's next heartbeat (with its presence, in one script):
        // another token never gets the name.
        await TunnelHarness.WaitUntilAsync(() => node.Cluster!.StoreReachable, "the node's heartbeat succeeded again");
        await TunnelHarness.WaitUntilAsync(() => node.GetClusterNodesAsync().GetAwaiter().GetResult().Any(n => n.Name == "a"), "node a announced itself again");
        var taken = await rival.RequestAsync(new ReqTunnel { ReqId = "2", Protocol = "http", Subdomain = "steady" });
        Assert.Contains("already registered by another client", taken.Error, StringComparison.Ordinal);
        Assert.Equal("hello GET /after", await http.GetStringAsync(url + "/after"));
    }

    [RedisFact]
    public async Task A_node_whose_Redis_cannot_be_reached_does_not_start_and_says_why()
    {
        var port = ClusterNameTests.FreeTcpPort();
        var ex = await Assert.ThrowsAsync<TunnelConnectionException>(() => TunnelHarness.StartServerAsync(o => o with
        {
            Cluster = new ClusterOptions { Endpoints = [$"127.0.0.1:{port}"], Secret = "cluster-secret-for-tests-0001", NodeName = "lonely", StoreTimeout = TimeSpan.FromMilliseconds(300) },
        }));
        Assert.Contains($"cluster store (Redis at 127.0.0.1:{port}) cannot be reached", ex.Message, StringComparison.Ordinal);
        Assert.Contains("does not start without its cluster store", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("short", "node-a", "a secret of at least 16 characters")]
    [InlineData("cluster-secret-for-tests-0001", "bad name!", "-NodeName 'bad name!' is not a node name")]
    public async Task Bad_cluster_options_are_refused_before_anything_listens(string secret, string node, string why)
    {
        var ex = await Assert.ThrowsAsync<TunnelConfigurationException>(() => TunnelHarness.StartServerAsync(o => o with
        {
            Cluster = new ClusterOptions { Endpoints = ["127.0.0.1:6379"], Secret = secret, NodeName = node },
        }));
        Assert.Contains(why, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("redis://10.0.0.1:7000,10.0.0.2", "10.0.0.1:7000|10.0.0.2:6379", null, null, false)]
    [InlineData("rediss://user:p%40ss@[::1]:7001/", "[::1]:7001", "user", "p@ss", true)]
    [InlineData("redis://:secret@cache", "cache:6379", null, "secret", false)]
    public void Cluster_addresses_are_read_with_their_servers_credentials_and_tls(string address, string endpoints, string? user, string? password, bool tls)
    {
        var parsed = ClusterOptions.Parse(address);
        Assert.Equal(endpoints.Split('|'), parsed.Endpoints);
        Assert.Equal(user, parsed.User);
        Assert.Equal(password, parsed.Password);
        Assert.Equal(tls, parsed.Tls);
    }

    [Theory]
    [InlineData("http://cache:6379", "is not a Redis address")]
    [InlineData("redis://cache:99999", "'99999' is not a port")]
    [InlineData("redis://a:1,,b:2", "names an empty Redis server")]
    [InlineData("redis://[::1:7000", "does not close it")]
    public void Bad_cluster_addresses_say_what_is_wrong(string address, string why)
    {
        var ex = Assert.Throws<TunnelConfigurationException>(() => ClusterOptions.Parse(address));
        Assert.Contains(why, ex.Message, StringComparison.Ordinal);
    }
}
