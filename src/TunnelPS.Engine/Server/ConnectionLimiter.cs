using System.Net;

namespace TunnelPS.Engine.Server;

/// <summary>
/// Counts the connections a server holds, in total and per client address, and refuses one beyond either limit. A
/// connection that proves it belongs to a logged-in client (its control or a requested proxy connection) stops counting
/// against its address, so a busy client's proxy connections never crowd out its visitors or itself.
/// </summary>
internal sealed class ConnectionLimiter
{
    private readonly object _gate = new();
    private readonly Dictionary<IPAddress, int> _perAddress = [];
    private int _total;

    public ConnectionLimiter(int maxTotal, int maxPerAddress)
    {
        MaxTotal = Math.Max(1, maxTotal);
        MaxPerAddress = Math.Max(1, maxPerAddress);
    }

    public int MaxTotal { get; }
    public int MaxPerAddress { get; }

    /// <summary>Connections held now.</summary>
    public int Total => Volatile.Read(ref _total);

    /// <summary>Connections held now by one address (counted ones only).</summary>
    public int CountOf(IPAddress address)
    {
        lock (_gate)
        {
            return _perAddress.TryGetValue(Normalize(address), out var n) ? n : 0;
        }
    }

    /// <summary>
    /// Takes a slot for a new connection from <paramref name="address"/>, or says which limit refused it. A visitor
    /// connection another node forwarded here (<paramref name="forwarded"/>) counts against its address only: it is a
    /// stream of a link, not a socket of this node's.
    /// </summary>
    public ConnectionSlot? TryAcquire(IPAddress? address, out LimitRefusal refusal, bool forwarded = false)
    {
        var key = address is null ? IPAddress.None : Normalize(address);
        lock (_gate)
        {
            if (!forwarded && _total >= MaxTotal)
            {
                refusal = LimitRefusal.Total;
                return null;
            }
            _perAddress.TryGetValue(key, out var count);
            if (count >= MaxPerAddress)
            {
                refusal = LimitRefusal.PerAddress;
                return null;
            }
            _perAddress[key] = count + 1;
            if (!forwarded)
            {
                _total++;
            }
        }
        refusal = LimitRefusal.None;
        return new ConnectionSlot(this, key, countsTotal: !forwarded);
    }

    private void ReleaseAddress(IPAddress key)
    {
        lock (_gate)
        {
            if (_perAddress.TryGetValue(key, out var count))
            {
                if (count <= 1)
                {
                    _perAddress.Remove(key);
                }
                else
                {
                    _perAddress[key] = count - 1;
                }
            }
        }
    }

    private void ReleaseTotal()
    {
        lock (_gate)
        {
            _total--;
        }
    }

    private static IPAddress Normalize(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

    /// <summary>One connection's place in the counts; released once, by whoever ends the connection.</summary>
    internal sealed class ConnectionSlot
    {
        private readonly ConnectionLimiter _owner;
        private readonly IPAddress _address;
        private int _addressCounted = 1;
        private int _held = 1;
        private int _handedOff;
        private readonly bool _countsTotal;

        public ConnectionSlot(ConnectionLimiter owner, IPAddress address, bool countsTotal = true)
        {
            _owner = owner;
            _address = address;
            _countsTotal = countsTotal;
        }

        /// <summary>The connection proved it belongs to a logged-in client: it no longer counts against its address.</summary>
        public void Authenticated()
        {
            if (Interlocked.Exchange(ref _addressCounted, 0) == 1)
            {
                _owner.ReleaseAddress(_address);
            }
        }

        /// <summary>
        /// The connection outlives the handler that accepted it (a pooled proxy connection): the listener will not
        /// release the slot; whoever owns the connection now calls <see cref="Release"/> when it closes.
        /// </summary>
        public void HandOff() => Volatile.Write(ref _handedOff, 1);

        /// <summary>Called by the listener when its handler returns.</summary>
        public void ReleaseUnlessHandedOff()
        {
            if (Volatile.Read(ref _handedOff) == 0)
            {
                Release();
            }
        }

        public void Release()
        {
            if (Interlocked.Exchange(ref _held, 0) == 1)
            {
                Authenticated();
                if (_countsTotal)
                {
                    _owner.ReleaseTotal();
                }
            }
        }
    }
}

/// <summary>Which limit refused a connection.</summary>
internal enum LimitRefusal
{
    None,
    Total,
    PerAddress,
}
