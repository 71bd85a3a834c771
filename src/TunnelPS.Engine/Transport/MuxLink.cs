using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Globalization;
using System.Text;
using TunnelPS.Engine.Diagnostics;

namespace TunnelPS.Engine.Transport;

/// <summary>
/// One long-lived connection between TunnelPS peers that carries many visitor connections as streams (capability
/// "tunnelps/mux/1"). The server opens a stream per visitor with one Open frame and sends its bytes at once: a new
/// visitor costs no round trip and no TLS handshake.
/// <para>
/// Flow control is per stream and credit-based: a sender may have at most the receiver's window of unconsumed bytes in
/// flight, and the receiver returns credit as its reader consumes, so a slow visitor stalls only its own stream and a
/// stream's memory is bounded by its window. Frames of all streams are written by whichever writer finds the link idle,
/// many frames per write (one TLS record holds several), and the bytes queued for the link are bounded too. What the
/// read loop's own thread queues while it hands out a batch of frames (readers that resume inline and answer at once)
/// waits for the end of the batch and leaves in one write: 32 streams of keep-alive traffic took two socket writes per
/// exchange before, about one per eight exchanges after (bench --mux-compare).
/// </para>
/// <para>
/// Underneath, the socket stream batches once the link starts (<see cref="BatchingNetworkStream"/>): the TLS records
/// of one drain leave in one send at its flush, and one receive takes many records. Small Data writes made on the
/// socket event thread wait for the end of its batch of events (<see cref="EventBatchDeferral"/>), so the answers
/// to a whole batch of visitors' events share that send; the read loop hands out what it read only when its next
/// read has to wait, so a bulk transfer's visitor gets one large send rather than one per record.
/// </para>
/// <para>
/// Reads run one loop per link; a stream's reader resumes on that loop's thread (no thread hop per message), so stream
/// readers must never block.
/// </para>
/// <para>
/// Bounds (<see cref="MuxLinkLimits"/>), the same on both sides: at most MaxStreams streams at once (a peer's Open
/// beyond it is reset); Data writers wait while <see cref="QueueLimit"/> bytes are queued; every other frame (Open,
/// Window, Fin, Reset, Ping, Pong) counts against <see cref="ControlQueueLimit"/>, above which the read loop reads
/// nothing more until they drain, so a peer that asks for answers (Pings, Opens beyond the cap, Data beyond a window)
/// and never reads them stalls only itself; and a link whose queued frames see no write complete for WriteTimeout is
/// closed. The checks cost one comparison per frame drained and per read, no lock or allocation more.
/// </para>
/// </summary>
internal sealed class MuxLink : IAsyncDisposable
{
    /// <summary>The default receive window of a stream: the most unconsumed bytes a peer may send it.</summary>
    public const int DefaultWindow = 256 * 1024;

    /// <summary>Bytes queued for the transport beyond which writers wait for it to drain.</summary>
    private const int QueueLimit = 1024 * 1024;

    private const int BatchSize = 64 * 1024;

    /// <summary>The most bytes one read of the transport hands the read loop (and so the most it dispatches at once).</summary>
    internal const int ReadSize = 64 * 1024;

    /// <summary>
    /// Bytes of control frames (every frame but Data) queued for the transport beyond which the read loop stops
    /// reading until they drain: a peer that sends frames the link answers (Ping, an Open beyond the cap, Data beyond
    /// a window) and never reads the answers stalls itself instead of growing the queue.
    /// </summary>
    internal const int ControlQueueLimit = 256 * 1024;

    /// <summary>Bytes read without handing them out beyond which the read loop hands out before reading on.</summary>
    private const int PublishThreshold = 128 * 1024;

    /// <summary>A frame at least this long is written from its own buffer instead of being copied into the batch.</summary>
    private const int DirectWriteMinimum = 8 * 1024;

    private readonly Stream _transport;
    private readonly MuxLinkLimits _limits;
    private readonly BatchingNetworkStream? _socketStream;
    private readonly Action _startDrain;
    private readonly Func<MuxStream, string, string, Task>? _onOpen;
    private readonly Action<Task>? _track;
    private readonly ConcurrentDictionary<uint, MuxStream> _streams = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource<string> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Writer state, under _queueGate.
    private readonly object _queueGate = new();
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

    private readonly LogThrottle _throttle;
    private int _streamCount;

    /// <summary>The link whose read loop runs on this thread now, handing out a batch of frames.</summary>
    [ThreadStatic]
    private static MuxLink? t_dispatching;

    private readonly List<MuxStream> _received = [];
    private uint _nextStreamId;
    private Task _reading = Task.CompletedTask;

