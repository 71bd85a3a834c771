namespace TunnelPS.Engine.Inspection;

/// <summary>
/// One memory budget shared by several capture stores (every tunnel of a PowerShell session): together they hold at
/// most the largest <see cref="CaptureStore.MaxBytes"/> among them, and when they hold more, the oldest exchange of
/// all of them goes first (ids are one process-wide sequence). The newest exchange is always kept. Each store still
/// keeps within its own <see cref="CaptureStore.MaxBytes"/> and capacity.
/// </summary>
public sealed class CaptureBudget
{
    private readonly object _gate = new();
    private readonly List<CaptureStore> _stores = [];

    /// <summary>The stores that share the budget now.</summary>
    public IReadOnlyList<CaptureStore> Stores
    {
        get
        {
            lock (_gate)
            {
                return [.. _stores];
            }
        }
    }

    /// <summary>The most bytes the stores hold together: the largest budget among them (0 without stores).</summary>
    public long Limit
    {
        get
        {
            lock (_gate)
            {
                return _stores.Count == 0 ? 0 : _stores.Max(s => s.MaxBytes);
            }
        }
    }

    /// <summary>The bytes the stores hold together now.</summary>
    public long HeldBytes
    {
        get
        {
            lock (_gate)
            {
                return _stores.Sum(s => s.HeldBytes);
            }
        }
    }

    internal void Attach(CaptureStore store)
    {
        lock (_gate)
        {
            if (!_stores.Contains(store))
            {
                _stores.Add(store);
            }
        }
        Enforce();
    }

    internal void Detach(CaptureStore store)
    {
        lock (_gate)
        {
            _stores.Remove(store);
        }
    }

    /// <summary>Evicts the oldest exchanges across the stores while together they hold more than <see cref="Limit"/>.</summary>
    internal void Enforce()
    {
        // One enforcer at a time; each eviction takes only its own store's lock, never two at once.
        lock (_gate)
        {
            if (_stores.Count < 2)
            {
                return;   // a lone store keeps its own budget already
            }
            var limit = _stores.Max(s => s.MaxBytes);
            while (_stores.Sum(s => s.HeldBytes) > limit && _stores.Sum(s => s.Count) > 1)
            {
                CaptureStore? oldest = null;
                var oldestId = long.MaxValue;
                foreach (var store in _stores)
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
}
