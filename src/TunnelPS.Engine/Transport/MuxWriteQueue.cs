using System.Buffers;
using System.Globalization;
using TunnelPS.Engine.Diagnostics;

namespace TunnelPS.Engine.Transport;

/// <summary>
/// The writing half of a <see cref="MuxLink"/>: the frames queued for the peer, the one writer at a time that drains
/// them (whichever caller finds the link idle, starting on its own thread: no hop), and the bounds on what waits.
/// <list type="bullet">
/// <item>Data writers pace themselves on <see cref="QueueLimit"/> (<see cref="WaitForRoomAsync"/>).</item>
/// <item>Every other frame counts against <see cref="ControlQueueLimit"/>; the read loop stops reading above it
/// (<see cref="WaitForControlRoomAsync"/>), so a peer that asks for answers and never reads them stalls only itself.</item>
/// <item>Queued frames that see no write complete for the write deadline close the link (<see cref="CheckWriteProgress"/>).</item>
/// </list>
/// Frames queued by the read loop's own thread while it hands out a batch (readers that resume inline and answer) wait
/// for the end of the batch and leave in one write; small Data writes on the socket event thread wait for the end of
/// its batch of events (<see cref="EventBatchDeferral"/>). Everything here is under one lock, held only to move frames.
/// </summary>
internal sealed partial class MuxWriteQueue
{
    /// <summary>Bytes queued for the transport beyond which writers wait for it to drain.</summary>
    public const int QueueLimit = 1024 * 1024;

    /// <summary>Bytes of control frames queued beyond which the read loop stops reading until they drain.</summary>
    public const int ControlQueueLimit = 256 * 1024;

    /// <summary>A frame at least this long is written from its own buffer instead of being copied into the batch.</summary>
    public const int DirectWriteMinimum = 8 * 1024;

    private const int BatchSize = 64 * 1024;

    /// <summary>The queue whose link's read loop runs on this thread now, handing out a batch of frames.</summary>
    [ThreadStatic]
    private static MuxWriteQueue? t_dispatching;

    private readonly Stream _transport;
    private readonly BatchingNetworkStream? _socketStream;
    private readonly MuxLinkLimits _limits;
    private readonly LogThrottle _throttle;
    private readonly Action<Task>? _track;
    private readonly Action<string> _fail;
    private readonly CancellationToken _stop;
    private readonly Action _startDrain;

    private readonly object _gate = new();
    private readonly Queue<(byte[] Buffer, int Length)> _queue = new();
    private readonly byte[] _batch = new byte[BatchSize];
    private int _queuedBytes;
    private int _controlBytes;
    private bool _draining;
    private bool _closed;
    private TaskCompletionSource? _room;
    private TaskCompletionSource? _controlRoom;
    private bool _readsPaused;

    // Write progress: writes completed (by whichever writer drains), and what the deadline check saw last time.
    private long _writes;
    private long _checkedWrites = -1;
    private long _stalledSince;
    private ITimer? _watch;

    /// <param name="transport">The link's (TLS) stream.</param>
    /// <param name="limits">The link's bounds: its write deadline, clock, logger.</param>
    /// <param name="throttle">The link's log throttle.</param>
    /// <param name="track">Observes the drains that go on asynchronously.</param>
    /// <param name="fail">Closes the link with a reason (a failed write, a passed deadline); never throws.</param>
    /// <param name="stop">Cancelled when the link closes.</param>
    public MuxWriteQueue(Stream transport, MuxLinkLimits limits, LogThrottle throttle, Action<Task>? track, Action<string> fail, CancellationToken stop)
    {
        _transport = transport;
        _socketStream = BatchingNetworkStream.Find(transport);
        _limits = limits;
        _throttle = throttle;
        _track = track;
        _fail = fail;
        _stop = stop;
        _startDrain = StartDrain;
    }

    /// <summary>Bytes of frames queued for the transport now.</summary>
    public int QueuedBytes
    {
        get
        {
            lock (_gate)
            {
                return _queuedBytes;
            }
        }
    }

