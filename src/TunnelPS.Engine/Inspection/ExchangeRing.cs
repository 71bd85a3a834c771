namespace TunnelPS.Engine.Inspection;

/// <summary>
/// The ring of exchanges a <see cref="CaptureStore"/> holds, oldest first, with ids increasing along it. Only the
/// ring: no locking, no byte accounting, no eviction policy (the store does all three, under its lock).
/// </summary>
internal sealed class ExchangeRing(int capacity)
{
    private CapturedExchange?[] _items = new CapturedExchange?[capacity];
    private int _start;

    /// <summary>How many exchanges fit.</summary>
    public int Capacity => _items.Length;

    /// <summary>How many exchanges it holds.</summary>
    public int Count { get; private set; }

    public bool IsFull => Count == _items.Length;

    /// <summary>The oldest exchange; the ring must not be empty.</summary>
    public CapturedExchange Oldest => _items[_start]!;

    /// <summary>The <paramref name="index"/>-th exchange, oldest first.</summary>
    public CapturedExchange this[int index] => _items[(_start + index) % _items.Length]!;

    /// <summary>Appends the newest exchange; the ring must not be full.</summary>
    public void Add(CapturedExchange exchange)
    {
        _items[(_start + Count) % _items.Length] = exchange;
        Count++;
    }

    /// <summary>Removes and returns the oldest exchange; the ring must not be empty.</summary>
    public CapturedExchange RemoveOldest()
    {
        var oldest = _items[_start]!;
        _items[_start] = null;
        _start = (_start + 1) % _items.Length;
        Count--;
        return oldest;
    }

    /// <summary>Gives the ring a new capacity, keeping its exchanges; the caller removed those that would not fit.</summary>
    public void Resize(int newCapacity)
    {
        var items = new CapturedExchange?[newCapacity];
        for (var i = 0; i < Count; i++)
        {
            items[i] = this[i];
        }
        _items = items;
        _start = 0;
    }

    /// <summary>The exchange with <paramref name="id"/>, or null (ids increase along the ring: a binary search).</summary>
    public CapturedExchange? Find(long id)
    {
        int low = 0, high = Count - 1;
        while (low <= high)
        {
            var middle = low + ((high - low) / 2);
            var candidate = this[middle];
            if (candidate.Id == id)
            {
                return candidate;
            }
            if (candidate.Id < id)
            {
                low = middle + 1;
            }
            else
            {
                high = middle - 1;
            }
        }
        return null;
    }

    /// <summary>The exchanges, oldest first.</summary>
    public CapturedExchange[] ToArray()
    {
        var result = new CapturedExchange[Count];
        for (var i = 0; i < Count; i++)
        {
            result[i] = this[i];
        }
        return result;
    }

    /// <summary>Empties the ring and returns what it held, oldest first.</summary>
    public List<CapturedExchange> TakeAll()
    {
        var taken = new List<CapturedExchange>(ToArray());
        Array.Clear(_items);
        _start = 0;
        Count = 0;
        return taken;
    }

    /// <summary>The ring's exchanges and <paramref name="others"/> (in id order) as one list in id order: the ring is emptied.</summary>
    public List<CapturedExchange> MergeOut(List<CapturedExchange> others)
    {
        var own = TakeAll();
        var merged = new List<CapturedExchange>(own.Count + others.Count);
        int mine = 0, theirs = 0;
        while (mine < own.Count || theirs < others.Count)
        {
            if (mine < own.Count && (theirs == others.Count || own[mine].Id < others[theirs].Id))
            {
                merged.Add(own[mine++]);
            }
            else
            {
                merged.Add(others[theirs++]);
            }
        }
        return merged;
    }
}
