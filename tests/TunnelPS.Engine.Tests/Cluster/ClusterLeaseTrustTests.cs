using System.Collections.Concurrent;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Protocol;
using TunnelPS.Engine.Tests.Support;

namespace TunnelPS.Engine.Tests.Cluster;

/// <summary>
/// What a client of the cluster's Redis can do without the cluster secret: it can delete or overwrite leases, but a
/// live name never moves to another tenant for it. Leases are signed under the cluster secret; a node keeps a live
/// name whose lease vanished or was forged, and a forged lease never blocks a claim.
/// </summary>
public sealed class ClusterLeaseTrustTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const string TokenA = "tenant-a-token-0001";
    private const string TokenB = "tenant-b-token-0002";
    private const string LeaseKey = "{tunnelps}:lease:host:victim.localhost";

    private static async Task<string> VisitAsync(string url)
    {
        using var http = TunnelHarness.Visitor(keepAlive: false);
        http.Timeout = TimeSpan.FromSeconds(5);
        return await http.GetStringAsync(url);
    }

    /// <summary>A visit while the rival's node lets go: its session ends under a visitor in flight (a 502), which is expected then.</summary>
    private static async Task<string> TryVisitAsync(string url)
    {
        try
        {
            return await VisitAsync(url);
        }
        catch (HttpRequestException ex)
        {
            return ex.Message;
        }
    }

    [RedisFact]
    public async Task Deleting_a_live_lease_does_not_let_another_tenant_take_the_name()
    {
        await using var redis = await RedisProcess.StartAsync();
        var logs = new ConcurrentQueue<string>();
        await using var a = await ClusterNameTests.StartNodeAsync(redis, "a", more: o => o.WithLogCallback((_, _, message, _) => logs.Enqueue(message)));
        await using var b = await ClusterNameTests.StartNodeAsync(redis, "b");
        await using var ownerService = new LocalHttpService((_, _) => (200, "C's content"));
        await using var rivalService = new LocalHttpService((_, _) => (200, "B's content"));
        await using var owner = new TunnelClient(TunnelHarness.ClientOptions(a, TunnelHarness.Http(ownerService.Port, "victim")) with { AuthToken = TokenA });
        var statuses = new ConcurrentQueue<TunnelStatus>();
        owner.StatusChanged += (_, _) => statuses.Enqueue(owner.Status);
        Assert.Single(await owner.StartAsync());
        var ownerLease = await redis.ExecuteAsync("GET", LeaseKey);
        Assert.NotNull(ownerLease);

        // The attack: the lease key deleted by a Redis client, then another tenant's claim of the name on another node.
        Assert.Equal("1", await redis.ExecuteAsync("DEL", LeaseKey));
        await using var rival = new TunnelClient(TunnelHarness.ClientOptions(b, TunnelHarness.Http(rivalService.Port, "victim")) with { AuthToken = TokenB });
        var granted = true;
        var since = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            await rival.StartAsync();
        }
        catch (TunnelRequestException)
        {
            // The owner's node wrote its lease back first: the claim is refused outright.
            granted = false;
        }

        // Within a heartbeat or two the owner's node has its lease back and the rival's node has let go: visitors on
        // both nodes get the owner's content, and the owner's session never ended.
        var onB = $"http://victim.localhost:{b.HttpPort}/";
        var deadline = DateTime.UtcNow + TunnelHarness.Deadline;
        var body = "";
        while (DateTime.UtcNow < deadline && (body = await TryVisitAsync(onB)) != "C's content")
        {
            await Task.Delay(50);
        }
        Assert.Equal("C's content", body);
        output.WriteLine($"The rival's claim was {(granted ? "granted in Redis" : "refused")}; visitors on its node got the owner's content again {since.Elapsed.TotalSeconds:0.00} s after it.");
        if (granted)
        {
            // The owner's node found the later claim over its live name and wrote its lease back.
            Assert.Contains(logs, m => m.Contains("keeps host:victim.localhost", StringComparison.Ordinal));
        }
        Assert.Equal("C's content", await VisitAsync($"http://victim.localhost:{a.HttpPort}/"));
        Assert.Equal(ownerLease.Split('|')[0], (await redis.ExecuteAsync("GET", LeaseKey))?.Split('|')[0]);
        Assert.Equal(TunnelStatus.Online, owner.Status);
        Assert.DoesNotContain(statuses, s => s is TunnelStatus.Reconnecting or TunnelStatus.Failed);
    }

    [RedisFact]
    public async Task A_forged_lease_written_into_Redis_over_a_live_name_is_logged_and_not_obeyed()
    {
        await using var redis = await RedisProcess.StartAsync();
        var logs = new ConcurrentQueue<string>();
        await using var a = await ClusterNameTests.StartNodeAsync(redis, "a", more: o => o.WithLogCallback((_, _, message, _) => logs.Enqueue(message)));
        await using var b = await ClusterNameTests.StartNodeAsync(redis, "b");
        await using var ownerService = new LocalHttpService((_, _) => (200, "C's content"));
        await using var owner = new TunnelClient(TunnelHarness.ClientOptions(a, TunnelHarness.Http(ownerService.Port, "victim")) with { AuthToken = TokenA });
        var statuses = new ConcurrentQueue<TunnelStatus>();
        owner.StatusChanged += (_, _) => statuses.Enqueue(owner.Status);
        Assert.Single(await owner.StartAsync());
        var ownerLease = await redis.ExecuteAsync("GET", LeaseKey);
        Assert.NotNull(ownerLease);

        // The lease rewritten for another tenant (and another node) by a Redis client without the cluster secret.
        var fields = ownerLease.Split('|');
        fields[0] = "0123456789abcdef0123456789abcdef";
        fields[2] = "b";
        var forged = string.Join('|', fields);
        Assert.Equal("OK", await redis.ExecuteAsync("SET", LeaseKey, forged, "PX", "600000"));

        await TunnelHarness.WaitUntilAsync(() => logs.Any(m => m.Contains("forged", StringComparison.OrdinalIgnoreCase) && m.Contains("host:victim.localhost", StringComparison.Ordinal)), "node a logged the forged lease");
        var deadline = DateTime.UtcNow + TunnelHarness.Deadline;
        while (DateTime.UtcNow < deadline && (await redis.ExecuteAsync("GET", LeaseKey))?.Split('|')[0] != ownerLease.Split('|')[0])
        {
            await Task.Delay(50);
        }
        Assert.Equal(ownerLease.Split('|')[0], (await redis.ExecuteAsync("GET", LeaseKey))?.Split('|')[0]);
        Assert.Equal("C's content", await VisitAsync($"http://victim.localhost:{b.HttpPort}/"));
        Assert.Equal(TunnelStatus.Online, owner.Status);
        Assert.DoesNotContain(statuses, s => s is TunnelStatus.Reconnecting or TunnelStatus.Failed);
    }

    [RedisFact]
    public async Task A_forged_lease_on_a_free_name_does_not_block_a_claim()
    {
        await using var redis = await RedisProcess.StartAsync();
        await using var a = await ClusterNameTests.StartNodeAsync(redis, "a");
        await using var b = await ClusterNameTests.StartNodeAsync(redis, "b");
        // A real lease of tenant B to copy the shape from, then a forged one of B's tenant on a free name.
        await using var other = await RawPeer.DialAsync(b.Port);
        Assert.Equal("", (await other.LoginAsync(TokenB)).Error);
        Assert.Equal("", (await other.RequestAsync(new ReqTunnel { ReqId = "1", Protocol = "http", Subdomain = "model" })).Error);
        var model = await redis.ExecuteAsync("GET", "{tunnelps}:lease:host:model.localhost");
        Assert.NotNull(model);
        var fields = model.Split('|');
        fields[1] = "00112233445566778899aabbccddeeff";
        Assert.Equal("OK", await redis.ExecuteAsync("SET", LeaseKey, string.Join('|', fields), "PX", "600000"));

        await using var claimant = await RawPeer.DialAsync(a.Port);
        Assert.Equal("", (await claimant.LoginAsync(TokenA)).Error);
        var answer = await claimant.RequestAsync(new ReqTunnel { ReqId = "2", Protocol = "http", Subdomain = "victim" });
        Assert.Equal("", answer.Error);
        Assert.NotEqual(fields[0], (await redis.ExecuteAsync("GET", LeaseKey))?.Split('|')[0]);
    }
}
