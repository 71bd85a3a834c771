using System.Diagnostics;
using System.Globalization;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Cluster;
using TunnelPS.Engine.Protocol;
using TunnelPS.Engine.Server;
using TunnelPS.Engine.Tests.Support;
using Xunit.Abstractions;

namespace TunnelPS.Engine.Tests.Cluster;

/// <summary>
/// A cluster on a Redis Sentinel service (redis-sentinel://): a primary, a replica and three sentinels on loopback. The
/// primary dies, the sentinels promote the replica, the nodes follow it, and no lease is lost even when the failover
/// lost writes.
/// </summary>
public sealed class ClusterSentinelTests(ITestOutputHelper output)
{
    private const string Service = "tunnelps";
    private const string TokenA = "tenant-a-token-0001";
    private const string TokenB = "tenant-b-token-0002";
    private static readonly TimeSpan DownAfter = TimeSpan.FromMilliseconds(1000);
    private static readonly TimeSpan FailoverTimeout = TimeSpan.FromMilliseconds(3000);

    [Theory]
    [InlineData("redis-sentinel://127.0.0.1:26379,127.0.0.2/mymaster", "127.0.0.1:26379|127.0.0.2:26379", "mymaster")]
    [InlineData("redis-sentinel://user:pw@[::1]:5000/svc-1/", "[::1]:5000", "svc-1")]
    public void A_Sentinel_address_names_the_sentinels_and_the_service(string address, string endpoints, string service)
    {
        var parsed = ClusterOptions.Parse(address);
        Assert.Equal(endpoints.Split('|'), parsed.Endpoints);
        Assert.Equal(service, parsed.SentinelService);
        Assert.False(parsed.Tls);
    }

    [Theory]
    [InlineData("redis-sentinel://127.0.0.1:26379", "names no Sentinel service")]
    [InlineData("redis-sentinel://127.0.0.1:26379/my master", "is not a Sentinel service name")]
    public void A_Sentinel_address_without_a_valid_service_says_what_is_wrong(string address, string why)
    {
        var ex = Assert.Throws<TunnelConfigurationException>(() => ClusterOptions.Parse(address));
        Assert.Contains(why, ex.Message, StringComparison.Ordinal);
    }

    [SentinelFact]
    public async Task When_the_primary_dies_the_replica_is_promoted_registrations_work_again_and_no_lease_is_lost()
    {
        await using var primary = await RedisProcess.StartAsync();
        await using var replica = await RedisProcess.StartAsync(null, $"replicaof 127.0.0.1 {primary.Port}");
        await TunnelHarness.WaitUntilAsync(() => primary.ExecuteAsync("WAIT", "1", "200").GetAwaiter().GetResult() == "1", "the replica follows the primary");
        var sentinels = new List<SentinelProcess>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                sentinels.Add(await SentinelProcess.StartAsync(Service, primary.Port, DownAfter, FailoverTimeout));
            }
            foreach (var sentinel in sentinels)
            {
                await TunnelHarness.WaitUntilAsync(() =>
                {
                    var master = sentinel.MasterAsync(Service).GetAwaiter().GetResult();
                    return master.GetValueOrDefault("num-slaves") == "1" && master.GetValueOrDefault("num-other-sentinels") == "2";
                }, "each sentinel knows the replica and the other two sentinels", TimeSpan.FromSeconds(60));
            }
            var address = "redis-sentinel://" + string.Join(',', sentinels.Select(s => $"127.0.0.1:{s.Port}")) + "/" + Service;
            var parsed = ClusterOptions.Parse(address);
            Func<TunnelServerOptions, TunnelServerOptions> onSentinels = o => o with { Cluster = o.Cluster! with { Endpoints = parsed.Endpoints, SentinelService = parsed.SentinelService } };
            await using var a = await ClusterNameTests.StartNodeAsync(primary, "a", more: onSentinels);
            await using var b = await ClusterNameTests.StartNodeAsync(primary, "b", more: onSentinels);
            Assert.Contains($"Redis Sentinel service '{Service}'", a.Cluster!.StoreDescription, StringComparison.Ordinal);
            await using var local = new LocalHttpService();
            await using var client = new TunnelClient(TunnelHarness.ClientOptions(a, TunnelHarness.Http(local.Port, "keeper")) with { AuthToken = TokenA });
            var host = new Uri(Assert.Single(await client.StartAsync()).PublicUrl).Host;
            var leaseKey = "{tunnelps}:lease:" + ClusterLease.HostKey(host);
            using var http = TunnelHarness.Visitor(keepAlive: false);
            Assert.Equal("hello GET /before", await http.GetStringAsync($"http://{host}:{b.HttpPort}/before"));
            await TunnelHarness.WaitUntilAsync(() => replica.ExecuteAsync("GET", leaseKey).GetAwaiter().GetResult() is not null, "the lease reached the replica");

