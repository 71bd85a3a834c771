using Microsoft.Extensions.Logging;

namespace TunnelPS.Engine.Inspection;

/// <summary>
/// A thread-safe, bounded ring of the newest captured exchanges. Adding is O(1) and never blocks on subscribers:
/// <see cref="ExchangeCaptured"/> and <see cref="WaitAsync"/> are served in order on a thread-pool thread, so a slow
/// handler cannot slow a tunnel. Two bounds hold at once: at most <see cref="Capacity"/> exchanges, and at most
/// <see cref="MaxBytes"/> bytes held (heads and bodies, <see cref="HeldBytes"/>); the oldest exchanges are evicted to
/// keep both (the newest one is always kept), counted in <see cref="Dropped"/> and <see cref="DroppedBytes"/>. Bodies the
/// capture tap recorded live in pooled chunks that eviction and <see cref="Clear"/> give back.
/// </summary>
public sealed class CaptureStore
{
    /// <summary>The default number of exchanges kept.</summary>
    public const int DefaultCapacity = 1000;

    /// <summary>The default cap on each captured body: 1 MiB.</summary>
    public const int DefaultMaxBodySize = 1024 * 1024;

    /// <summary>The default budget of bytes held: 64 MiB.</summary>
    public const long DefaultMaxBytes = 64L * 1024 * 1024;

    /// <summary>Notifications queued for subscribers beyond this many are dropped (and counted).</summary>
    public const int MaxPendingNotifications = 10_000;

    private readonly object _lock = new();
    private readonly CaptureNotifier _notifier;
    private readonly ExchangeRing _ring;
    private long _lastId;

    // Ids come from one process-wide sequence, so an id names one exchange across every tunnel's store.
    private static long s_ids;
    private long _dropped;
    private long _droppedBytes;
    private long _heldBytes;
    private long _maxBytes = DefaultMaxBytes;
    private int _maxBodySize = DefaultMaxBodySize;
    private CaptureBudget? _budget;

    public CaptureStore()
        : this(DefaultCapacity)
    {
    }

    public CaptureStore(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _ring = new ExchangeRing(capacity);
        _notifier = new CaptureNotifier(this);
    }

    /// <summary>Raised once per stored exchange, in id order, on a thread-pool thread. A handler's exception is logged at Debug.</summary>
    public event EventHandler<CapturedExchange>? ExchangeCaptured
    {
        add => _notifier.ExchangeCaptured += value;
        remove => _notifier.ExchangeCaptured -= value;
    }

    /// <summary>Where the store logs what it handles itself (a subscriber that throws, at Debug).</summary>
    internal ILogger Logger
    {
        get => _notifier.Logger;
        init => _notifier.Logger = value;
    }

