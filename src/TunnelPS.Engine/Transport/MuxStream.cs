using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;

namespace TunnelPS.Engine.Transport;

/// <summary>
/// One visitor connection carried on a <see cref="MuxLink"/>. Reading returns the peer's bytes (0 after its Fin),
/// writing sends Data frames within the credit the peer granted (waiting for more when it is used up), shutting down
/// the write side sends Fin, and disposing before both sides finished sends Reset. What the peer sent and the reader has
/// not consumed is held in a pipe bounded by the window; consumed bytes are returned to the peer as credit.
/// </summary>
internal sealed class MuxStream : Stream
{
    private static readonly PipeOptions s_pipeOptions = new(
        readerScheduler: PipeScheduler.Inline,
        writerScheduler: PipeScheduler.Inline,
        pauseWriterThreshold: 0,
        resumeWriterThreshold: 0,
        minimumSegmentSize: 4096,
        useSynchronizationContext: false);

    private readonly MuxLink _link;
    private readonly int _window;
    private readonly Pipe _inbound = new(s_pipeOptions);
    private readonly object _creditGate = new();
    // The pipe's writer side is used by the link's read loop and completed by a reset from any thread: one at a time.
    private readonly object _writerGate = new();
    private int _credit;
    private TaskCompletionSource<bool>? _creditWaiter;
    private long _buffered;
    private int _consumedSinceUpdate;
    private int _localFin;
    private int _remoteFin;
    private int _reset;
    private int _disposed;
    private bool _unpublished;
    private string? _resetReason;

    public MuxStream(MuxLink link, uint id, int window)
    {
        _link = link;
        Id = id;
        _window = window;
        _credit = window;
    }

    public uint Id { get; }

