using System.Net;
using System.Net.Sockets;
using TunnelPS.Engine.Tests.Support;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Tests.Transport;

/// <summary>Work deferred to the end of the socket event thread's batch: real loopback sockets with inline completions.</summary>
public sealed class EventBatchDeferralTests
{
    private static async Task<EventBatchDeferral> SharedAsync()
    {
        var deferral = EventBatchDeferral.Shared!;
        await TunnelHarness.WaitUntilAsync(() => deferral.IsStarted, "the deferral knows the event thread");
        return deferral;
    }

    [DeferralFact]
    public async Task Off_the_event_thread_nothing_is_deferred()
    {
        var deferral = await SharedAsync();
        var ran = false;
        Assert.False(deferral.TryDefer(() => ran = true));
        Assert.False(ran, "a refused deferral leaves the work to the caller");
    }

    [DeferralFact]
    public async Task On_the_event_thread_work_runs_after_the_handler_returns_once_per_deferral()
    {
        var deferral = await SharedAsync();
        var (sender, receiver) = await LoopbackSocketPair.OpenAsync();
        using var senderSocket = sender;
        using var receiverSocket = receiver;
        Assert.True(InlineCompletions.TryEnable(receiver));

        var order = new List<string>();
        var done = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var ranOn = new List<int>();
        async Task HandlerAsync()
        {
            // ConfigureAwait(false): the continuation must run where the completion runs (the event thread), never be
            // posted to a context the test runner may have installed.
            await receiver.ReceiveAsync(new byte[16].AsMemory(), SocketFlags.None).ConfigureAwait(false);
            // Now on the event thread (inline completion): three deferrals, then the handler goes on.
            var thread = Environment.CurrentManagedThreadId;
            var deferred = 0;
            for (var i = 0; i < 3; i++)
            {
                var n = i;
                if (deferral.TryDefer(() =>
                {
                    lock (order)
                    {
                        order.Add("flush " + n);
                        ranOn.Add(Environment.CurrentManagedThreadId);
                        if (order.Count == 4)
                        {
                            done.TrySetResult(thread);
                        }
                    }
                }))
                {
                    deferred++;
                }
            }
            Assert.True(deferred == 3, $"{deferred} of 3 deferrals were taken on thread {thread} (an inline completion runs on the socket event thread)");
            lock (order)
            {
                order.Add("handler done");
            }
        }
        var handler = HandlerAsync();
        // A failed assertion inside the handler ends the wait below at once, with its own message.
        _ = handler.ContinueWith(t => done.TrySetException(t.Exception!.InnerExceptions), CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        await sender.SendAsync(new byte[] { 1 }, SocketFlags.None);
        using var deadline = new CancellationTokenSource(TunnelHarness.Deadline);
        var eventThread = await done.Task.WaitAsync(deadline.Token);
        await handler;
        Assert.Equal(["handler done", "flush 0", "flush 1", "flush 2"], order);
        Assert.All(ranOn, id => Assert.Equal(eventThread, id));
    }
}

/// <summary>A fact that needs the deferral: Linux with inline socket completions, on at most 4 cores (as in CI).</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class DeferralFactAttribute : FactAttribute
{
    public DeferralFactAttribute()
    {
        if (EventBatchDeferral.Shared is null)
        {
            Skip = "Deferral to the end of a socket event batch needs Linux, the runtime's inline completions and at most 4 cores (it is off elsewhere).";
        }
    }
}
