namespace TunnelPS.Engine.Inspection;

/// <summary>
/// One memory budget shared by several capture stores (every tunnel of a PowerShell session): together they hold at
/// most the largest <see cref="CaptureStore.MaxBytes"/> among them (among those that widen it: imported requests join
/// the budget without widening it), and when they hold more, the oldest exchange of
/// all of them goes first (ids are one process-wide sequence). The newest exchange is always kept. Each store still
/// keeps within its own <see cref="CaptureStore.MaxBytes"/> and capacity.
/// </summary>
public sealed class CaptureBudget
{
    private readonly object _gate = new();
    // Replaced whole under _gate, read without it: every captured exchange checks the budget, and only one over it
    // takes the lock.
    private CaptureStore[] _stores = [];

    /// <summary>The stores that share the budget now.</summary>
    public IReadOnlyList<CaptureStore> Stores => Volatile.Read(ref _stores);

    /// <summary>The most bytes the stores hold together: the largest budget among them (0 without stores).</summary>
    public long Limit => LimitOf(Volatile.Read(ref _stores));

    /// <summary>The bytes the stores hold together now.</summary>
    public long HeldBytes => HeldBy(Volatile.Read(ref _stores));

    internal void Attach(CaptureStore store)
    {
        lock (_gate)
        {
            if (!_stores.Contains(store))
            {
                Volatile.Write(ref _stores, [.. _stores, store]);
            }
        }
        Enforce();
    }

    internal void Detach(CaptureStore store)
    {
        lock (_gate)
        {
            Volatile.Write(ref _stores, [.. _stores.Where(s => !ReferenceEquals(s, store))]);
        }
    }

    /// <summary>Evicts the oldest exchanges across the stores while together they hold more than <see cref="Limit"/>.</summary>
    internal void Enforce()
    {
        var stores = Volatile.Read(ref _stores);
        if (stores.Length < 2 || HeldBy(stores) <= LimitOf(stores))
        {
            return;   // a lone store keeps its own budget already; within the budget there is nothing to do
        }
        // One enforcer at a time; each eviction takes only its own store's lock, never two at once.
        lock (_gate)
        {
            stores = _stores;
            var limit = LimitOf(stores);
            while (HeldBy(stores) > limit && stores.Sum(s => s.Count) > 1)
            {
                CaptureStore? oldest = null;
                var oldestId = long.MaxValue;
                foreach (var store in stores)
                {
                    var id = store.OldestId;
                    if (id < oldestId)
                    {
                        oldest = store;
                        oldestId = id;
                    }
                }
                if (oldest is null || !oldest.EvictOldest())
                {
                    return;
                }
            }
        }
    }

    /// <summary>The largest budget among the stores that widen it (<see cref="CaptureStore.WidensBudget"/>), else among all.</summary>
    private static long LimitOf(CaptureStore[] stores)
    {
        long widening = 0, any = 0;
        foreach (var store in stores)
        {
            var max = store.MaxBytes;
            any = Math.Max(any, max);
            if (store.WidensBudget)
            {
                widening = Math.Max(widening, max);
            }
        }
        return widening > 0 ? widening : any;
    }

    private static long HeldBy(CaptureStore[] stores)
    {
        long held = 0;
        foreach (var store in stores)
        {
            held += store.HeldBytes;
        }
        return held;
    }
}