            var down = Stopwatch.StartNew();
            await primary.StopAsync();
            // Visitors keep coming through both nodes (new connections) until the sentinels have promoted the replica.
            var visits = 0;
            var failures = new List<string>();
            while (!(await sentinels[0].QueryAsync("SENTINEL", "GET-MASTER-ADDR-BY-NAME", Service) is [_, var port] && port == replica.Port.ToString(CultureInfo.InvariantCulture)))
            {
                Assert.True(down.Elapsed < TimeSpan.FromSeconds(60), "the sentinels did not promote the replica within 60 s");
                foreach (var node in new[] { a, b })
                {
                    visits++;
                    using var response = await http.GetAsync($"http://{host}:{node.HttpPort}/failover");
                    if (response.StatusCode != System.Net.HttpStatusCode.OK)
                    {
                        failures.Add($"{node.NodeName}: {(int)response.StatusCode}");
                    }
                }
            }
            var failover = down.Elapsed;
            Assert.Empty(failures);
            // A failover that lost writes: what the old primary had not passed on is gone. The lease is deleted on the new
            // primary to stand for that loss; node a, renewing its leases, finds it missing and writes it again.
            await replica.ExecuteAsync("DEL", leaseKey);

            await using var peer = await RawPeer.DialAsync(b.Port);
            Assert.Equal("", (await peer.LoginAsync(TokenA)).Error);
            NewTunnel answer;
            do
            {
                answer = await peer.RequestAsync(new ReqTunnel { ReqId = Guid.NewGuid().ToString("n"), Protocol = "http", Subdomain = "newcomer" });
            }
            while (answer.Error.Length > 0 && down.Elapsed < failover + TimeSpan.FromSeconds(5));
            var registered = down.Elapsed;
            Assert.Equal("", answer.Error);
            Assert.True(registered <= failover + TimeSpan.FromSeconds(5), $"registrations worked again {registered.TotalSeconds:0.0} s after the primary died, the sentinels' failover took {failover.TotalSeconds:0.0} s");

            await TunnelHarness.WaitUntilAsync(() => replica.ExecuteAsync("GET", leaseKey).GetAwaiter().GetResult() is not null, "node a wrote its lost lease again on the new primary");
            var rewritten = down.Elapsed;
            await using var rival = await RawPeer.DialAsync(b.Port);
            Assert.Equal("", (await rival.LoginAsync(TokenB)).Error);
            var taken = await rival.RequestAsync(new ReqTunnel { ReqId = "rival", Protocol = "http", Subdomain = "keeper" });
            Assert.Contains("already registered by another client", taken.Error, StringComparison.Ordinal);
            Assert.Equal("hello GET /after", await http.GetStringAsync($"http://{host}:{b.HttpPort}/after"));
            output.WriteLine($"Primary killed: sentinels promoted the replica after {failover.TotalSeconds:0.0} s (down-after {DownAfter.TotalMilliseconds} ms), {visits} visitor connections meanwhile, {failures.Count} failures; " +
                $"registrations worked again at {registered.TotalSeconds:0.0} s, the lost lease was written again by its node at {rewritten.TotalSeconds:0.0} s.");
        }
        finally
        {
            foreach (var sentinel in sentinels)
            {
                await sentinel.DisposeAsync();
            }
        }
    }
}
