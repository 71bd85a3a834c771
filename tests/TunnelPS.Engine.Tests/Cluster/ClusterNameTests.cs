using TunnelPS.Engine.Cluster;
using TunnelPS.Engine.Protocol;
using TunnelPS.Engine.Server;
using TunnelPS.Engine.Tests.Support;

namespace TunnelPS.Engine.Tests.Cluster;

/// <summary>
/// Names and ports are unique across the nodes of a cluster (a real redis-server of the test's own): a token's name is
/// never another token's on any node, races are decided in Redis, and a token takes its names back on another node.
/// </summary>
public sealed class ClusterNameTests
{
    /// <summary>The node timeout of the test nodes (heartbeats every third of it).</summary>
    internal static readonly TimeSpan NodeTimeout = TimeSpan.FromSeconds(1.5);

    private const string Secret = "cluster-secret-for-tests-0001";
    private const string TokenA = "tenant-a-token-0001";
    private const string TokenB = "tenant-b-token-0002";

    internal static Task<TunnelServer> StartNodeAsync(RedisProcess redis, string name, IReadOnlyList<string>? tokens = null, Func<TunnelServerOptions, TunnelServerOptions>? more = null) =>
        TunnelHarness.StartServerAsync(o => (more ?? (x => x))(o with
        {
            AuthTokens = tokens ?? [TokenA, TokenB],
            Cluster = new ClusterOptions
            {
                Endpoints = ClusterOptions.Parse(redis.Address).Endpoints,
                Secret = Secret,
                NodeName = name,
                NodeTimeout = NodeTimeout,
            },
        }));

    private static async Task<RawPeer> LoginAsync(TunnelServer server, string token)
    {
        var peer = await RawPeer.DialAsync(server.Port);
        var login = await peer.LoginAsync(token);
        Assert.Equal("", login.Error);
        return peer;
    }

    private static Task<NewTunnel> AskAsync(RawPeer peer, string protocol, string subdomain, int port = 0) =>
        peer.RequestAsync(new ReqTunnel { ReqId = Guid.NewGuid().ToString("n"), Protocol = protocol, Subdomain = subdomain, RemotePort = port });

    [RedisFact]
    public async Task A_second_token_can_never_take_a_name_held_by_the_first_on_any_node()
    {
        await using var redis = await RedisProcess.StartAsync();
        await using var a = await StartNodeAsync(redis, "a");
        await using var b = await StartNodeAsync(redis, "b");
        await using var c = await StartNodeAsync(redis, "c");

        await using var owner = await LoginAsync(a, TokenA);
        Assert.Equal("", (await AskAsync(owner, "http", "shop")).Error);

        foreach (var node in new[] { a, b, c })
        {
            await using var other = await LoginAsync(node, TokenB);
            Assert.Contains("already registered by another client", (await AskAsync(other, "http", "shop")).Error, StringComparison.Ordinal);
            Assert.Contains("already registered by another client", (await AskAsync(other, "https", "shop")).Error, StringComparison.Ordinal);
            Assert.Contains("another client holds", (await AskAsync(other, "http", "x.shop")).Error, StringComparison.Ordinal);
        }

        // A name under another tenant's, registered on another node, makes its parent unavailable to that tenant.
        await using var nested = await LoginAsync(b, TokenB);
        Assert.Equal("", (await AskAsync(nested, "http", "in.mall")).Error);
        await using var parent = await LoginAsync(c, TokenA);
        Assert.Contains("a parent of names another client holds", (await AskAsync(parent, "http", "mall")).Error, StringComparison.Ordinal);

        // The same token on another node, while the first session serves the name, gets the single server's answer.
        await using var twin = await LoginAsync(b, TokenA);
        Assert.Contains("another session of the same token", (await AskAsync(twin, "http", "shop")).Error, StringComparison.Ordinal);

        // The owner adds the other scheme of its name on its node.
        Assert.Equal("", (await AskAsync(owner, "https", "shop")).Error);
    }

    [RedisFact]
    public async Task Twenty_clients_racing_for_one_name_across_three_nodes_have_exactly_one_winner()
    {
        await using var redis = await RedisProcess.StartAsync();
        var tokens = Enumerable.Range(0, 20).Select(i => $"race-token-{i:00}-abcdef").ToList();
        await using var a = await StartNodeAsync(redis, "a", tokens);
        await using var b = await StartNodeAsync(redis, "b", tokens);
        await using var c = await StartNodeAsync(redis, "c", tokens);
        var nodes = new[] { a, b, c };
        var peers = new List<RawPeer>();
        try
        {
            for (var i = 0; i < 20; i++)
            {
                peers.Add(await LoginAsync(nodes[i % 3], tokens[i]));
            }
            using var start = new SemaphoreSlim(0);
            var answers = peers.Select(async peer =>
            {
                await start.WaitAsync();
                return await AskAsync(peer, "http", "contested");
            }).ToList();
            start.Release(20);
            var results = await Task.WhenAll(answers);
            Assert.Single(results, r => r.Error.Length == 0);
            Assert.All(results.Where(r => r.Error.Length > 0), r => Assert.Contains("already registered by another client", r.Error, StringComparison.Ordinal));
        }
        finally
        {
            foreach (var peer in peers)
            {
                await peer.DisposeAsync();
            }
        }
    }

