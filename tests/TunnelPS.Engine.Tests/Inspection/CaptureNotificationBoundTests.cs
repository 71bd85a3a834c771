using TunnelPS.Engine.Inspection;

namespace TunnelPS.Engine.Tests.Inspection;

/// <summary>
/// Notifications of new exchanges wait for a slow subscriber in a bounded queue (docs/limits.md, "The local service and
/// captures"): a subscriber that stops keeps the store's memory flat, and the store keeps every exchange regardless.
/// </summary>
public sealed class CaptureNotificationBoundTests
{
    [Fact]
    public async Task A_stuck_subscriber_holds_at_most_the_pending_bound_and_capture_goes_on()
    {
        var store = new CaptureStore(CaptureStore.MaxPendingNotifications * 2);
        using var release = new ManualResetEventSlim();
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var delivered = 0;
        store.ExchangeCaptured += (_, _) =>
        {
            entered.TrySetResult();
            release.Wait(TimeSpan.FromSeconds(20));
            Interlocked.Increment(ref delivered);
        };

        store.Add(new CapturedExchange { Method = "GET", Target = "/first", Status = 200 });
        await entered.Task.WaitAsync(TimeSpan.FromSeconds(20));
        var beyond = CaptureStore.MaxPendingNotifications + 500;
        for (var i = 0; i < beyond; i++)
        {
            store.Add(new CapturedExchange { Method = "GET", Target = "/" + i, Status = 200 });
        }

        Assert.Equal(beyond + 1, store.Count);
        Assert.Equal(500, store.NotificationsDropped);
        release.Set();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (Volatile.Read(ref delivered) < CaptureStore.MaxPendingNotifications + 1 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }
        Assert.Equal(CaptureStore.MaxPendingNotifications + 1, Volatile.Read(ref delivered));
    }
}
