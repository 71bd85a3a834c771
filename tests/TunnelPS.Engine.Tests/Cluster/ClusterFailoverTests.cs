using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Server;
using TunnelPS.Engine.Tests.Support;
using TunnelPS.Engine.Tests.Transport;
using TunnelPS.Engine.Transport;
using Xunit.Abstractions;

namespace TunnelPS.Engine.Tests.Cluster;

/// <summary>
/// A client given every node of a cluster survives the loss of its node: it reconnects to another one and gets the same
/// URL back. The nodes listen on the same ports of three loopback addresses, as three hosts behind one DNS name would,
/// so a URL is the same whichever node serves it.
/// </summary>
public sealed class ClusterFailoverTests(ITestOutputHelper output)
{
    private const string TokenA = "tenant-a-token-0001";

    private static Task<TunnelServer> StartNodeAsync(RedisProcess redis, int index, int port, int httpPort) =>
        ClusterNameTests.StartNodeAsync(redis, $"n{index}", more: o => o with
        {
            BindAddress = IPAddress.Parse($"127.0.0.{11 + index}"),
            Port = port,
            HttpPort = httpPort,
            Cluster = o.Cluster! with { NodeAddress = $"127.0.0.{11 + index}:{port}" },
        });

    /// <summary>GET through the node at <paramref name="node"/> (an address of it), keeping the URL's host.</summary>
    private static async Task<(HttpStatusCode Status, string Body)> VisitAsync(IPAddress node, string url)
    {
        using var http = new HttpClient(new SocketsHttpHandler
        {
            ConnectCallback = async (context, token) =>
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                await socket.ConnectAsync(new IPEndPoint(node, context.DnsEndPoint.Port), token);
                return new NetworkStream(socket, ownsSocket: true);
            },
            PooledConnectionLifetime = TimeSpan.Zero,
            UseProxy = false,
        })
        { Timeout = TunnelHarness.Deadline };
        using var response = await http.GetAsync(url);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    [RedisFact]
    public async Task Killing_the_client_s_node_brings_it_back_on_another_node_with_the_same_url()
    {
        await using var redis = await RedisProcess.StartAsync();
        var first = await StartNodeAsync(redis, 0, 0, 0);
        var (port, httpPort) = (first.Port, first.HttpPort);
        await first.DisposeAsync();
        var nodes = new List<TunnelServer>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                nodes.Add(await StartNodeAsync(redis, i, port, httpPort));
            }
            await using var local = new LocalHttpService();
            var options = TunnelHarness.ClientOptions(nodes[0], TunnelHarness.Http(local.Port, "survivor")) with
            {
                AuthToken = TokenA,
                Server = new ServerAddress("127.0.0.11", port),
                FallbackServers = [new ServerAddress("127.0.0.12", port), new ServerAddress("127.0.0.13", port)],
            };
            await using var client = new TunnelClient(options);
            var url = Assert.Single(await client.StartAsync()).PublicUrl;
            Assert.Equal($"http://survivor.localhost:{httpPort}", url);

            // Every node answers for the tunnel, whichever holds its client.
            foreach (var i in new[] { 0, 1, 2 })
            {
                Assert.Equal("hello GET /", (await VisitAsync(IPAddress.Parse($"127.0.0.{11 + i}"), url)).Body);
            }

