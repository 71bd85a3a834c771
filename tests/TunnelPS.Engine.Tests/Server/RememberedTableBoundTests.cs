using TunnelPS.Engine.Client;
using TunnelPS.Engine.Tests.Cluster;
using TunnelPS.Engine.Tests.Support;

namespace TunnelPS.Engine.Tests.Server;

/// <summary>
/// Tables that clients and other nodes fill are bounded (docs/limits.md): the ended sessions a server remembers for
/// reconnects (the oldest forgotten first), and the routes a forwarding node remembers (started again empty at the bound).
/// </summary>
public sealed class RememberedTableBoundTests
{
    [Fact]
    public async Task A_server_remembers_at_most_its_bound_of_ended_sessions_and_forgets_the_oldest_first()
    {
        await using var server = await TunnelHarness.StartServerAsync();
        server.Sessions.RememberedLimit = 2;
        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            await using var peer = await RawPeer.DialAsync(server.Port);
            ids.Add((await peer.LoginAsync()).ClientId);
            await peer.DisposeAsync();
            await TunnelHarness.WaitUntilAsync(() => server.SessionCount == 0, "the dropped client's session has ended");
        }
        Assert.Equal(2, server.Sessions.RememberedCount);

        // The newest is still remembered: its client gets its id back. The oldest was forgotten: a new id.
        await using (var newest = await RawPeer.DialAsync(server.Port))
        {
            Assert.Equal(ids[2], (await newest.LoginAsync(clientId: ids[2])).ClientId);
        }
        await using (var oldest = await RawPeer.DialAsync(server.Port))
        {
            Assert.NotEqual(ids[0], (await oldest.LoginAsync(clientId: ids[0])).ClientId);
        }
    }

    [RedisFact]
    public async Task A_forwarding_node_remembers_at_most_its_bound_of_routes()
    {
        await using var redis = await RedisProcess.StartAsync();
        await using var a = await ClusterNameTests.StartNodeAsync(redis, "a");
        await using var b = await ClusterNameTests.StartNodeAsync(redis, "b", more: o => o with { Cluster = o.Cluster! with { RouteCacheTime = TimeSpan.FromMinutes(5) } });
        b.Cluster!.Router.CacheLimit = 2;
        await using var local = new LocalHttpService();
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(a,
            TunnelHarness.Http(local.Port, "route-one", "one"),
            TunnelHarness.Http(local.Port, "route-two", "two"),
            TunnelHarness.Http(local.Port, "route-three", "three")) with { AuthToken = "tenant-a-token-0001" });
        Assert.Equal(3, (await client.StartAsync()).Count);

        using var http = TunnelHarness.Visitor(keepAlive: false);
        foreach (var name in new[] { "route-one", "route-two", "route-three" })
        {
            Assert.Equal("hello GET /" + name, await http.GetStringAsync($"http://{name}.localhost:{b.HttpPort}/{name}"));
            Assert.InRange(b.Cluster.Router.CachedRoutes, 1, 2);
        }
        Assert.Equal(3, b.Cluster.Router.Lookups);
    }
}
