using System.Buffers;
using System.Runtime.CompilerServices;
using TunnelPS.Engine.Http;

namespace TunnelPS.Engine.Server;

/// <summary>
/// Reads a public connection's requests: owns the pooled buffer of the visitor's bytes, the current request's head
/// (scanned in place into <see cref="Request"/>) and the head deadline's start. A request head must be complete within
/// the head timeout of its first byte however it trickles; between requests the reader waits with a zero-byte read
/// and holds no pooled buffer, so an idle keep-alive connection costs little. Only the connection's main loop calls
/// it; the deadline timer reads <see cref="HeadStarted"/>.
/// </summary>
internal sealed class VisitorRequestReader : IDisposable
{
    private const int InitialBufferSize = 16 * 1024;

    private readonly VisitorChannel _visitor;
    private readonly TimeProvider _time;
    private byte[] _buffer;
    private int _start;
    private int _end;
    private int _headStart;
    private long _headStarted;

    /// <param name="headStarted">When the first head's deadline started (a TimeProvider timestamp): the connection's acceptance.</param>
    public VisitorRequestReader(VisitorChannel visitor, TimeProvider time, long headStarted)
    {
        _visitor = visitor;
        _time = time;
        _headStarted = headStarted;
        _buffer = ArrayPool<byte>.Shared.Rent(InitialBufferSize);
    }

    /// <summary>The current request, scanned from <see cref="Head"/>.</summary>
    public ForwardedRequest Request { get; } = new();

    /// <summary>When the head being read began to arrive (a TimeProvider timestamp); 0 when no head is being read.</summary>
    public long HeadStarted => Interlocked.Read(ref _headStarted);

    /// <summary>The current request's head in the buffer.</summary>
    public ReadOnlySpan<byte> Head => _buffer.AsSpan(_headStart, Request.HeadLength);

    /// <summary>The bytes read after the current head that nobody has consumed yet.</summary>
    public ReadOnlySpan<byte> Buffered => _buffer.AsSpan(_start, _end - _start);

    /// <summary>The first <paramref name="count"/> bytes of <see cref="Buffered"/>.</summary>
    public ReadOnlyMemory<byte> BufferedMemory(int count) => _buffer.AsMemory(_start, count);

    /// <summary>Everything read from the current head on: what a node the connection is forwarded to gets first.</summary>
    public ReadOnlyMemory<byte> FromHead => _buffer.AsMemory(_headStart, _end - _headStart);

    /// <summary>Marks <paramref name="count"/> bytes of <see cref="Buffered"/> consumed.</summary>
    public void Consume(int count) => _start += count;

    /// <summary>Gives the pooled buffer back for good (its bytes consumed): the connection is relayed raw from here on.</summary>
    public void Release()
    {
        _start = _end = 0;
        if (_buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = [];
        }
    }

    /// <summary>Reads until a whole request head is in the buffer and scanned into <see cref="Request"/>; false at end of stream.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<bool> ReadHeadAsync(CancellationToken token)
    {
        if (_end > _start && HeadStarted == 0)
        {
            // Bytes of the next request already arrived with the previous one: its deadline runs from now.
            Interlocked.Exchange(ref _headStarted, _time.GetTimestamp());
        }
        while (true)
        {
            if (_end > _start && Request.TryScan(_buffer.AsSpan(_start, _end - _start)))
            {
                _headStart = _start;
                _start += Request.HeadLength;
                Interlocked.Exchange(ref _headStarted, 0);
                return true;
            }
            if (!await FillAsync(token, waitingForHead: true).ConfigureAwait(false))
            {
                return false;
            }
            if (HeadStarted == 0)
            {
                // The first byte of a head: from now on it must be complete within the head timeout, however it trickles.
                Interlocked.Exchange(ref _headStarted, _time.GetTimestamp());
            }
        }
    }

    /// <summary>
    /// Reads more visitor bytes into the buffer (compacting or growing it); false at end of stream. Between requests
    /// (<paramref name="waitingForHead"/> with nothing buffered) it waits with a zero-byte read first and holds no
    /// pooled buffer meanwhile.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<bool> FillAsync(CancellationToken token, bool waitingForHead = false)
    {
        if (_start == _end)
        {
            _start = _end = 0;
            if (waitingForHead)
            {
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = [];
                await _visitor.Stream.ReadAsync(Memory<byte>.Empty, token).ConfigureAwait(false);
                _buffer = ArrayPool<byte>.Shared.Rent(InitialBufferSize);
            }
        }
        else if (_end == _buffer.Length)
        {
            MakeRoom();
        }
        var read = await _visitor.Stream.ReadAsync(_buffer.AsMemory(_end), token).ConfigureAwait(false);
        if (read == 0)
        {
            return false;
        }
        _visitor.Touch();
        _end += read;
        return true;
    }

    /// <summary>A full buffer: moves its unconsumed bytes to the front, or grows it (up to a head's bound) when they fill it.</summary>
    private void MakeRoom()
    {
        var used = _end - _start;
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, used);
        }
        else
        {
            var larger = ArrayPool<byte>.Shared.Rent(Math.Min(_buffer.Length * 2, HttpHeadParser.MaxHeadLength + InitialBufferSize));
            Buffer.BlockCopy(_buffer, 0, larger, 0, used);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = larger;
        }
        _start = 0;
        _end = used;
    }

    /// <summary>Returns the pooled buffer; only after everything that reads it (the main loop) has ended.</summary>
    public void Dispose() => Release();
}