    [RedisFact]
    public async Task A_token_takes_its_name_and_port_back_on_another_node_when_its_client_moves()
    {
        await using var redis = await RedisProcess.StartAsync();
        await using var a = await StartNodeAsync(redis, "a");
        await using var b = await StartNodeAsync(redis, "b");
        var port = FreeTcpPort();

        var first = await LoginAsync(a, TokenA);
        Assert.Equal("", (await AskAsync(first, "http", "moving")).Error);
        Assert.Equal("", (await AskAsync(first, "tcp", "", port)).Error);
        await first.DisposeAsync();
        await TunnelHarness.WaitUntilAsync(() => a.SessionCount == 0, "node a saw the client go");

        // Another token never gets them, on either node, while they are reserved.
        await using var other = await LoginAsync(b, TokenB);
        Assert.Contains("already registered by another client", (await AskAsync(other, "http", "moving")).Error, StringComparison.Ordinal);
        Assert.Contains($"remote port {port} is already used", (await AskAsync(other, "tcp", "", port)).Error, StringComparison.Ordinal);

        // The same token, on the other node, gets both back at once.
        await using var moved = await LoginAsync(b, TokenA);
        Assert.Equal("http://moving.localhost:" + b.HttpPort, (await AskAsync(moved, "http", "moving")).Url);
        Assert.Equal($"tcp://localhost:{port}", (await AskAsync(moved, "tcp", "", port)).Url);
    }

    [RedisFact]
    public async Task A_closed_tunnel_frees_its_name_for_every_token_across_the_cluster()
    {
        await using var redis = await RedisProcess.StartAsync();
        await using var a = await StartNodeAsync(redis, "a");
        await using var b = await StartNodeAsync(redis, "b");
        await using var owner = await LoginAsync(a, TokenA);
        var opened = await AskAsync(owner, "http", "brief");
        Assert.Equal("", opened.Error);
        await owner.SendAsync(new CloseTunnel { Url = opened.Url });

        await using var other = await LoginAsync(b, TokenB);
        var deadline = DateTime.UtcNow + TunnelHarness.Deadline;
        NewTunnel answer;
        do
        {
            answer = await AskAsync(other, "http", "brief");
        }
        while (answer.Error.Length > 0 && DateTime.UtcNow < deadline);
        Assert.Equal("", answer.Error);
    }

    [RedisFact]
    public async Task A_stopped_node_s_clients_take_their_names_back_on_another_node()
    {
        await using var redis = await RedisProcess.StartAsync();
        var a = await StartNodeAsync(redis, "a");
        await using var b = await StartNodeAsync(redis, "b");
        await using var owner = await LoginAsync(a, TokenA);
        Assert.Equal("", (await AskAsync(owner, "http", "rolling")).Error);
        await a.StopAsync();

        await using var other = await LoginAsync(b, TokenB);
        Assert.Contains("already registered by another client", (await AskAsync(other, "http", "rolling")).Error, StringComparison.Ordinal);
        await using var back = await LoginAsync(b, TokenA);
        Assert.Equal("", (await AskAsync(back, "http", "rolling")).Error);
    }

    [RedisFact]
    public async Task Every_node_lists_the_cluster_s_nodes_with_their_sessions_and_tunnels()
    {
        await using var redis = await RedisProcess.StartAsync();
        await using var a = await StartNodeAsync(redis, "a");
        await using var b = await StartNodeAsync(redis, "b");
        await using var owner = await LoginAsync(b, TokenA);
        var opened = await AskAsync(owner, "http", "listed");
        Assert.Equal("", opened.Error);

        IReadOnlyList<ClusterNodeInfo> nodes = [];
        var deadline = DateTime.UtcNow + TunnelHarness.Deadline;
        while (DateTime.UtcNow < deadline)
        {
            nodes = await a.GetClusterNodesAsync();
            if (nodes.Count == 2 && nodes[1].Tunnels.Contains(opened.Url))
            {
                break;
            }
            await Task.Delay(50);
        }
        Assert.Equal(["a", "b"], nodes.Select(n => n.Name));
        Assert.Equal(1, nodes[1].Sessions);
        Assert.Equal([opened.Url], nodes[1].Tunnels);
        Assert.Equal(b.ServerAddress, nodes[1].Address);
        await using var single = await TunnelHarness.StartServerAsync();
        Assert.Empty(await single.GetClusterNodesAsync());
        Assert.Null(single.NodeName);
    }

