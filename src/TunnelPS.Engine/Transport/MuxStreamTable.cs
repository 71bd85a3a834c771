using System.Collections.Concurrent;

namespace TunnelPS.Engine.Transport;

/// <summary>
/// The streams open on one <see cref="MuxLink"/>, by id, and their count against the link's cap. Opening reserves a
/// place first (<see cref="TryReserve"/>), so the cap holds however many threads open at once; every way a stream ends
/// (Fin both ways, a Reset either way, the link closing) gives its place back exactly once.
/// </summary>
internal sealed class MuxStreamTable(int maxStreams)
{
    private readonly ConcurrentDictionary<uint, MuxStream> _streams = new();
    private int _count;
    private uint _nextId;

    /// <summary>The most streams open at once.</summary>
    public int MaxStreams { get; } = maxStreams;

    /// <summary>Streams open (or reserved) now.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>True when the table holds its most streams.</summary>
    public bool IsFull => Count >= MaxStreams;

    /// <summary>Takes a place for a new stream; false (nothing taken) when the table is full.</summary>
    public bool TryReserve()
    {
        if (Interlocked.Increment(ref _count) > MaxStreams)
        {
            Interlocked.Decrement(ref _count);
            return false;
        }
        return true;
    }

    /// <summary>The id of the next stream this side opens.</summary>
    public uint NextId() => Interlocked.Increment(ref _nextId);

    /// <summary>Adds a stream whose place was reserved.</summary>
    public void Add(MuxStream stream) => _streams[stream.Id] = stream;

    public bool Contains(uint id) => _streams.ContainsKey(id);

    public bool TryGet(uint id, out MuxStream stream) => _streams.TryGetValue(id, out stream!);

    /// <summary>Removes the stream with <paramref name="id"/> and gives its place back; false when it is not here.</summary>
    public bool TryRemove(uint id, out MuxStream? stream)
    {
        if (_streams.TryRemove(id, out stream))
        {
            Interlocked.Decrement(ref _count);
            return true;
        }
        return false;
    }

    /// <summary>Removes this very stream (not another one that reuses its id) and gives its place back.</summary>
    public void Forget(MuxStream stream)
    {
        if (_streams.TryRemove(new KeyValuePair<uint, MuxStream>(stream.Id, stream)))
        {
            Interlocked.Decrement(ref _count);
        }
    }

    /// <summary>Resets every stream (the link closed) and empties the table.</summary>
    public void ResetAll(string reason)
    {
        foreach (var (_, stream) in _streams)
        {
            stream.ResetByPeer(reason);
        }
        _streams.Clear();
        Volatile.Write(ref _count, 0);
    }
}
