using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using TunnelPS.Engine.Inspection;
using TunnelPS.Engine.Tests.Support;

namespace TunnelPS.Engine.Tests.Inspection;

/// <summary>
/// Notifications of new exchanges wait for a slow subscriber in a bounded queue (docs/limits.md, "The local service and
/// captures"): a subscriber that stops keeps the store's memory flat, and the store keeps every exchange regardless.
/// The notifications skipped are counted in tunnelps.limits.reached (limit "capture_notifications"), read while no
/// other test runs.
/// </summary>
[Collection(ProcessWideMeasurementCollection.Name)]
public sealed class CaptureNotificationBoundTests
{
    [Fact]
    public async Task A_stuck_subscriber_holds_at_most_the_pending_bound_and_capture_goes_on()
    {
        using var reached = new MetricCollector<long>(null, "TunnelPS", "tunnelps.limits.reached");
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
        Assert.Equal(500, reached.GetMeasurementSnapshot().Where(m => Equals(m.Tags.GetValueOrDefault("limit"), "capture_notifications")).Sum(m => m.Value));
        release.Set();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (Volatile.Read(ref delivered) < CaptureStore.MaxPendingNotifications + 1 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }
        Assert.Equal(CaptureStore.MaxPendingNotifications + 1, Volatile.Read(ref delivered));
    }
}