            var owner = nodes.Single(n => n.Port == port && n.Options.BindAddress!.ToString() == client.CurrentServer.Host);
            var survivors = nodes.Where(n => n != owner).ToList();
            var killed = Stopwatch.StartNew();
            await owner.KillForTestAsync();
            var survivor = IPAddress.Parse(survivors[0].Options.BindAddress!.ToString());
            var deadline = DateTime.UtcNow + TunnelHarness.Deadline;
            (HttpStatusCode Status, string Body) answer;
            do
            {
                answer = await VisitAsync(survivor, url + "/after");
            }
            while (answer.Status != HttpStatusCode.OK && DateTime.UtcNow < deadline);
            killed.Stop();
            Assert.Equal("hello GET /after", answer.Body);
            Assert.NotEqual(owner.Options.BindAddress!.ToString(), client.CurrentServer.Host);
            Assert.Equal(url, Assert.Single(client.Endpoints).PublicUrl);
            await TunnelHarness.WaitUntilAsync(() => client.Status == TunnelStatus.Online, "the client reports itself online");
            output.WriteLine($"The URL was unavailable for {killed.Elapsed.TotalSeconds:0.00} s after its node was killed (node timeout {ClusterNameTests.NodeTimeout.TotalSeconds} s); the client is back on {client.CurrentServer}.");
        }
        finally
        {
            foreach (var node in nodes)
            {
                await node.DisposeAsync();
            }
        }
    }

    [RedisFact]
    public async Task A_rolling_restart_of_every_node_keeps_the_url_answering_but_for_the_reconnect_gap()
    {
        await using var redis = await RedisProcess.StartAsync();
        var first = await StartNodeAsync(redis, 0, 0, 0);
        var (port, httpPort) = (first.Port, first.HttpPort);
        await first.DisposeAsync();
        var nodes = new TunnelServer[3];
        try
        {
            for (var i = 0; i < 3; i++)
            {
                nodes[i] = await StartNodeAsync(redis, i, port, httpPort);
            }
            await using var local = new LocalHttpService();
            var options = TunnelHarness.ClientOptions(nodes[0], TunnelHarness.Http(local.Port, "rolling")) with
            {
                AuthToken = TokenA,
                Server = new ServerAddress("127.0.0.11", port),
                FallbackServers = [new ServerAddress("127.0.0.12", port), new ServerAddress("127.0.0.13", port)],
            };
            await using var client = new TunnelClient(options);
            var url = Assert.Single(await client.StartAsync()).PublicUrl;
            var longest = TimeSpan.Zero;
            for (var i = 0; i < 3; i++)
            {
                // Visitors go to a node that is not restarting now (a load balancer takes a stopped node out).
                var visitorNode = IPAddress.Parse($"127.0.0.{11 + ((i + 1) % 3)}");
                var gap = Stopwatch.StartNew();
                await nodes[i].StopAsync();
                await nodes[i].DisposeAsync();
                nodes[i] = await StartNodeAsync(redis, i, port, httpPort);
                var deadline = DateTime.UtcNow + TunnelHarness.Deadline;
                (HttpStatusCode Status, string Body) answer;
                do
                {
                    answer = await VisitAsync(visitorNode, url + $"/after-{i}");
                }
                while (answer.Status != HttpStatusCode.OK && DateTime.UtcNow < deadline);
                gap.Stop();
                Assert.Equal($"hello GET /after-{i}", answer.Body);
                longest = gap.Elapsed > longest ? gap.Elapsed : longest;
                output.WriteLine($"Restarting node n{i} (stop, start, URL answering again through 127.0.0.{11 + ((i + 1) % 3)}): {gap.Elapsed.TotalSeconds:0.00} s; the client is on {client.CurrentServer}.");
            }
            Assert.Equal(url, Assert.Single(client.Endpoints).PublicUrl);
            output.WriteLine($"Longest gap of the rolling restart: {longest.TotalSeconds:0.00} s.");
        }
        finally
        {
            foreach (var node in nodes)
            {
                if (node is not null)
                {
                    await node.DisposeAsync();
                }
            }
        }
    }

    /// <summary>Sends a line to host:port and reads the echo; false when nothing listens there or nothing comes back.</summary>
    private static async Task<bool> EchoesAsync(IPAddress address, int port)
    {
        try
        {
            using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(new IPEndPoint(address, port));
            using var stream = new NetworkStream(socket);
            await stream.WriteAsync("ping\n"u8.ToArray());
            var buffer = new byte[5];
            var got = 0;
            using var deadline = new CancellationTokenSource(TunnelHarness.Deadline);
            while (got < buffer.Length)
            {
                var n = await stream.ReadAsync(buffer.AsMemory(got), deadline.Token);
                if (n == 0)
                {
                    return false;
                }
                got += n;
            }
            return buffer.AsSpan().SequenceEqual("ping\n"u8);
        }
        catch (SocketException)
        {
            return false;
        }
        catch (IOException)
        {
            return false;
        }
    }

    [RedisFact]
    public async Task A_tcp_tunnel_listens_on_the_node_of_its_client_and_moves_with_it_keeping_its_port()
    {
        await using var redis = await RedisProcess.StartAsync();
        var first = await StartNodeAsync(redis, 0, 0, 0);
        var (port, httpPort) = (first.Port, first.HttpPort);
        await first.DisposeAsync();
        var nodes = new List<TunnelServer>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                nodes.Add(await StartNodeAsync(redis, i, port, httpPort));
            }
            await using var echo = new LoopbackEchoServer(tls: false);
            var remotePort = ClusterNameTests.FreeTcpPort();
            var definition = new TunnelDefinition { Name = "ssh", Protocols = ["tcp"], Local = new LocalTarget("127.0.0.1", echo.Port), RemotePort = remotePort };
            var options = TunnelHarness.ClientOptions(nodes[0], definition) with
            {
                AuthToken = TokenA,
                Server = new ServerAddress("127.0.0.11", port),
                FallbackServers = [new ServerAddress("127.0.0.12", port), new ServerAddress("127.0.0.13", port)],
            };
            await using var client = new TunnelClient(options);
            var url = Assert.Single(await client.StartAsync()).PublicUrl;
            Assert.Equal($"tcp://localhost:{remotePort}", url);

            // Only the node that holds the client listens on the tunnel's port.
            var owner = nodes.Single(n => n.Options.BindAddress!.ToString() == client.CurrentServer.Host);
            foreach (var node in nodes)
            {
                Assert.Equal(node == owner, await EchoesAsync(node.Options.BindAddress!, remotePort));
            }

            // The client moves with its node: the next node listens on the same port.
            await owner.KillForTestAsync();
            var moved = Stopwatch.StartNew();
            await TunnelHarness.WaitUntilAsync(() => client.Status == TunnelStatus.Online && client.CurrentServer.Host != owner.Options.BindAddress!.ToString(), "the client is back on another node");
            var next = nodes.Single(n => n.Options.BindAddress!.ToString() == client.CurrentServer.Host);
            Assert.True(await EchoesAsync(next.Options.BindAddress!, remotePort));
            output.WriteLine($"The tcp tunnel answered on the next node {moved.Elapsed.TotalSeconds:0.00} s after its node was killed.");
            Assert.Equal(url, Assert.Single(client.Endpoints).PublicUrl);
        }
        finally
        {
            foreach (var node in nodes)
            {
                await node.DisposeAsync();
            }
        }
    }
}
