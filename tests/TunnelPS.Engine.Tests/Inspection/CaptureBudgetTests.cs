using TunnelPS.Engine.Client;
using TunnelPS.Engine.Http;
using TunnelPS.Engine.Inspection;
using TunnelPS.Engine.Tests.Support;

namespace TunnelPS.Engine.Tests.Inspection;

/// <summary>
/// The capture's byte budget (on top of the count), the pooled chunks that hold captured bodies, and that eviction and
/// Clear give the memory back.
/// </summary>
[Collection(MemoryMeasurementCollection.Name)]
public sealed class CaptureBudgetTests
{
    private const int KiB = 1024;

    private static CapturedExchange Plain(string target, int bodySize) => new()
    {
        Method = "GET",
        Target = target,
        Status = 200,
        ResponseBody = new byte[bodySize],
    };

    private static CapturedExchange Pooled(string target, byte[] body)
    {
        var pooled = new PooledBody(body.Length, int.MaxValue);
        pooled.Append(body);
        return new CapturedExchange { Method = "GET", Target = target, Status = 200, PooledResponseBody = pooled };
    }

    [Fact]
    public void The_byte_budget_evicts_the_oldest_and_counts_what_it_dropped()
    {
        var store = new CaptureStore(1000) { MaxBytes = 100 * KiB };

        for (var i = 0; i < 10; i++)
        {
            store.Add(Plain("/" + i, 30 * KiB));
        }

        Assert.Equal(["/7", "/8", "/9"], store.Snapshot().Select(e => e.Target).ToArray());
        Assert.Equal(90 * KiB, store.HeldBytes);
        Assert.Equal(7, store.Dropped);
        Assert.Equal(7 * 30 * KiB, store.DroppedBytes);
    }

    [Fact]
    public void The_newest_exchange_is_kept_even_when_it_alone_exceeds_the_budget()
    {
        var store = new CaptureStore(1000) { MaxBytes = 100 * KiB };
        store.Add(Plain("/small", 10 * KiB));

        store.Add(Plain("/huge", 300 * KiB));

        Assert.Equal("/huge", Assert.Single(store.Snapshot()).Target);
        Assert.Equal(300 * KiB, store.HeldBytes);
        store.Add(Plain("/next", 10 * KiB));
        Assert.Equal("/next", Assert.Single(store.Snapshot()).Target);
    }

    [Fact]
    public void Lowering_the_budget_or_the_capacity_evicts_the_oldest_and_both_bounds_hold_together()
    {
        var store = new CaptureStore(5) { MaxBytes = 1024 * KiB };
        for (var i = 0; i < 8; i++)
        {
            store.Add(Plain("/" + i, 10 * KiB));
        }
        Assert.Equal(5, store.Count);
        Assert.Equal(3, store.Dropped);

        store.MaxBytes = 25 * KiB;

        Assert.Equal(["/6", "/7"], store.Snapshot().Select(e => e.Target).ToArray());
        Assert.Equal(20 * KiB, store.HeldBytes);
        Assert.Equal(6 * 10 * KiB, store.DroppedBytes);
        store.Capacity = 1;
        Assert.Equal("/7", Assert.Single(store.Snapshot()).Target);
        Assert.Equal(10 * KiB, store.HeldBytes);
        Assert.Throws<ArgumentOutOfRangeException>(() => store.MaxBytes = 0);
    }

    [Fact]
    public void A_pooled_body_spans_chunks_reads_back_whole_and_reads_empty_once_released()
    {
        var data = new byte[(PooledBody.ChunkSize * 2) + 123];
        new Random(7).NextBytes(data);
        var body = new PooledBody(-1, int.MaxValue);

        body.Append(data.AsSpan(0, 1000));
        body.Append(data.AsSpan(1000));

        Assert.Equal(data.Length, body.Length);
        Assert.Equal(data, body.ToArray());
        var copy = new byte[data.Length];
        Assert.Equal(data.Length, body.CopyTo(copy));
        Assert.Equal(data, copy);
        Assert.True(body.RetainedBytes >= data.Length);
        Assert.True(body.RetainedBytes < data.Length + PooledBody.ChunkSize, "no more than one partly used chunk");

        body.Release();
        body.Release();

        Assert.True(body.IsReleased);
        Assert.Empty(body.ToArray());
        Assert.Equal(0, body.RetainedBytes);
    }