    /// <summary>Bytes received and not yet read (at most the window).</summary>
    public long Buffered => Interlocked.Read(ref _buffered);

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ReadResult result;
        try
        {
            result = await _inbound.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidOperationException) when (Volatile.Read(ref _disposed) == 1)
        {
            throw new ObjectDisposedException(nameof(MuxStream));
        }
        if (Volatile.Read(ref _disposed) == 1 && result.Buffer.IsEmpty)
        {
            throw new ObjectDisposedException(nameof(MuxStream));
        }
        var data = result.Buffer;
        if (buffer.IsEmpty || data.IsEmpty)
        {
            // A zero-byte read (data is there, or the stream ended) or the end: consume nothing.
            _inbound.Reader.AdvanceTo(data.Start);
            if (data.IsEmpty && Volatile.Read(ref _reset) == 1)
            {
                throw new IOException(_resetReason ?? "The stream was reset.");
            }
            return 0;
        }
        var n = (int)Math.Min(buffer.Length, data.Length);
        data.Slice(0, n).CopyTo(buffer.Span);
        _inbound.Reader.AdvanceTo(data.GetPosition(n));
        Consumed(n);
        return n;
    }

    /// <summary>Returns consumed bytes to the peer as credit, a quarter window at a time.</summary>
    private void Consumed(int count)
    {
        Interlocked.Add(ref _buffered, -count);
        var pending = Interlocked.Add(ref _consumedSinceUpdate, count);
        if (pending >= _window / 4 && Volatile.Read(ref _remoteFin) == 0 && Interlocked.CompareExchange(ref _consumedSinceUpdate, 0, pending) == pending)
        {
            _link.SendWindow(Id, pending);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (!buffer.IsEmpty)
        {
            ThrowIfUnwritable();
            // As much as the credit allows in one go: the link queues it as one run of frames, written and sent together.
            var take = await TakeCreditAsync(buffer.Length, cancellationToken).ConfigureAwait(false);
            ThrowIfUnwritable();
            if (!_link.SendData(Id, buffer.Span[..take]))
            {
                throw new IOException("The multiplexed link is closed.");
            }
            buffer = buffer[take..];
        }
        await _link.WaitForRoomAsync(cancellationToken).ConfigureAwait(false);
    }

    private void ThrowIfUnwritable()
    {
        if (Volatile.Read(ref _reset) == 1)
        {
            throw new IOException(_resetReason ?? "The stream was reset.");
        }
        if (Volatile.Read(ref _localFin) == 1 || Volatile.Read(ref _disposed) == 1)
        {
            throw new ObjectDisposedException(nameof(MuxStream), "The stream's write side is shut down.");
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> TakeCreditAsync(int wanted, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task<bool> wait;
            lock (_creditGate)
            {
                if (_credit > 0)
                {
                    var take = Math.Min(_credit, wanted);
                    _credit -= take;
                    return take;
                }
                if (Volatile.Read(ref _reset) == 1)
                {
                    throw new IOException(_resetReason ?? "The stream was reset.");
                }
                _creditWaiter ??= new TaskCompletionSource<bool>(MuxLink.WakeOptions);
                wait = _creditWaiter.Task;
            }
            await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The peer returned credit (a Window frame).</summary>
    internal void AddCredit(int credit)
    {
        if (credit <= 0)
        {
            return;
        }
        TaskCompletionSource<bool>? waiter;
        lock (_creditGate)
        {
            _credit = (int)Math.Min((long)_credit + credit, int.MaxValue);
            waiter = _creditWaiter;
            _creditWaiter = null;
        }
        waiter?.TrySetResult(true);
    }

    /// <summary>
    /// Data from the peer (on the link's read loop); false when it exceeds the window the peer was given. The bytes
    /// become readable at <see cref="Publish"/>, which the link calls once per batch of frames, so a reader gets the
    /// data of several frames at once.
    /// </summary>
    internal bool Receive(ReadOnlySequence<byte> payload)
    {
        if (Volatile.Read(ref _remoteFin) == 1 || Volatile.Read(ref _reset) == 1)
        {
            return true;
        }
        if (Interlocked.Add(ref _buffered, payload.Length) > _window)
        {
            return false;
        }
        if (Volatile.Read(ref _disposed) == 1)
        {
            // Nobody reads any more; the bytes are dropped but still counted against nothing.
            Interlocked.Add(ref _buffered, -payload.Length);
            return true;
        }
        lock (_writerGate)
        {
            if (Volatile.Read(ref _remoteFin) == 1)
            {
                return true;
            }
            foreach (var segment in payload)
            {
                _inbound.Writer.Write(segment.Span);
            }
            _unpublished = true;
        }
        return true;
    }

    /// <summary>True when received bytes wait for <see cref="Publish"/>.</summary>
    internal bool HasUnpublished => _unpublished;

    /// <summary>Makes the bytes received so far readable; a waiting reader resumes inline on this thread.</summary>
    internal void Publish()
    {
        lock (_writerGate)
        {
            if (!_unpublished)
            {
                return;
            }
            _unpublished = false;
            if (Volatile.Read(ref _remoteFin) == 1)
            {
                return;
            }
            // Never waits (no pause threshold): its result is taken at once, which also gives the pipe its awaitable back.
            var flush = _inbound.Writer.FlushAsync();
            if (flush.IsCompleted)
            {
                flush.GetAwaiter().GetResult();
            }
            else
            {
                // Not reached with no pause threshold; a Task keeps a later completion valid and observed.
                _ = flush.AsTask().ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }
        }
    }

    /// <summary>The peer will send no more (a Fin frame).</summary>
    internal void FinishedByPeer()
    {
        lock (_writerGate)
        {
            if (Interlocked.Exchange(ref _remoteFin, 1) == 1)
            {
                return;
            }
            _inbound.Writer.Complete();
        }
        if (Volatile.Read(ref _localFin) == 1)
        {
            _link.Forget(this);
        }
    }

    /// <summary>The stream is abandoned: the peer reset it, or the link closed.</summary>
    internal void ResetByPeer(string reason)
    {
        if (Interlocked.Exchange(ref _reset, 1) == 1)
        {
            return;
        }
        _resetReason = reason;
        lock (_writerGate)
        {
            if (Interlocked.Exchange(ref _remoteFin, 1) == 0)
            {
                _inbound.Writer.Complete();
            }
        }
        TaskCompletionSource<bool>? waiter;
        lock (_creditGate)
        {
            waiter = _creditWaiter;
            _creditWaiter = null;
        }
        waiter?.TrySetResult(false);
        _link.Forget(this);
    }

    /// <summary>Ends the write side: the peer reads 0 after the bytes sent so far (a Fin frame).</summary>
    public void ShutdownWrite()
    {
        if (Volatile.Read(ref _reset) == 1 || Interlocked.Exchange(ref _localFin, 1) == 1)
        {
            return;
        }
        _link.SendControl(MuxFrameType.Fin, Id);
        if (Volatile.Read(ref _remoteFin) == 1)
        {
            _link.Forget(this);
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            var finished = Volatile.Read(ref _localFin) == 1 && Volatile.Read(ref _remoteFin) == 1;
            if (!finished && Interlocked.Exchange(ref _reset, 1) == 0)
            {
                _resetReason = "The stream was closed.";
                _link.SendControl(MuxFrameType.Reset, Id);
                TaskCompletionSource<bool>? waiter;
                lock (_creditGate)
                {
                    waiter = _creditWaiter;
                    _creditWaiter = null;
                }
                waiter?.TrySetResult(false);
            }
            _link.Forget(this);
            // End a read that may be pending (the reader side is the reader's to complete, not ours).
            lock (_writerGate)
            {
                if (Interlocked.Exchange(ref _remoteFin, 1) == 0)
                {
                    _inbound.Writer.Complete();
                }
            }
        }
        base.Dispose(disposing);
    }

    // The synchronous members wait for the link's read loop or writer: never on the socket event thread, where that wait
    // would stall every socket of the process (or wait for itself); elsewhere they wait like any stream.
    public override int Read(byte[] buffer, int offset, int count)
    {
        InlineCompletions.ThrowIfOnEventThread("MuxStream.Read");
        return ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    public override void Write(byte[] buffer, int offset, int count)
    {
        InlineCompletions.ThrowIfOnEventThread("MuxStream.Write");
        WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    public override void Flush() { }
    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