    /// <param name="transport">The connected (TLS) stream; the link owns it.</param>
    /// <param name="window">The receive window of each stream.</param>
    /// <param name="onOpen">For the side that accepts streams (the client): called with each new stream, its URL and the visitor's address.</param>
    /// <param name="track">Observes the tasks the link starts (stream handlers); null keeps them unobserved only by the link.</param>
    /// <param name="limits">The link's bounds (streams open at once, write deadline); null: <see cref="MuxLinkLimits.Default"/>.</param>
    public MuxLink(Stream transport, int window = DefaultWindow, Func<MuxStream, string, string, Task>? onOpen = null, Action<Task>? track = null, MuxLinkLimits? limits = null)
    {
        _limits = limits ?? MuxLinkLimits.Default;
        _throttle = _limits.Throttle ?? new LogThrottle(_limits.TimeProvider, TimeSpan.FromSeconds(30));
        _transport = transport;
        _socketStream = BatchingNetworkStream.Find(transport);
        _startDrain = StartDrain;
        Window = window;
        _onOpen = onOpen;
        _track = track;
    }

    public int Window { get; }

    /// <summary>
    /// Writers waiting for credit or for room resume on the thread that grants it (the link's read loop, or the
    /// writer that drained the queue), never through the thread pool: a bulk transfer waits for credit every quarter
    /// window, and a hop each time cost five times the context switches. Grants are made outside every lock, and a
    /// resumed writer runs only until its next await.
    /// </summary>
    internal const TaskCreationOptions WakeOptions = TaskCreationOptions.None;

    /// <summary>Streams open now.</summary>
    public int StreamCount => Volatile.Read(ref _streamCount);

    /// <summary>The most streams open at once (<see cref="MuxLinkLimits.MaxStreams"/>).</summary>
    public int MaxStreams => _limits.MaxStreams;

    /// <summary>True when the link carries its most streams: <see cref="Open"/> would fail.</summary>
    public bool IsFull => StreamCount >= _limits.MaxStreams;

    /// <summary>Bytes of frames queued for the transport now.</summary>
    internal int QueuedBytes
    {
        get
        {
            lock (_queueGate)
            {
                return _queuedBytes;
            }
        }
    }

    /// <summary>True while the read loop waits for the answers it queued to drain (the peer does not read them).</summary>
    internal bool ReadsPaused => Volatile.Read(ref _readsPaused);

    /// <summary>True once the link has failed or been closed.</summary>
    public bool IsClosed => Volatile.Read(ref _closed);

    /// <summary>Completes with the reason when the link ends.</summary>
    public Task<string> Completion => _completion.Task;

    /// <summary>Starts reading frames.</summary>
    public void Start()
    {
        // From here on the link alone reads and writes the connection: the socket underneath may read ahead and
        // coalesce the records of a batch into one send (the drain flushes at the end of every batch).
        _socketStream?.EnableBatching();
        var period = TimeSpan.FromTicks(Math.Min(TimeSpan.TicksPerSecond, _limits.WriteTimeout.Ticks / 4));
        _watch = _limits.TimeProvider.CreateTimer(static state => ((MuxLink)state!).CheckWriteProgress(), this, period, period);
        if (IsClosed)
        {
            // Closed while the timer was made: Close may have missed it.
            _watch.Dispose();
        }
        _reading = ReadLoopAsync(_stop.Token);
    }

    /// <summary>
    /// Opens a stream to the peer for a visitor of <paramref name="url"/>; bytes may be written at once (no round trip).
    /// Throws IOException when the link is closed, <see cref="MuxStreamLimitException"/> when it carries its most streams.
    /// </summary>
    public MuxStream Open(string url, string clientAddress)
    {
        if (Interlocked.Increment(ref _streamCount) > _limits.MaxStreams)
        {
            Interlocked.Decrement(ref _streamCount);
            TunnelMetrics.LinkRefusedStreams.Add(1, new KeyValuePair<string, object?>("side", "local"));
            throw new MuxStreamLimitException(string.Create(CultureInfo.InvariantCulture,
                $"The multiplexed link carries {_limits.MaxStreams} streams, the most it may; the visitor waits for one to end or is refused (raise MaxStreamsPerLink, or LinkCount on the client, for more)."));
        }
        var id = Interlocked.Increment(ref _nextStreamId);
        var stream = new MuxStream(this, id, Window);
        _streams[id] = stream;
        var length = MuxFrame.OpenPayloadLength(url, clientAddress);
        if (length > MuxFrame.MaxPayload)
        {
            Remove(id);
            throw new ArgumentException("The tunnel URL and visitor address are too long for one frame.", nameof(url));
        }
        var frame = ArrayPool<byte>.Shared.Rent(MuxFrame.HeaderLength + length);
        MuxFrame.WriteHeader(frame, MuxFrameType.Open, length, id);
        MuxFrame.WriteOpenPayload(frame.AsSpan(MuxFrame.HeaderLength, length), url, clientAddress);
        if (!Enqueue(frame, MuxFrame.HeaderLength + length))
        {
            Remove(id);
            throw new IOException("The multiplexed link is closed.");
        }
        return stream;
    }

