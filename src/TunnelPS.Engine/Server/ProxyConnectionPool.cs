using System.Buffers;
using System.Threading.Channels;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Server;

/// <summary>
/// The idle proxy connections one client has dialled in advance, so a visitor costs zero round trips. Each idle
/// connection has a zero-byte read in flight so one the client closed is discarded instead of given to a visitor; connections
/// older than the recycle age are replaced before middleboxes or the peer age them out.
/// <para>
/// Every ReqProxy the server sends is a ticket: a proxy connection is taken into the pool only against an outstanding
/// ticket, so nobody can push unrequested connections in (and have visitors handed to them). A ticket the client never
/// answers (a failed dial, a lost ReqProxy) lapses after the dial timeout, so the pool asks again instead of waiting
/// for it forever.
/// </para>
/// </summary>
internal sealed class ProxyConnectionPool : IDisposable
{
    /// <summary>The most tickets one session may have outstanding (each waiting visitor asks for one).</summary>
    public const int MaxOutstanding = 1024;

    private readonly Channel<PooledConnection> _idle;
    private readonly Action _requestOne;
    private readonly Action<Exception>? _fillFailed;
    private readonly TimeProvider _time;
    private readonly TimeSpan _recycleAge;
    private readonly TimeSpan _ticketLifetime;
    private readonly int _targetSize;
    private readonly Queue<long> _tickets = new();
    private int _disposed;
    private readonly ITimer _deferredFill;

    /// <summary>
    /// How long a replacement waits while other idle connections remain: the new connection's TLS handshake then
    /// does not compete for the CPU with the visitor that just took one. An empty pool asks at once.
    /// </summary>
    public static readonly TimeSpan ReplacementDelay = TimeSpan.FromMilliseconds(20);

    /// <param name="fillFailed">Told why a fill from the timer failed (the session logs it); the next fill asks again.</param>
    public ProxyConnectionPool(int targetSize, TimeSpan recycleAge, TimeSpan ticketLifetime, TimeProvider time, Action requestOne, Action<Exception>? fillFailed = null)
    {
        _fillFailed = fillFailed;
        _targetSize = Math.Max(1, targetSize);
        _recycleAge = recycleAge;
        _ticketLifetime = ticketLifetime;
        _time = time;
        _requestOne = requestOne;
        _deferredFill = time.CreateTimer(static state => ((ProxyConnectionPool)state!).FillFromTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _idle = Channel.CreateBounded<PooledConnection>(new BoundedChannelOptions(Math.Max(64, _targetSize * 4))
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = false,
            SingleWriter = false,
        });
    }

    /// <summary>Idle connections ready now.</summary>
    public int IdleCount => _idle.Reader.Count;

    /// <summary>Connections asked for, not yet arrived and not lapsed.</summary>
    public int OutstandingCount
    {
        get
        {
            lock (_tickets)
            {
                DropLapsedLocked();
                return _tickets.Count;
            }
        }
    }

    /// <summary>Asks for connections until idle + outstanding reaches the target size.</summary>
    public void Fill()
    {
        while (Volatile.Read(ref _disposed) == 0 && IdleCount + OutstandingCount < _targetSize)
        {
            if (!Request())
            {
                return;
            }
        }
    }

    private void FillFromTimer()
    {
        try
        {
            Fill();
        }
#pragma warning disable CA1031 // A timer callback must never throw: that would end the host process.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            _fillFailed?.Invoke(ex);
        }
    }

    /// <summary>Issues a ticket and asks the client for one connection; false when the session has its most outstanding.</summary>
    private bool Request()
    {
        lock (_tickets)
        {
            DropLapsedLocked();
            if (_tickets.Count >= MaxOutstanding)
            {
                return false;
            }
            _tickets.Enqueue(_time.GetTimestamp());
        }
        _requestOne();
        return true;
    }

    private void DropLapsedLocked()
    {
        while (_tickets.Count > 0 && _time.GetElapsedTime(_tickets.Peek()) >= _ticketLifetime)
        {
            _tickets.Dequeue();
        }
    }

    /// <summary>Takes one outstanding ticket for an arriving proxy connection; false when none was asked for.</summary>
    public bool TryRedeemTicket()
    {
        lock (_tickets)
        {
            DropLapsedLocked();
            return _tickets.TryDequeue(out _);
        }
    }

    /// <summary>
    /// Adds a proxy connection whose ticket was redeemed (after its RegProxy); <paramref name="onClosed"/> runs once
    /// when the connection is closed, in the pool or after a visitor used it.
    /// </summary>
    public void Offer(Stream stream, Action? onClosed = null)
    {
        // A zero-byte read watches the idle connection without holding a buffer: it ends when the client closes it (or
        // sends out of turn), and such a connection is never given to a visitor.
        var pending = stream.ReadAsync(Memory<byte>.Empty).AsTask();
        var pooled = new PooledConnection(stream, pending, _time.GetUtcNow(), onClosed);
        if (Volatile.Read(ref _disposed) != 0 || !_idle.Writer.TryWrite(pooled))
        {
            pooled.Dispose();
        }
    }

    /// <summary>
    /// Takes a live idle connection (and asks for its replacement), waiting up to <paramref name="timeout"/> for one
    /// when the pool is empty. Returns null on timeout.
    /// </summary>
    public async Task<Stream?> TakeAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = new CancellationTokenSource(timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        var askedForThisVisitor = false;
        while (true)
        {
            while (_idle.Reader.TryRead(out var candidate))
            {
                if (candidate.Pending.IsCompleted || _time.GetUtcNow() - candidate.Since > _recycleAge + _recycleAge)
                {
                    // Closed by the client (or it sent bytes out of turn), or far too old: never hand it to a visitor.
                    candidate.Dispose();
                    continue;
                }
                if (_idle.Reader.Count > 0)
                {
                    _deferredFill.Change(ReplacementDelay, Timeout.InfiniteTimeSpan);
                }
                else
                {
                    Request();
                }
                return candidate.Open();
            }
            if (!askedForThisVisitor)
            {
                askedForThisVisitor = true;
                Request();
            }
            try
            {
                if (!await _idle.Reader.WaitToReadAsync(linked.Token).ConfigureAwait(false))
                {
                    return null;
                }
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return null;
            }
        }
    }

    /// <summary>Replaces idle connections older than the recycle age, drops dead ones and any beyond the target size; keeps the target size up.</summary>
    public void Recycle()
    {
        var now = _time.GetUtcNow();
        var count = _idle.Reader.Count;
        // A burst can leave more idle connections than the target (each waiting visitor asked for one): the
        // oldest beyond the target are closed here too.
        var surplus = count - _targetSize;
        for (var i = 0; i < count && _idle.Reader.TryRead(out var pooled); i++)
        {
            if (i < surplus || pooled.Pending.IsCompleted || now - pooled.Since >= _recycleAge)
            {
                pooled.Dispose();
                continue;
            }
            if (!_idle.Writer.TryWrite(pooled))
            {
                pooled.Dispose();
            }
        }
        Fill();
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _deferredFill.Dispose();
        _idle.Writer.TryComplete();
        while (_idle.Reader.TryRead(out var pooled))
        {
            pooled.Dispose();
        }
    }

    private sealed class PooledConnection(Stream stream, Task<int> pending, DateTimeOffset since, Action? onClosed)
    {
        public Task<int> Pending => pending;
        public DateTimeOffset Since => since;

        public Stream Open() => new PendingReadStream(stream, pending, onClosed);

        public void Dispose()
        {
            stream.Dispose();
            onClosed?.Invoke();
            // The in-flight read ends with the stream; observe it so its exception is never unobserved.
            _ = pending.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }
}