    [RedisFact]
    public async Task A_token_s_tcp_port_limit_counts_its_ports_on_every_node()
    {
        await using var redis = await RedisProcess.StartAsync();
        await using var a = await StartNodeAsync(redis, "a", more: o => o with { MaxTcpPortsPerToken = 1 });
        await using var b = await StartNodeAsync(redis, "b", more: o => o with { MaxTcpPortsPerToken = 1 });
        await using var first = await LoginAsync(a, TokenA);
        var held = await AskAsync(first, "tcp", "", FreeTcpPort());
        Assert.Equal("", held.Error);

        await using var second = await LoginAsync(b, TokenA);
        Assert.Contains("already holds 1 TCP ports across the cluster", (await AskAsync(second, "tcp", "", FreeTcpPort())).Error, StringComparison.Ordinal);
        // Another token has its own count.
        await using var other = await LoginAsync(b, TokenB);
        Assert.Equal("", (await AskAsync(other, "tcp", "", FreeTcpPort())).Error);

        // Once the first port is closed, the token may take another on any node.
        await first.SendAsync(new CloseTunnel { Url = held.Url });
        var deadline = DateTime.UtcNow + TunnelHarness.Deadline;
        NewTunnel answer;
        do
        {
            answer = await AskAsync(second, "tcp", "", FreeTcpPort());
        }
        while (answer.Error.Length > 0 && DateTime.UtcNow < deadline);
        Assert.Equal("", answer.Error);
    }

    [RedisFact]
    public async Task A_token_s_session_limit_counts_its_clients_on_every_node()
    {
        await using var redis = await RedisProcess.StartAsync();
        await using var a = await StartNodeAsync(redis, "a", more: o => o with { MaxSessionsPerToken = 2 });
        await using var b = await StartNodeAsync(redis, "b", more: o => o with { MaxSessionsPerToken = 2 });
        await using var first = await LoginAsync(a, TokenA);
        await using var second = await LoginAsync(b, TokenA);

        await using var third = await RawPeer.DialAsync(a.Port);
        Assert.Contains("already has 2 clients connected across the cluster", (await third.LoginAsync(TokenA)).Error, StringComparison.Ordinal);
        Assert.Equal(2, a.SessionCount + b.SessionCount);
        // Another token has its own count.
        await using var other = await LoginAsync(b, TokenB);

        // A client that leaves frees its place on every node.
        await second.DisposeAsync();
        await TunnelHarness.WaitUntilAsync(() => b.SessionCount == 1, "node b saw the client go");
        var deadline = DateTime.UtcNow + TunnelHarness.Deadline;
        AuthResp answer;
        do
        {
            await using var retry = await RawPeer.DialAsync(a.Port);
            answer = await retry.LoginAsync(TokenA);
        }
        while (answer.Error.Length > 0 && DateTime.UtcNow < deadline);
        Assert.Equal("", answer.Error);
    }

    [RedisFact]
    public async Task Logins_that_present_a_live_session_s_id_as_their_previous_id_never_exceed_the_token_s_session_limit()
    {
        await using var redis = await RedisProcess.StartAsync();
        await using var a = await StartNodeAsync(redis, "a", more: o => o with { MaxSessionsPerToken = 2 });
        await using var b = await StartNodeAsync(redis, "b", more: o => o with { MaxSessionsPerToken = 2 });
        var peers = new List<RawPeer>();
        try
        {
            var first = await RawPeer.DialAsync(a.Port);
            peers.Add(first);
            var firstId = (await first.LoginAsync(TokenA)).ClientId;
            var second = await RawPeer.DialAsync(b.Port);
            peers.Add(second);
            var secondId = (await second.LoginAsync(TokenA)).ClientId;
            Assert.Equal(2, a.SessionCount + b.SessionCount);

            // Each live session's id presented on the node that does not serve it, again and again: the sessions they
            // name are alive, so each such login is one more client, and the token holds 2 at most.
            foreach (var (node, previous) in new[] { (b, firstId), (a, secondId), (b, firstId), (a, secondId) })
            {
                var peer = await RawPeer.DialAsync(node.Port);
                peers.Add(peer);
                var answer = await peer.LoginAsync(TokenA, previous);
                Assert.Contains("already has 2 clients connected across the cluster", answer.Error, StringComparison.Ordinal);
                Assert.Equal(2, a.SessionCount + b.SessionCount);
            }
        }
        finally
        {
            foreach (var peer in peers)
            {
                await peer.DisposeAsync();
            }
        }
    }

    internal static int FreeTcpPort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}