    /// <summary>How many exchanges are kept; lowering it evicts the oldest.</summary>
    public int Capacity
    {
        get
        {
            lock (_lock)
            {
                return _ring.Capacity;
            }
        }
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            List<CapturedExchange> evicted;
            lock (_lock)
            {
                evicted = [];
                while (_ring.Count > value)
                {
                    evicted.Add(EvictOldestLocked());
                }
                _ring.Resize(value);
            }
            Release(evicted);
        }
    }

    /// <summary>The most bytes held (heads and bodies, as rented); lowering it evicts the oldest exchanges. The newest exchange is kept even when it alone is larger.</summary>
    public long MaxBytes
    {
        get => Interlocked.Read(ref _maxBytes);
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            List<CapturedExchange> evicted = [];
            lock (_lock)
            {
                _maxBytes = value;
                EvictOverBudgetLocked(evicted);
            }
            Release(evicted);
        }
    }

    /// <summary>The bytes the exchanges held now take (heads and bodies, as rented).</summary>
    public long HeldBytes => Interlocked.Read(ref _heldBytes);

    /// <summary>
    /// A budget this store shares with others (every tunnel of a PowerShell session), or null: together they hold at
    /// most the largest of their <see cref="MaxBytes"/>, the oldest exchange of all going first.
    /// </summary>
    public CaptureBudget? Budget
    {
        get => Volatile.Read(ref _budget);
        set
        {
            var previous = Interlocked.Exchange(ref _budget, value);
            if (ReferenceEquals(previous, value))
            {
                return;
            }
            previous?.Detach(this);
            value?.Attach(this);
        }
    }

    /// <summary>
    /// Whether this store's <see cref="MaxBytes"/> counts towards the limit of a shared <see cref="Budget"/> (true, the
    /// tunnels' stores); false for a store that only takes part in it (imported requests), which keeps within the
    /// tunnels' limit without raising it.
    /// </summary>
    public bool WidensBudget { get; init; } = true;

    /// <summary>The id of the oldest exchange held (long.MaxValue when empty).</summary>
    internal long OldestId
    {
        get
        {
            lock (_lock)
            {
                return _ring.Count == 0 ? long.MaxValue : _ring.Oldest.Id;
            }
        }
    }

    /// <summary>Evicts the oldest exchange for a shared budget (counted as dropped); false when empty.</summary>
    internal bool EvictOldest()
    {
        CapturedExchange evicted;
        lock (_lock)
        {
            if (_ring.Count == 0)
            {
                return false;
            }
            evicted = EvictOldestLocked();
        }
        evicted.ReleaseBodies();
        return true;
    }

    /// <summary>The bytes of the exchanges evicted so far (by <see cref="Capacity"/> or <see cref="MaxBytes"/>; not by <see cref="Clear"/>).</summary>
    public long DroppedBytes => Interlocked.Read(ref _droppedBytes);

    /// <summary>The most bytes of each body (request and response separately) a tap captures; the rest is counted only.</summary>
    public int MaxBodySize
    {
        get => Volatile.Read(ref _maxBodySize);
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            Volatile.Write(ref _maxBodySize, value);
        }
    }

    /// <summary>The number of exchanges held.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _ring.Count;
            }
        }
    }

    /// <summary>Exchanges evicted to keep within <see cref="Capacity"/> or <see cref="MaxBytes"/> (not those <see cref="Clear"/> removed).</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>The id the most recently added exchange received (0 if none yet).</summary>
    public long LastId
    {
        get
        {
            lock (_lock)
            {
                return _lastId;
            }
        }
    }

    /// <summary>Stores a copy of <paramref name="exchange"/> under the next id and returns the copy (which carries the id).</summary>
    public CapturedExchange Add(CapturedExchange exchange)
    {
        ArgumentNullException.ThrowIfNull(exchange);
        return Store(exchange.Copy());
    }

    /// <summary>
    /// Stores <paramref name="exchange"/> itself under the next id: for an exchange made to be stored, which no one
    /// else holds yet (the capture tap's, a replay's). Returns it.
    /// </summary>
    internal CapturedExchange AddOwned(CapturedExchange exchange)
    {
        ArgumentNullException.ThrowIfNull(exchange);
        return Store(exchange);
    }

    /// <summary>
    /// Moves every exchange <paramref name="previous"/> holds into this store, each with its id and bodies, in id
    /// order among this store's own (a tunnel started again takes over the captures of its earlier run);
    /// <paramref name="previous"/> is left empty. This store's bounds hold: when together they are more than its
    /// <see cref="Capacity"/> or <see cref="MaxBytes"/>, the oldest go, counted in <see cref="Dropped"/>. Subscribers
    /// and waiters are not told: the adopted exchanges are not new.
    /// </summary>
    public void Adopt(CaptureStore previous)
    {
        ArgumentNullException.ThrowIfNull(previous);
        if (ReferenceEquals(previous, this))
        {
            return;
        }
        // Taken under the previous store's lock alone, then merged under this one's: never both locks at once.
        List<CapturedExchange> taken = previous.TakeAll();
        if (taken.Count == 0)
        {
            return;
        }
        List<CapturedExchange> evicted = [];
        lock (_lock)
        {
            var merged = _ring.MergeOut(taken);
            var excess = Math.Max(0, merged.Count - _ring.Capacity);
            long held = 0;
            for (var i = 0; i < merged.Count; i++)
            {
                var exchange = merged[i];
                if (i < excess)
                {
                    evicted.Add(exchange);
                    Interlocked.Increment(ref _dropped);
                    Interlocked.Add(ref _droppedBytes, exchange.StoredBytes);
                    continue;
                }
                _ring.Add(exchange);
                held += exchange.StoredBytes;
            }
            _lastId = Math.Max(_lastId, merged[^1].Id);
            Interlocked.Exchange(ref _heldBytes, held);
            EvictOverBudgetLocked(evicted);
        }
        Release(evicted);
        if (Volatile.Read(ref _budget) is { } budget)
        {
            budget.Enforce();
        }
    }

    /// <summary>Removes every exchange without giving their bodies back: they move to another store (<see cref="Adopt"/>).</summary>
    private List<CapturedExchange> TakeAll()
    {
        lock (_lock)
        {
            var taken = _ring.TakeAll();
            Interlocked.Exchange(ref _heldBytes, 0);
            return taken;
        }
    }

    private CapturedExchange Store(CapturedExchange exchange)
    {
        exchange.StoredBytes = exchange.RetainedBytes;
        // The common case, a full ring, evicts one: no list for it (this path runs once per captured exchange).
        CapturedExchange? evictedOne = null;
        List<CapturedExchange>? evicted = null;
        lock (_lock)
        {
            _lastId = Interlocked.Increment(ref s_ids);
            exchange.AssignId(_lastId);
            if (_ring.IsFull)
            {
                evictedOne = EvictOldestLocked();
            }
            _ring.Add(exchange);
            Interlocked.Add(ref _heldBytes, exchange.StoredBytes);
            if (_heldBytes > _maxBytes)
            {
                EvictOverBudgetLocked(evicted = []);
            }
        }
        evictedOne?.ReleaseBodies();
        if (evicted is not null)
        {
            Release(evicted);
        }
        if (Volatile.Read(ref _budget) is { } budget && exchange.StoredBytes > 0)
        {
            budget.Enforce();
        }
        _notifier.Notify(exchange);
        return exchange;
    }

    /// <summary>Evicts the oldest exchanges while more than <see cref="MaxBytes"/> are held, keeping the newest.</summary>
    private void EvictOverBudgetLocked(List<CapturedExchange> evicted)
    {
        while (_ring.Count > 1 && _heldBytes > _maxBytes)
        {
            evicted.Add(EvictOldestLocked());
        }
    }

    private CapturedExchange EvictOldestLocked()
    {
        var oldest = _ring.RemoveOldest();
        Interlocked.Add(ref _heldBytes, -oldest.StoredBytes);
        Interlocked.Increment(ref _dropped);
        Interlocked.Add(ref _droppedBytes, oldest.StoredBytes);
        return oldest;
    }

    /// <summary>Gives back the pooled bodies of exchanges no longer held (outside the lock: readers of a body wait on it).</summary>
    private static void Release(List<CapturedExchange> evicted)
    {
        foreach (var exchange in evicted)
        {
            exchange.ReleaseBodies();
        }
    }

    /// <summary>The exchange with <paramref name="id"/>, or null if it was never stored or has been evicted.</summary>
    public CapturedExchange? Get(long id)
    {
        lock (_lock)
        {
            return _ring.Find(id);
        }
    }

    /// <summary>The exchanges held, oldest first (newest last).</summary>
    public IReadOnlyList<CapturedExchange> Snapshot()
    {
        lock (_lock)
        {
            return _ring.ToArray();
        }
    }

    /// <summary>Removes every exchange and gives their pooled bodies back; ids keep increasing afterwards.</summary>
    public void Clear()
    {
        List<CapturedExchange> removed;
        lock (_lock)
        {
            removed = _ring.TakeAll();
            Interlocked.Exchange(ref _heldBytes, 0);
        }
        Release(removed);
    }

    /// <summary>
    /// Completes with the first exchange stored after this call that satisfies <paramref name="predicate"/> (older
    /// exchanges are not considered). The predicate runs on the notification thread; if it throws, the task faults.
    /// </summary>
    public Task<CapturedExchange> WaitAsync(Func<CapturedExchange, bool> predicate, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<CapturedExchange>(cancellationToken);
        }
        lock (_lock)
        {
            // Under the store's lock: no exchange is stored between reading the last id and the waiter's start.
            return _notifier.Wait(predicate, _lastId, cancellationToken);
        }
    }
}
