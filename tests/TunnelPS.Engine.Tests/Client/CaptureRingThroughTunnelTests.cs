using TunnelPS.Engine.Client;
using TunnelPS.Engine.Tests.Support;

namespace TunnelPS.Engine.Tests.Client;

[Collection(MemoryMeasurementCollection.Name)]
public sealed class CaptureRingThroughTunnelTests
{
    [Fact]
    public async Task After_ten_times_the_capacity_of_requests_the_ring_holds_the_newest_and_memory_stays_flat()
    {
        const int capacity = 25;
        await using var local = new LocalHttpService((_, target) => (200, new string('r', 4096) + target));
        await using var server = await TunnelHarness.StartServerAsync();
        var definition = TunnelHarness.Http(local.Port, "ring") with { Capture = new CaptureOptions { Capacity = capacity } };
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, definition));
        var endpoint = Assert.Single(await client.StartAsync());
        var store = client.CaptureFor(definition)!;
        using var http = TunnelHarness.Visitor();

        for (var i = 0; i < capacity; i++)
        {
            await http.GetStringAsync($"{endpoint.PublicUrl}/warm/{i}");
        }
        await TunnelHarness.WaitUntilAsync(() => store.Count == capacity, "the ring fills");
        var before = GC.GetTotalMemory(forceFullCollection: true);
        for (var i = 0; i < capacity * 10; i++)
        {
            await http.GetStringAsync($"{endpoint.PublicUrl}/r/{i}");
        }
        await TunnelHarness.WaitUntilAsync(() => store.Snapshot()[^1].Target == $"/r/{(capacity * 10) - 1}", "the last exchange is captured");
        var after = GC.GetTotalMemory(forceFullCollection: true);

        var kept = store.Snapshot();
        Assert.Equal(capacity, kept.Count);
        Assert.Equal(Enumerable.Range((capacity * 9), capacity).Select(i => $"/r/{i}"), kept.Select(e => e.Target));
        Assert.DoesNotContain(kept, e => e.Target.StartsWith("/warm/", StringComparison.Ordinal));
        // Every exchange holds ~4 KiB of body: 250 of them retained would be ~1 MiB more; the ring keeps it flat.
        Assert.True(after - before < 512 * 1024, $"the heap grew by {after - before} bytes");
    }
}
