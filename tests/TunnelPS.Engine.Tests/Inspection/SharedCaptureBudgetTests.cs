using TunnelPS.Engine.Inspection;

namespace TunnelPS.Engine.Tests.Inspection;

/// <summary>One memory budget for every tunnel's capture of a session: the oldest exchange of all goes first.</summary>
public sealed class SharedCaptureBudgetTests
{
    private const int KiB = 1024;

    private static CapturedExchange Plain(string target, int bodySize) => new()
    {
        Method = "GET",
        Target = target,
        Status = 200,
        ResponseBody = new byte[bodySize],
    };

    [Fact]
    public void Stores_that_share_a_budget_hold_at_most_the_largest_of_their_budgets_together_oldest_first()
    {
        var budget = new CaptureBudget();
        var a = new CaptureStore(1000) { MaxBytes = 100 * KiB, Budget = budget };
        var b = new CaptureStore(1000) { MaxBytes = 100 * KiB, Budget = budget };

        for (var i = 0; i < 5; i++)
        {
            a.Add(Plain("/a" + i, 30 * KiB));
            b.Add(Plain("/b" + i, 30 * KiB));
        }

        // 100 KiB together: the three newest of all (each store alone would have kept three of its own).
        Assert.Equal(100 * KiB, budget.Limit);
        Assert.True(budget.HeldBytes <= 100 * KiB, $"held {budget.HeldBytes}");
        Assert.Equal(["/a4"], a.Snapshot().Select(e => e.Target).ToArray());
        Assert.Equal(["/b3", "/b4"], b.Snapshot().Select(e => e.Target).ToArray());
        Assert.Equal(4, a.Dropped);
        Assert.Equal(3, b.Dropped);
        Assert.Equal(4 * 30 * KiB, a.DroppedBytes);
    }

    [Fact]
    public void The_largest_budget_among_the_stores_is_the_shared_one_and_each_store_keeps_its_own()
    {
        var budget = new CaptureBudget();
        var small = new CaptureStore(1000) { MaxBytes = 40 * KiB, Budget = budget };
        var large = new CaptureStore(1000) { MaxBytes = 200 * KiB, Budget = budget };

        for (var i = 0; i < 4; i++)
        {
            small.Add(Plain("/s" + i, 30 * KiB));
        }
        for (var i = 0; i < 5; i++)
        {
            large.Add(Plain("/l" + i, 30 * KiB));
        }

        Assert.Equal(200 * KiB, budget.Limit);
        Assert.Equal(["/s3"], small.Snapshot().Select(e => e.Target).ToArray());   // its own 40 KiB
        Assert.Equal(180 * KiB, budget.HeldBytes);

        large.Add(Plain("/l5", 30 * KiB));   // 210 KiB together: the oldest of all (/s3) goes
        Assert.Empty(small.Snapshot());
        Assert.Equal(6, large.Count);
    }

    [Fact]
    public void The_newest_exchange_of_all_is_kept_and_a_store_that_leaves_takes_its_bytes_out()
    {
        var budget = new CaptureBudget();
        var a = new CaptureStore(1000) { MaxBytes = 50 * KiB, Budget = budget };
        var b = new CaptureStore(1000) { MaxBytes = 50 * KiB, Budget = budget };
        a.Add(Plain("/a", 10 * KiB));

        b.Add(Plain("/huge", 300 * KiB));

        Assert.Empty(a.Snapshot());
        Assert.Equal("/huge", Assert.Single(b.Snapshot()).Target);

        b.Budget = null;
        a.Add(Plain("/a2", 40 * KiB));
        Assert.Equal([a], budget.Stores);
        Assert.Equal("/a2", Assert.Single(a.Snapshot()).Target);
        Assert.Equal("/huge", Assert.Single(b.Snapshot()).Target);
    }
}
