using System.Buffers;

namespace TunnelPS.Engine.Transport;

/// <summary>The drain of a <see cref="MuxWriteQueue"/>: one writer at a time moves the queued frames to the transport.</summary>
internal sealed partial class MuxWriteQueue
{
    /// <summary>
    /// True when the caller is to start the drain. Frames queued by the read loop's own thread while it hands out a
    /// batch (readers that resume inline and answer) wait for the end of the batch: then one write carries them all.
    /// </summary>
    private bool StartDrainLocked()
    {
        var start = !_draining && t_dispatching != this;
        _draining |= start;
        return start;
    }

    /// <summary>
    /// Drains at the end of the socket event thread's current batch when called there (the answers to a whole batch
    /// of events leave in one send: <see cref="EventBatchDeferral"/>), at once anywhere else.
    /// </summary>
    private void DrainSoon()
    {
        if (EventBatchDeferral.Shared is not { } deferral || !deferral.TryDefer(_startDrain))
        {
            StartDrain();
        }
    }

    /// <summary>
    /// The writer that finds the link idle writes for everyone, starting on its own thread: no hop. It never throws
    /// (the deferral runs it between other sockets' events): a failed write closes the link.
    /// </summary>
    private void StartDrain()
    {
        var drain = DrainAsync();
        if (!drain.IsCompleted)
        {
            _track?.Invoke(drain);
        }
    }

    private async Task DrainAsync()
    {
        var unflushed = false;
        try
        {
            while (true)
            {
                var (used, whole) = TakeBatch(unflushed);
                if (used == 0)
                {
                    if (!unflushed)
                    {
                        return;
                    }
                    // The queue is empty: what the socket holds of this batch leaves in one send, and then the queue
                    // is looked at once more before this writer gives up its role.
                    unflushed = false;
                    await _transport.FlushAsync(_stop).ConfigureAwait(false);
                    Volatile.Write(ref _writes, _writes + 1);
                    continue;
                }
                unflushed = _socketStream is not null;
                await WriteAsync(whole, used).ConfigureAwait(false);
            }
        }
#pragma warning disable CA1031 // A failed write ends the link; the reason goes to Completion, never to the writer that happened to drain.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            _fail("the link failed to write: " + ex.Message);
        }
    }

    /// <summary>Writes the batch (<paramref name="whole"/> null) or one large frame from its own buffer, which it returns.</summary>
    private async ValueTask WriteAsync(byte[]? whole, int used)
    {
        if (whole is null)
        {
            await _transport.WriteAsync(_batch.AsMemory(0, used), _stop).ConfigureAwait(false);
            Volatile.Write(ref _writes, _writes + 1);
            return;
        }
        try
        {
            await _transport.WriteAsync(whole.AsMemory(0, used), _stop).ConfigureAwait(false);
            Volatile.Write(ref _writes, _writes + 1);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(whole);
        }
    }

    /// <summary>
    /// Takes the next write off the queue: one large frame on its own, or as many small ones as fit the batch buffer;
    /// wakes the writers and the read loop that wait for room. Used 0: nothing queued (and, when nothing waits to be
    /// flushed either, this writer gave up its role).
    /// </summary>
    private (int Used, byte[]? Whole) TakeBatch(bool unflushed)
    {
        int used;
        byte[]? whole;
        TaskCompletionSource? room = null;
        lock (_gate)
        {
            (used, whole) = DequeueLocked();
            if (_queuedBytes < QueueLimit)
            {
                room = TakeRoomLocked();
            }
            if (_controlBytes < ControlQueueLimit && _controlRoom is { } controlRoom)
            {
                _controlRoom = null;
                // The read loop resumes on its own (not on this writer's thread: it would read in here).
                controlRoom.TrySetResult();
            }
            if (used == 0 && !unflushed)
            {
                _draining = false;
            }
        }
        // Outside the lock: a writer that waited for room resumes here, on this thread (no hop).
        room?.TrySetResult();
        return (used, whole);
    }

    private (int Used, byte[]? Whole) DequeueLocked()
    {
        if (_queue.TryPeek(out var first) && first.Length >= DirectWriteMinimum)
        {
            // A large frame (a bulk transfer's) goes out from its own buffer: one copy fewer per byte, and still one
            // TLS record per frame as through the batch.
            _queue.Dequeue();
            Dequeued(first.Buffer, first.Length);
            return (first.Length, first.Buffer);
        }
        var used = 0;
        while (_queue.TryPeek(out var next) && used + next.Length <= _batch.Length)
        {
            _queue.Dequeue();
            next.Buffer.AsSpan(0, next.Length).CopyTo(_batch.AsSpan(used));
            used += next.Length;
            Dequeued(next.Buffer, next.Length);
            ArrayPool<byte>.Shared.Return(next.Buffer);
        }
        return (used, null);
    }

    private void Dequeued(byte[] frame, int length)
    {
        _queuedBytes -= length;
        if (frame[0] != (byte)MuxFrameType.Data)
        {
            _controlBytes -= length;
        }
    }

    private TaskCompletionSource? TakeRoomLocked()
    {
        var room = _room;
        _room = null;
        return room;
    }
}