    /// <summary>Bytes of control frames queued now (read without the lock: the read loop's check per read).</summary>
    public int ControlBytes => Volatile.Read(ref _controlBytes);

    /// <summary>True while the read loop waits for the answers it queued to drain (the peer does not read them).</summary>
    public bool ReadsPaused => Volatile.Read(ref _readsPaused);

    public bool IsClosed => Volatile.Read(ref _closed);

    /// <summary>Starts batching on the socket and the write-deadline timer.</summary>
    public void Start()
    {
        // From here on the link alone reads and writes the connection: the socket underneath may read ahead and
        // coalesce the records of a batch into one send (the drain flushes at the end of every batch).
        _socketStream?.EnableBatching();
        var period = TimeSpan.FromTicks(Math.Min(TimeSpan.TicksPerSecond, _limits.WriteTimeout.Ticks / 4));
        _watch = _limits.TimeProvider.CreateTimer(static state => ((MuxWriteQueue)state!).CheckWriteProgress(), this, period, period);
        if (IsClosed)
        {
            // Closed while the timer was made: Close may have missed it.
            _watch.Dispose();
        }
    }

    /// <summary>Marks the calling thread as the link's read loop handing out a batch (null: it is done).</summary>
    public void SetDispatching(bool dispatching) => t_dispatching = dispatching ? this : null;

    /// <summary>
    /// Queues <paramref name="payload"/> as Data frames (as many as its length needs) in one go, so that one drain
    /// writes them all and the socket sends them together; false when the link is closed.
    /// </summary>
    public bool SendData(uint stream, ReadOnlySpan<byte> payload)
    {
        // Small writes (requests and responses of keep-alive traffic) wait for the end of the event batch to leave
        // together; a large one is a batch of its own and leaves at once (a bulk transfer is paced by the window, and
        // every microsecond its data waits is a microsecond more before the credit comes back).
        var soon = payload.Length < DirectWriteMinimum;
        bool start;
        lock (_gate)
        {
            if (_closed)
            {
                return false;
            }
            while (!payload.IsEmpty)
            {
                var length = Math.Min(payload.Length, MuxFrame.MaxPayload);
                var frame = ArrayPool<byte>.Shared.Rent(MuxFrame.HeaderLength + length);
                MuxFrame.WriteHeader(frame, MuxFrameType.Data, length, stream);
                payload[..length].CopyTo(frame.AsSpan(MuxFrame.HeaderLength));
                _queue.Enqueue((frame, MuxFrame.HeaderLength + length));
                _queuedBytes += MuxFrame.HeaderLength + length;
                payload = payload[length..];
            }
            start = StartDrainLocked();
        }
        if (start)
        {
            if (soon)
            {
                DrainSoon();
            }
            else
            {
                StartDrain();
            }
        }
        return true;
    }

    /// <summary>
    /// Queues a control frame (any kind but Data; the queue returns its buffer to the pool); false when the link is
    /// closed. It never waits, and it counts against <see cref="ControlQueueLimit"/>.
    /// </summary>
    public bool Enqueue(byte[] frame, int length)
    {
        bool start;
        lock (_gate)
        {
            if (_closed)
            {
                ArrayPool<byte>.Shared.Return(frame);
                return false;
            }
            _queue.Enqueue((frame, length));
            _queuedBytes += length;
            _controlBytes += length;
            start = StartDrainLocked();
        }
        if (start)
        {
            // Control frames (Open, Window, Fin, Reset, Ping) leave at once: each one is someone's wait.
            StartDrain();
        }
        return true;
    }

    /// <summary>Completes when the bytes queued are below <see cref="QueueLimit"/> again (writers pace themselves on it).</summary>
    public ValueTask WaitForRoomAsync(CancellationToken cancellationToken)
    {
        Task wait;
        lock (_gate)
        {
            if (_queuedBytes < QueueLimit || _closed)
            {
                return default;
            }
            _room ??= new TaskCompletionSource(MuxLink.WakeOptions);
            wait = _room.Task;
        }
        return new ValueTask(wait.WaitAsync(cancellationToken));
    }