    [Fact]
    public void Eviction_and_Clear_release_the_pooled_bodies_and_a_copy_keeps_its_own()
    {
        var store = new CaptureStore(2);
        var first = store.AddOwned(Pooled("/1", [1, 2, 3]));
        var copied = store.Add(Pooled("/copy", [4, 5]));
        Assert.Null(copied.PooledResponseBody);

        store.AddOwned(Pooled("/3", [6]));

        Assert.True(first.BodiesReleased);
        Assert.True(first.ResponseBody.IsEmpty);
        var kept = store.Snapshot();
        Assert.Equal([4, 5], kept[0].ResponseBody.ToArray());
        Assert.Equal([6], kept[1].ResponseBody.ToArray());

        store.Clear();

        Assert.True(kept[1].BodiesReleased);
        Assert.Equal(0, store.HeldBytes);
        Assert.Equal([4, 5], copied.ResponseBody.ToArray());
    }

    [Fact]
    public void Memory_comes_back_after_Clear_when_bodies_were_pooled()
    {
        const int count = 300;
        var body = new byte[256 * KiB];
        new Random(3).NextBytes(body);
        var store = new CaptureStore(count) { MaxBytes = 1024L * 1024 * 1024 };
        var before = GC.GetTotalMemory(forceFullCollection: true);

        for (var i = 0; i < count; i++)
        {
            store.AddOwned(Pooled("/" + i, body));
        }
        var full = GC.GetTotalMemory(forceFullCollection: true);
        store.Clear();
        var after = GC.GetTotalMemory(forceFullCollection: true);

        Assert.True(full - before > count * body.Length * 9L / 10, $"held {full - before} bytes while full");
        // The shared pool keeps some chunks for reuse (a few per core), never the capture's worth.
        Assert.True(after - before < 16L * 1024 * 1024, $"still held {after - before} bytes after Clear");
    }

    [Fact]
    public async Task Through_a_tunnel_the_budget_holds_the_newest_responses_whole_and_releases_the_rest()
    {
        var payload = new string('x', 200 * KiB);
        await using var local = new LocalHttpService((_, target) => (200, target + ":" + payload));
        await using var server = await TunnelHarness.StartServerAsync();
        var definition = TunnelHarness.Http(local.Port, "budget", "budget") with { Capture = new CaptureOptions { MaxBytes = 800 * KiB } };
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, definition));
        var endpoint = Assert.Single(await client.StartAsync());
        var store = client.CaptureFor(definition)!;
        using var visitor = TunnelHarness.Visitor();

        await visitor.GetStringAsync(endpoint.PublicUrl + "/first");
        await TunnelHarness.WaitUntilAsync(() => store.Count == 1, "the first exchange is captured");
        var first = store.Snapshot()[0];
        for (var i = 0; i < 6; i++)
        {
            await visitor.GetStringAsync(endpoint.PublicUrl + "/r" + i);
        }
        await TunnelHarness.WaitUntilAsync(() => store.LastId > first.Id && store.Get(store.LastId)!.Target == "/r5", "the last exchange is captured");

        var kept = store.Snapshot();
        Assert.Equal(3, kept.Count);
        Assert.Equal(["/r3", "/r4", "/r5"], kept.Select(e => e.Target).ToArray());
        Assert.All(kept, e => Assert.Equal(e.Target + ":" + payload, System.Text.Encoding.ASCII.GetString(e.ResponseBody.Span)));
        // Each body of 200 KiB is held in 64 KiB chunks (256 KiB): three fit in 800 KiB, a fourth would not.
        Assert.True(store.HeldBytes <= 800 * KiB, $"held {store.HeldBytes}");
        Assert.Equal(4, store.Dropped);
        Assert.True(store.DroppedBytes >= 4L * 200 * KiB, $"dropped {store.DroppedBytes}");
        Assert.True(first.BodiesReleased);
        Assert.True(first.ResponseBody.IsEmpty);
    }
}
