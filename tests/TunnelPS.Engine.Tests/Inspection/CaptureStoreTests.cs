using TunnelPS.Engine.Inspection;
using TunnelPS.Engine.Tests.Support;

namespace TunnelPS.Engine.Tests.Inspection;

[Collection(MemoryMeasurementCollection.Name)]
public sealed class CaptureStoreTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    private static CapturedExchange Make(string target, int bodySize = 0) => new()
    {
        Method = "GET",
        Target = target,
        Status = 200,
        ResponseBody = bodySize == 0 ? ReadOnlyMemory<byte>.Empty : new byte[bodySize],
    };

    [Fact]
    public void AssignsIncreasingIdsAndKeepsTheNewest()
    {
        var store = new CaptureStore(3);
        var original = Make("/0");
        var ids = new List<long> { store.Add(original).Id };
        Assert.Equal(0, original.Id);
        for (var i = 1; i < 5; i++)
        {
            ids.Add(store.Add(Make("/" + i)).Id);
        }
        // Ids come from one process-wide sequence (unique across tunnels): increasing, not necessarily contiguous.
        Assert.True(ids.SequenceEqual(ids.Order()) && ids.Distinct().Count() == 5 && ids[0] > 0);
        Assert.Equal(3, store.Count);
        Assert.Equal(2, store.Dropped);
        Assert.Equal(["/2", "/3", "/4"], store.Snapshot().Select(e => e.Target).ToArray());
        Assert.Equal(ids.Skip(2).ToArray(), store.Snapshot().Select(e => e.Id).ToArray());
        Assert.Null(store.Get(ids[1]));
        Assert.Equal("/3", store.Get(ids[3])!.Target);
        Assert.Null(store.Get(ids[4] + 1_000_000));

        store.Clear();
        Assert.Empty(store.Snapshot());
        Assert.Null(store.Get(ids[4]));
        var next = store.Add(Make("/5"));
        Assert.True(next.Id > ids[4]);
        Assert.Equal("/5", store.Get(next.Id)!.Target);
    }

    [Fact]
    public void ShrinkingTheCapacityKeepsTheNewest()
    {
        var store = new CaptureStore(5);
        var ids = new List<long>();
        for (var i = 0; i < 5; i++)
        {
            ids.Add(store.Add(Make("/" + i)).Id);
        }
        store.Capacity = 2;
        Assert.Equal(["/3", "/4"], store.Snapshot().Select(e => e.Target).ToArray());
        Assert.Equal(3, store.Dropped);
        Assert.Equal("/4", store.Get(ids[4])!.Target);
        store.Capacity = 10;
        store.Add(Make("/5"));
        Assert.Equal(["/3", "/4", "/5"], store.Snapshot().Select(e => e.Target).ToArray());
    }

    [Fact]
    public async Task AdoptMovesThePreviousExchangesInIdOrderWithTheirIdsAndTellsNoSubscriber()
    {
        var previous = new CaptureStore();
        var old = Enumerable.Range(0, 3).Select(i => previous.Add(Make("/old" + i, 100))).ToList();
        var store = new CaptureStore();
        var seen = new List<string>();
        store.ExchangeCaptured += (_, e) =>
        {
            lock (seen)
            {
                seen.Add(e.Target);
            }
        };
        var fresh = store.Add(Make("/new", 100));
        var wait = store.WaitAsync(_ => true, CancellationToken.None);

        store.Adopt(previous);

        Assert.Equal(["/old0", "/old1", "/old2", "/new"], store.Snapshot().Select(e => e.Target).ToArray());
        Assert.Equal(old.Select(e => e.Id).Append(fresh.Id).ToArray(), store.Snapshot().Select(e => e.Id).ToArray());
        Assert.Equal("/old1", store.Get(old[1].Id)!.Target);
        Assert.Equal(4 * old[0].StoredBytes, store.HeldBytes);
        Assert.Equal(fresh.Id, store.LastId);
        Assert.Equal(0, store.Dropped);
        Assert.Empty(previous.Snapshot());
        Assert.Equal(0, previous.HeldBytes);
        Assert.Equal(100, store.Get(old[0].Id)!.ResponseBody.Length);

        // The adopted exchanges are not new: a waiter and the event see only the next one.
        var next = store.Add(Make("/next"));
        Assert.Equal(next.Id, (await wait.WaitAsync(Deadline)).Id);
        await TunnelHarness.WaitUntilAsync(() => { lock (seen) { return seen.Count == 2; } }, "the event for /next");
        lock (seen)
        {
            Assert.Equal(["/new", "/next"], seen);
        }
    }

    [Fact]
    public void AdoptKeepsThisStoresBoundsDroppingTheOldestAndCountingThem()
    {
        var previous = new CaptureStore();
        var old = Enumerable.Range(0, 4).Select(i => previous.Add(Make("/old" + i))).ToList();
        var store = new CaptureStore(3);
        store.Add(Make("/new"));

        store.Adopt(previous);

        Assert.Equal(["/old2", "/old3", "/new"], store.Snapshot().Select(e => e.Target).ToArray());
        Assert.Equal(2, store.Dropped);
        Assert.Null(store.Get(old[0].Id));

        var bytes = new CaptureStore();
        var big = Enumerable.Range(0, 3).Select(i => bytes.Add(Make("/big" + i, 1000))).ToList();
        var small = new CaptureStore { MaxBytes = (2 * big[0].StoredBytes) + 1 };
        small.Adopt(bytes);
        Assert.Equal(["/big1", "/big2"], small.Snapshot().Select(e => e.Target).ToArray());
        Assert.Equal(1, small.Dropped);
        Assert.Equal(big[0].StoredBytes, small.DroppedBytes);
        Assert.Equal(2 * big[0].StoredBytes, small.HeldBytes);
    }

    [Fact]
    public void MemoryStaysFlatAfterTenTimesTheCapacity()
    {
        const int capacity = 200;
        const int bodySize = 16 * 1024;
        var store = new CaptureStore(capacity);
        var oldest = new List<long>();
        for (var i = 0; i < capacity; i++)
        {
            oldest.Add(store.Add(Make("/" + i, bodySize)).Id);
        }
        var before = GC.GetTotalMemory(forceFullCollection: true);
        for (var i = 0; i < capacity * 10; i++)
        {
            store.Add(Make("/" + i, bodySize));
        }
        var after = GC.GetTotalMemory(forceFullCollection: true);
        Assert.True(after - before < capacity * bodySize / 2, $"grew by {after - before} bytes");
        Assert.Equal(capacity, store.Count);
        Assert.All(oldest, id => Assert.Null(store.Get(id)));
        Assert.NotNull(store.Get(store.LastId));
        Assert.Equal(capacity * 10, store.Dropped);
    }

    [Fact]
    public async Task RaisesTheEventInOrderAndSwallowsHandlerExceptions()
    {
        var store = new CaptureStore();
        var seen = new List<long>();
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        store.ExchangeCaptured += (_, _) => throw new InvalidOperationException("bad subscriber");
        store.ExchangeCaptured += (_, e) =>
        {
            lock (seen)
            {
                seen.Add(e.Id);
                if (seen.Count == 50)
                {
                    done.TrySetResult();
                }
            }
        };
        var added = new List<long>();
        for (var i = 0; i < 50; i++)
        {
            added.Add(store.Add(Make("/" + i)).Id);
        }
        await done.Task.WaitAsync(Deadline);
        Assert.Equal(added, seen);
    }

    [Fact]
    public async Task WaitAsyncSeesOnlyExchangesAddedAfterTheCall()
    {
        var store = new CaptureStore();
        store.Add(Make("/match"));
        var wait = store.WaitAsync(e => e.Target == "/match", CancellationToken.None);
        var other = store.WaitAsync(e => e.Target == "/other", CancellationToken.None);
        store.Add(Make("/other"));
        await other.WaitAsync(Deadline);
        Assert.False(wait.IsCompleted);
        var added = store.Add(Make("/match"));
        var found = await wait.WaitAsync(Deadline);
        Assert.Equal(added.Id, found.Id);
    }

    [Fact]
    public async Task WaitAsyncCanBeCancelledAndFaultsWhenThePredicateThrows()
    {
        var store = new CaptureStore();
        using var cts = new CancellationTokenSource();
        var wait = store.WaitAsync(_ => false, cts.Token);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait.WaitAsync(Deadline));

        var throwing = store.WaitAsync(_ => throw new InvalidOperationException("predicate"), CancellationToken.None);
        store.Add(Make("/x"));
        await Assert.ThrowsAsync<InvalidOperationException>(() => throwing.WaitAsync(Deadline));
    }
}