    /// <summary>Completes when the control frames queued are below <see cref="ControlQueueLimit"/> again, or the link closed.</summary>
    public async Task WaitForControlRoomAsync(CancellationToken token)
    {
        Task wait;
        int queued;
        lock (_gate)
        {
            if (_controlBytes < ControlQueueLimit || _closed)
            {
                return;
            }
            _controlRoom ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            wait = _controlRoom.Task;
            queued = _controlBytes;
        }
        TunnelMetrics.LinkReadPauses.Add(1);
        _throttle.Warn("link-paused", suppressed => LinkLog.ReadsPaused(_limits.Logger, _limits.Name, queued, suppressed));
        Volatile.Write(ref _readsPaused, true);
        try
        {
            await wait.WaitAsync(token).ConfigureAwait(false);
        }
        finally
        {
            Volatile.Write(ref _readsPaused, false);
        }
    }

    /// <summary>Starts writing what the read loop's batch queued, unless a writer is at it already.</summary>
    public void FlushQueued()
    {
        lock (_gate)
        {
            if (_draining || _queue.Count == 0)
            {
                return;
            }
            _draining = true;
        }
        StartDrain();
    }

    /// <summary>
    /// Ends the queue: frames are returned to the pool, waiters released, the deadline timer stopped. False when it
    /// was closed already.
    /// </summary>
    public bool Close()
    {
        TaskCompletionSource? room;
        TaskCompletionSource? controlRoom;
        lock (_gate)
        {
            if (_closed)
            {
                return false;
            }
            _closed = true;
            while (_queue.TryDequeue(out var frame))
            {
                ArrayPool<byte>.Shared.Return(frame.Buffer);
            }
            // The queue's own array goes too: a link kept for its Completion holds nothing of what it queued.
            _queue.TrimExcess();
            _queuedBytes = 0;
            _controlBytes = 0;
            room = TakeRoomLocked();
            controlRoom = _controlRoom;
            _controlRoom = null;
        }
        _watch?.Dispose();
        room?.TrySetResult();
        controlRoom?.TrySetResult();
        return true;
    }

    /// <summary>
    /// The write deadline, checked by the timer: frames are queued (a writer holds the drain) and no write has
    /// completed for <see cref="MuxLinkLimits.WriteTimeout"/>, so the peer reads nothing; the link is closed.
    /// </summary>
    private void CheckWriteProgress()
    {
        try
        {
            CheckWriteProgressCore();
        }
#pragma warning disable CA1031 // A timer callback must never throw: that would end the host process.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            LinkLog.CheckFailed(_limits.Logger, _limits.Name, ex.Message);
        }
    }

    private void CheckWriteProgressCore()
    {
        var now = _limits.TimeProvider.GetTimestamp();
        int queued;
        lock (_gate)
        {
            if (_closed)
            {
                return;
            }
            var writes = Volatile.Read(ref _writes);
            if (!_draining || writes != _checkedWrites)
            {
                _checkedWrites = writes;
                _stalledSince = now;
                return;
            }
            if (_limits.TimeProvider.GetElapsedTime(_stalledSince, now) < _limits.WriteTimeout)
            {
                return;
            }
            queued = _queuedBytes;
        }
        var reason = string.Create(CultureInfo.InvariantCulture,
            $"the peer read nothing for {_limits.WriteTimeout.TotalSeconds:0} s while {queued} bytes waited for it (the link's write deadline); its streams are reset and the link is dialled again if it is the client's");
        TunnelMetrics.LinkWriteTimeouts.Add(1);
        _throttle.Warn("link-write", suppressed => LinkLog.WriteTimedOut(_limits.Logger, _limits.Name, reason, suppressed));
        _fail(reason);
    }
}
