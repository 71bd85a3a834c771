using System.Collections.Concurrent;
using TunnelPS.Engine.Diagnostics;
using TunnelPS.Engine.Inspection;

namespace TunnelPS.Engine.Tests.Inspection;

/// <summary>A subscriber of <see cref="CaptureStore.ExchangeCaptured"/> that throws is logged at Debug, and changes nothing else.</summary>
public sealed class CaptureSubscriberFailureTests
{
    [Fact]
    public async Task A_throwing_subscriber_is_logged_at_debug_and_the_next_subscriber_and_waiters_still_get_the_exchange()
    {
        var logs = new ConcurrentQueue<(int Level, string Message)>();
        using var log = new CallbackLoggerFactory((level, _, message, _) => logs.Enqueue((level, message)));
        var store = new CaptureStore(10) { Logger = log.CreateLogger("TunnelPS.Capture") };
        var second = new TaskCompletionSource<CapturedExchange>(TaskCreationOptions.RunContinuationsAsynchronously);
        store.ExchangeCaptured += (_, _) => throw new InvalidOperationException("the subscriber broke");
        store.ExchangeCaptured += (_, e) => second.TrySetResult(e);
        var waiter = store.WaitAsync(e => e.Target == "/x", CancellationToken.None);

        var stored = store.Add(new CapturedExchange { Method = "GET", Target = "/x", Status = 200 });

        Assert.Same(stored, await second.Task.WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.Same(stored, await waiter.WaitAsync(TimeSpan.FromSeconds(20)));
        var entry = Assert.Single(logs, l => l.Message.Contains("ExchangeCaptured handler threw", StringComparison.Ordinal));
        Assert.Equal(1, entry.Level); // LogLevel.Debug
        Assert.Equal($"An ExchangeCaptured handler threw on exchange #{stored.Id} (the subscriber broke); capture and the other handlers go on", entry.Message);
        Assert.Equal(1, store.Count);
    }
}