    /// <summary>Sends a Ping (keeps middleboxes from expiring an idle link).</summary>
    public void Ping() => SendControl(MuxFrameType.Ping, 0);

    /// <summary>
    /// Queues <paramref name="payload"/> as Data frames (as many as its length needs) in one go, so that one drain
    /// writes them all and the socket sends them together.
    /// </summary>
    internal bool SendData(uint stream, ReadOnlySpan<byte> payload)
    {
        // Small writes (requests and responses of keep-alive traffic) wait for the end of the event batch to leave
        // together; a large one is a batch of its own and leaves at once (a bulk transfer is paced by the window, and
        // every microsecond its data waits is a microsecond more before the credit comes back).
        var soon = payload.Length < DirectWriteMinimum;
        bool start;
        lock (_queueGate)
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

    internal void SendWindow(uint stream, int credit)
    {
        var frame = ArrayPool<byte>.Shared.Rent(MuxFrame.HeaderLength + 4);
        MuxFrame.WriteHeader(frame, MuxFrameType.Window, 4, stream);
        BinaryPrimitives.WriteInt32LittleEndian(frame.AsSpan(MuxFrame.HeaderLength), credit);
        Enqueue(frame, MuxFrame.HeaderLength + 4);
    }

    internal void SendControl(MuxFrameType type, uint stream)
    {
        var frame = ArrayPool<byte>.Shared.Rent(MuxFrame.HeaderLength);
        MuxFrame.WriteHeader(frame, type, 0, stream);
        Enqueue(frame, MuxFrame.HeaderLength);
    }

    internal void Forget(MuxStream stream)
    {
        if (_streams.TryRemove(new KeyValuePair<uint, MuxStream>(stream.Id, stream)))
        {
            Interlocked.Decrement(ref _streamCount);
        }
    }

    private void Remove(uint id)
    {
        if (_streams.TryRemove(id, out _))
        {
            Interlocked.Decrement(ref _streamCount);
        }
    }

    /// <summary>Completes when the bytes queued for the transport are below the limit again (writers pace themselves on it).</summary>
    internal ValueTask WaitForRoomAsync(CancellationToken cancellationToken)
    {
        Task wait;
        lock (_queueGate)
        {
            if (_queuedBytes < QueueLimit || _closed)
            {
                return default;
            }
            _room ??= new TaskCompletionSource(WakeOptions);
            wait = _room.Task;
        }
        return new ValueTask(wait.WaitAsync(cancellationToken));
    }

    /// <summary>
    /// Queues a control frame (any kind but Data; the link returns its buffer to the pool); false when the link is
    /// closed. It never waits, and it counts against <see cref="ControlQueueLimit"/>: the read loop stops reading while
    /// the answers it queued stay above it.
    /// </summary>
    private bool Enqueue(byte[] frame, int length)
    {
        bool start;
        lock (_queueGate)
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

    /// <summary>The writer that finds the link idle writes for everyone, starting on its own thread: no hop.</summary>
    private void StartDrain()
    {
        var drain = DrainAsync();
        if (!drain.IsCompleted)
        {
            _track?.Invoke(drain);
        }
    }

    /// <summary>Starts writing what the read loop's batch queued, unless a writer is at it already.</summary>
    private void FlushQueued()
    {
        lock (_queueGate)
        {
            if (_draining || _queue.Count == 0)
            {
                return;
            }
            _draining = true;
        }
        StartDrain();
    }

    private async Task DrainAsync()
    {
        var unflushed = false;
        try
        {
            while (true)
            {
                var used = 0;
                byte[]? whole = null;
                TaskCompletionSource? room = null;
                lock (_queueGate)
                {
                    if (_queue.TryPeek(out var first) && first.Length >= DirectWriteMinimum)
                    {
                        // A large frame (a bulk transfer's) goes out from its own buffer: one copy fewer per byte,
                        // and still one TLS record per frame as through the batch.
                        _queue.Dequeue();
                        whole = first.Buffer;
                        used = first.Length;
                        _queuedBytes -= first.Length;
                        if (whole[0] != (byte)MuxFrameType.Data)
                        {
                            _controlBytes -= first.Length;
                        }
                    }
                    while (whole is null && _queue.TryPeek(out var next) && used + next.Length <= _batch.Length)
                    {
                        _queue.Dequeue();
                        next.Buffer.AsSpan(0, next.Length).CopyTo(_batch.AsSpan(used));
                        used += next.Length;
                        _queuedBytes -= next.Length;
                        if (next.Buffer[0] != (byte)MuxFrameType.Data)
                        {
                            _controlBytes -= next.Length;
                        }
                        ArrayPool<byte>.Shared.Return(next.Buffer);
                    }
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
                if (used == 0)
                {
                    if (!unflushed)
                    {
                        return;
                    }
                    // The queue is empty: what the socket holds of this batch leaves in one send, and then the queue
                    // is looked at once more before this writer gives up its role.
                    unflushed = false;
                    await _transport.FlushAsync(_stop.Token).ConfigureAwait(false);
                    Volatile.Write(ref _writes, _writes + 1);
                    continue;
                }
                unflushed = _socketStream is not null;
                if (whole is null)
                {
                    await _transport.WriteAsync(_batch.AsMemory(0, used), _stop.Token).ConfigureAwait(false);
                    Volatile.Write(ref _writes, _writes + 1);
                    continue;
                }
                try
                {
                    await _transport.WriteAsync(whole.AsMemory(0, used), _stop.Token).ConfigureAwait(false);
                    Volatile.Write(ref _writes, _writes + 1);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(whole);
                }
            }
        }
#pragma warning disable CA1031 // A failed write ends the link; the reason goes to Completion, never to the writer that happened to drain.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Close("the link failed to write: " + ex.Message);
        }
    }

    /// <summary>Completes when the control frames queued are below <see cref="ControlQueueLimit"/> again, or the link closed.</summary>
    private async Task WaitForControlRoomAsync(CancellationToken token)
    {
        Task wait;
        int queued;
        lock (_queueGate)
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

    /// <summary>
    /// The write deadline, checked by the link's timer: frames are queued (a writer holds the drain) and no write has
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
        lock (_queueGate)
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
        Close(reason);
    }

    private TaskCompletionSource? TakeRoomLocked()
    {
        var room = _room;
        _room = null;
        return room;
    }

    private async Task ReadLoopAsync(CancellationToken token)
    {
        var reason = "the peer closed the link";
        var input = PipeReader.Create(_transport, new StreamPipeReaderOptions(bufferSize: ReadSize, minimumReadSize: 4096, leaveOpen: true));
        try
        {
            var unpublished = 0L;
            while (true)
            {
                if (Volatile.Read(ref _controlBytes) >= ControlQueueLimit)
                {
                    // The peer left the answers it asked for unread: hand out what was read (which starts the
                    // drain), then read nothing more until they drain; the write deadline ends a peer that never reads.
                    if (unpublished > 0)
                    {
                        HandOut();
                        unpublished = 0;
                    }
                    else
                    {
                        FlushQueued();
                    }
                    await WaitForControlRoomAsync(token).ConfigureAwait(false);
                }
                // What arrived is handed out (readers resume, queued answers leave) when the next read has to wait
                // for the network, or after PublishThreshold bytes: while more is already here, a bulk transfer's
                // records are read first, so a visitor gets one large send instead of one per 16 KiB record.
                var pending = input.ReadAsync(token);
                if (unpublished > 0 && (!pending.IsCompleted || unpublished >= PublishThreshold))
                {
                    HandOut();
                    unpublished = 0;
                }
                var result = await pending.ConfigureAwait(false);
                var buffer = result.Buffer;
                unpublished += buffer.Length;
                t_dispatching = this;
                try
                {
                    while (MuxFrame.TryRead(ref buffer, out var type, out var stream, out var payload))
                    {
                        if (!Dispatch(type, stream, payload, out var fatal))
                        {
                            reason = fatal;
                            return;
                        }
                    }
                }
                finally
                {
                    t_dispatching = null;
                }
                input.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted)
                {
                    HandOut();
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException or System.Net.Sockets.SocketException or InvalidOperationException)
        {
            reason = ex is OperationCanceledException ? "the link was closed" : ex.Message;
        }
        finally
        {
            await input.CompleteAsync().ConfigureAwait(false);
            Close(reason);
        }
    }

    /// <summary>Ends a batch of frames: their data becomes readable, and what the readers queued in answer is written.</summary>
    private void HandOut()
    {
        t_dispatching = this;
        try
        {
            PublishReceived();
        }
        finally
        {
            t_dispatching = null;
        }
        FlushQueued();
    }

    /// <summary>Makes the data of this batch of frames readable, one wake-up per stream rather than one per frame.</summary>
    private void PublishReceived()
    {
        foreach (var stream in _received)
        {
            stream.Publish();
        }
        _received.Clear();
    }

    /// <summary>Handles one frame; false (with the reason) when the peer broke the protocol and the link must close.</summary>
    private bool Dispatch(MuxFrameType type, uint id, ReadOnlySequence<byte> payload, out string fatal)
    {
        fatal = "";
        if (payload.Length > MuxFrame.MaxPayload)
        {
            fatal = $"the peer sent a {payload.Length}-byte frame, above the {MuxFrame.MaxPayload}-byte limit";
            return false;
        }
        switch (type)
        {
            case MuxFrameType.Data:
                if (_streams.TryGetValue(id, out var target))
                {
                    var had = target.HasUnpublished;
                    if (!target.Receive(payload))
                    {
                        // More than the window: the peer ignored flow control on this stream.
                        target.ResetByPeer("the peer sent more than the stream's window");
                        SendControl(MuxFrameType.Reset, id);
                    }
                    else if (!had && target.HasUnpublished)
                    {
                        _received.Add(target);
                    }
                }
                return true;
            case MuxFrameType.Window:
                if (payload.Length == 4 && _streams.TryGetValue(id, out var credited))
                {
                    Span<byte> value = stackalloc byte[4];
                    payload.CopyTo(value);
                    credited.AddCredit(BinaryPrimitives.ReadInt32LittleEndian(value));
                }
                return true;
            case MuxFrameType.Fin:
                if (_streams.TryGetValue(id, out var finished))
                {
                    finished.Publish();
                    finished.FinishedByPeer();
                }
                return true;
            case MuxFrameType.Reset:
                if (_streams.TryRemove(id, out var reset))
                {
                    Interlocked.Decrement(ref _streamCount);
                    reset.ResetByPeer("the peer reset the stream");
                }
                return true;
            case MuxFrameType.Ping:
                SendControl(MuxFrameType.Pong, 0);
                return true;
            case MuxFrameType.Pong:
                return true;
            case MuxFrameType.Open when _onOpen is not null:
                return Accept(id, payload, out fatal);
            default:
                fatal = $"the peer sent an unexpected frame (type {(int)type})";
                return false;
        }
    }

    private bool Accept(uint id, ReadOnlySequence<byte> payload, out string fatal)
    {
        var problem = MuxFrame.TryReadOpenPayload(payload.IsSingleSegment ? payload.FirstSpan : payload.ToArray(), out var url, out var address);
        if (problem is not null)
        {
            fatal = problem;
            return false;
        }
        fatal = "";
        if (_streams.ContainsKey(id))
        {
            fatal = "the peer opened a stream id that is in use";
            return false;
        }
        if (Interlocked.Increment(ref _streamCount) > _limits.MaxStreams)
        {
            // Beyond the cap the stream is refused, not the link: the peer's visitor fails, the others go on. The
            // Reset counts against the control bound like every answer, so a flood of Opens stalls only its sender.
            Interlocked.Decrement(ref _streamCount);
            TunnelMetrics.LinkRefusedStreams.Add(1, new KeyValuePair<string, object?>("side", "peer"));
            _throttle.Warn("link-refused", suppressed => LinkLog.StreamRefused(_limits.Logger, _limits.Name, string.Create(CultureInfo.InvariantCulture,
                $"the peer opened more than {_limits.MaxStreams} streams at once (MaxStreamsPerLink); the extra ones are reset"), suppressed));
            SendControl(MuxFrameType.Reset, id);
            return true;
        }
        var stream = new MuxStream(this, id, Window);
        _streams[id] = stream;
        var handler = _onOpen!(stream, url, address);
        _track?.Invoke(handler);
        return true;
    }

    /// <summary>Ends the link: every stream is reset, the transport closed, <see cref="Completion"/> completed.</summary>
    public void Close(string reason)
    {
        TaskCompletionSource? room;
        TaskCompletionSource? controlRoom;
        lock (_queueGate)
        {
            if (_closed)
            {
                return;
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
        try
        {
            _stop.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
        foreach (var (_, stream) in _streams)
        {
            stream.ResetByPeer("the multiplexed link closed: " + reason);
        }
        _streams.Clear();
        Volatile.Write(ref _streamCount, 0);
        _transport.Dispose();
        _completion.TrySetResult(reason);
    }

    public async ValueTask DisposeAsync()
    {
        Close("the link was closed");
        try
        {
            await _reading.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException)
        {
        }
    }
}
