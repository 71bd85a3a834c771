using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using TunnelPS.Engine.Diagnostics;

namespace TunnelPS.Engine.Inspection;

/// <summary>
/// Tells a <see cref="CaptureStore"/>'s subscribers (<see cref="CaptureStore.ExchangeCaptured"/>) and waiters
/// (<see cref="CaptureStore.WaitAsync"/>) about each stored exchange, in id order, on one thread-pool work item at a
/// time, so that a slow handler never slows the tunnel that stored it. At most
/// <see cref="CaptureStore.MaxPendingNotifications"/> wait to be delivered; beyond that they are dropped and counted.
/// </summary>
internal sealed class CaptureNotifier(CaptureStore sender)
{
    private readonly List<Waiter> _waiters = [];
    private readonly ConcurrentQueue<CapturedExchange> _notifications = new();
    private int _pending;
    private int _dispatching;

    /// <summary>Where a handler's failure is logged (at Debug).</summary>
    public ILogger Logger { get; set; } = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

    /// <summary>The store's <see cref="CaptureStore.ExchangeCaptured"/> subscribers (the store's event forwards here).</summary>
    public event EventHandler<CapturedExchange>? ExchangeCaptured;

    /// <summary>
    /// A waiter for the first exchange after <paramref name="afterId"/> that satisfies <paramref name="predicate"/>.
    /// The store calls it under its own lock, so that no exchange is stored between reading its last id and this.
    /// </summary>
    public Task<CapturedExchange> Wait(Func<CapturedExchange, bool> predicate, long afterId, CancellationToken cancellationToken)
    {
        var waiter = new Waiter(predicate, afterId);
        lock (_waiters)
        {
            _waiters.Add(waiter);
        }
        if (cancellationToken.CanBeCanceled)
        {
            waiter.Registration = cancellationToken.Register(
                static state =>
                {
                    var (notifier, w, token) = ((CaptureNotifier, Waiter, CancellationToken))state!;
                    notifier.Remove(w);
                    w.Completion.TrySetCanceled(token);
                },
                (this, waiter, cancellationToken));
        }
        return waiter.Completion.Task;
    }

    /// <summary>Queues <paramref name="stored"/> for the subscribers and waiters (nothing when there are none).</summary>
    public void Notify(CapturedExchange stored)
    {
        if (ExchangeCaptured is null)
        {
            lock (_waiters)
            {
                if (_waiters.Count == 0)
                {
                    return;
                }
            }
        }
        if (Interlocked.Increment(ref _pending) > CaptureStore.MaxPendingNotifications)
        {
            Interlocked.Decrement(ref _pending);
            TunnelMetrics.LimitReached("capture_notifications");
            return;
        }
        _notifications.Enqueue(stored);
        if (Interlocked.CompareExchange(ref _dispatching, 1, 0) == 0)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static notifier => notifier.Dispatch(), this, preferLocal: false);
        }
    }

    private void Remove(Waiter waiter)
    {
        lock (_waiters)
        {
            _waiters.Remove(waiter);
        }
    }

    private void Dispatch()
    {
        while (true)
        {
            while (_notifications.TryDequeue(out var exchange))
            {
                Interlocked.Decrement(ref _pending);
                Deliver(exchange);
            }
            Volatile.Write(ref _dispatching, 0);
            if (_notifications.IsEmpty || Interlocked.CompareExchange(ref _dispatching, 1, 0) != 0)
            {
                return;
            }
        }
    }

    private void Deliver(CapturedExchange exchange)
    {
        if (ExchangeCaptured is { } handlers)
        {
            foreach (var single in handlers.GetInvocationList())
            {
                try
                {
                    ((EventHandler<CapturedExchange>)single)(sender, exchange);
                }
#pragma warning disable CA1031 // A subscriber's failure must not stop capture or other subscribers.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    CaptureLog.SubscriberFailed(Logger, exchange.Id, ex.Message);
                }
            }
        }
        Waiter[] waiters;
        lock (_waiters)
        {
            if (_waiters.Count == 0)
            {
                return;
            }
            waiters = _waiters.ToArray();
        }
        foreach (var waiter in waiters)
        {
            if (exchange.Id > waiter.AfterId && !waiter.Completion.Task.IsCompleted)
            {
                Offer(waiter, exchange);
            }
        }
    }

    /// <summary>Completes <paramref name="waiter"/> when <paramref name="exchange"/> matches, or with its predicate's exception.</summary>
    private void Offer(Waiter waiter, CapturedExchange exchange)
    {
        bool match;
        try
        {
            match = waiter.Predicate(exchange);
        }
#pragma warning disable CA1031 // The predicate's exception is handed to the waiter.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Remove(waiter);
            waiter.Registration.Dispose();
            waiter.Completion.TrySetException(ex);
            return;
        }
        if (match)
        {
            Remove(waiter);
            waiter.Registration.Dispose();
            waiter.Completion.TrySetResult(exchange);
        }
    }

    private sealed class Waiter(Func<CapturedExchange, bool> predicate, long afterId)
    {
        public Func<CapturedExchange, bool> Predicate { get; } = predicate;

        public TaskCompletionSource<CapturedExchange> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public long AfterId { get; } = afterId;

        public CancellationTokenRegistration Registration { get; set; }
    }
}
