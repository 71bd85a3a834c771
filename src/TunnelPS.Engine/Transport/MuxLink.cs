using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
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
/// beyond it is reset); Data writers wait while <see cref="MuxWriteQueue.QueueLimit"/> bytes are queued; every other frame (Open,
/// Window, Fin, Reset, Ping, Pong) counts against <see cref="ControlQueueLimit"/>, above which the read loop reads
/// nothing more until they drain, so a peer that asks for answers (Pings, Opens beyond the cap, Data beyond a window)
/// and never reads them stalls only itself; and a link whose queued frames see no write complete for WriteTimeout is
/// closed. The checks cost one comparison per frame drained and per read, no lock or allocation more.
/// </para>
/// </summary>
internal sealed partial class MuxLink : IAsyncDisposable
{
    /// <summary>The default receive window of a stream: the most unconsumed bytes a peer may send it.</summary>
    public const int DefaultWindow = 256 * 1024;

    /// <summary>The most bytes one read of the transport hands the read loop (and so the most it dispatches at once).</summary>
    internal const int ReadSize = 64 * 1024;

    /// <summary>
    /// Bytes of control frames (every frame but Data) queued for the transport beyond which the read loop stops
    /// reading until they drain: a peer that sends frames the link answers (Ping, an Open beyond the cap, Data beyond
    /// a window) and never reads the answers stalls itself instead of growing the queue.
    /// </summary>
    internal const int ControlQueueLimit = MuxWriteQueue.ControlQueueLimit;

    /// <summary>
    /// Writers waiting for credit or for room resume on the thread that grants it (the link's read loop, or the
    /// writer that drained the queue), never through the thread pool: a bulk transfer waits for credit every quarter
    /// window, and a hop each time cost five times the context switches. Grants are made outside every lock, and a
    /// resumed writer runs only until its next await.
    /// </summary>
    internal const TaskCreationOptions WakeOptions = TaskCreationOptions.None;

    private readonly Stream _transport;
    private readonly MuxLinkLimits _limits;
    private readonly LogThrottle _throttle;
    private readonly MuxWriteQueue _writer;
    private readonly MuxStreamTable _streams;
    private readonly Func<MuxStream, string, string, Task>? _onOpen;
    private readonly Action<Task>? _track;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource<string> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
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
        _streams = new MuxStreamTable(_limits.MaxStreams);
        _writer = new MuxWriteQueue(transport, _limits, _throttle, track, Close, _stop.Token);
        Window = window;
        _onOpen = onOpen;
        _track = track;
    }

    public int Window { get; }

    /// <summary>Streams open now.</summary>
    public int StreamCount => _streams.Count;

    /// <summary>The most streams open at once (<see cref="MuxLinkLimits.MaxStreams"/>).</summary>
    public int MaxStreams => _streams.MaxStreams;

    /// <summary>True when the link carries its most streams: <see cref="Open"/> would fail.</summary>
    public bool IsFull => _streams.IsFull;

    /// <summary>Bytes of frames queued for the transport now.</summary>
    internal int QueuedBytes => _writer.QueuedBytes;

    /// <summary>True while the read loop waits for the answers it queued to drain (the peer does not read them).</summary>
    internal bool ReadsPaused => _writer.ReadsPaused;

    /// <summary>True once the link has failed or been closed.</summary>
    public bool IsClosed => _writer.IsClosed;

    /// <summary>Completes with the reason when the link ends.</summary>
    public Task<string> Completion => _completion.Task;

    /// <summary>Starts reading frames.</summary>
    public void Start()
    {
        _writer.Start();
        _reading = ReadLoopAsync(_stop.Token);
    }

    /// <summary>
    /// Opens a stream to the peer for a visitor of <paramref name="url"/>; bytes may be written at once (no round trip).
    /// Throws IOException when the link is closed, <see cref="MuxStreamLimitException"/> when it carries its most streams.
    /// </summary>
    public MuxStream Open(string url, string clientAddress)
    {
        if (!_streams.TryReserve())
        {
            TunnelMetrics.LinkRefusedStreams.Add(1, new KeyValuePair<string, object?>("side", "local"));
            throw new MuxStreamLimitException(string.Create(CultureInfo.InvariantCulture,
                $"The multiplexed link carries {_limits.MaxStreams} streams, the most it may; the visitor waits for one to end or is refused (raise MaxStreamsPerLink, or LinkCount on the client, for more)."));
        }
        var stream = new MuxStream(this, _streams.NextId(), Window);
        _streams.Add(stream);
        var length = MuxFrame.OpenPayloadLength(url, clientAddress);
        if (length > MuxFrame.MaxPayload)
        {
            _streams.TryRemove(stream.Id, out _);
            throw new ArgumentException("The tunnel URL and visitor address are too long for one frame.", nameof(url));
        }
        var frame = ArrayPool<byte>.Shared.Rent(MuxFrame.HeaderLength + length);
        MuxFrame.WriteHeader(frame, MuxFrameType.Open, length, stream.Id);
        MuxFrame.WriteOpenPayload(frame.AsSpan(MuxFrame.HeaderLength, length), url, clientAddress);
        if (!_writer.Enqueue(frame, MuxFrame.HeaderLength + length))
        {
            _streams.TryRemove(stream.Id, out _);
            throw new IOException("The multiplexed link is closed.");
        }
        return stream;
    }

    /// <summary>Sends a Ping (keeps middleboxes from expiring an idle link).</summary>
    public void Ping() => SendControl(MuxFrameType.Ping, 0);

    /// <summary>Queues <paramref name="payload"/> as Data frames of <paramref name="stream"/>; false when the link is closed.</summary>
    internal bool SendData(uint stream, ReadOnlySpan<byte> payload) => _writer.SendData(stream, payload);

    internal void SendWindow(uint stream, int credit)
    {
        var frame = ArrayPool<byte>.Shared.Rent(MuxFrame.HeaderLength + 4);
        MuxFrame.WriteHeader(frame, MuxFrameType.Window, 4, stream);
        BinaryPrimitives.WriteInt32LittleEndian(frame.AsSpan(MuxFrame.HeaderLength), credit);
        _writer.Enqueue(frame, MuxFrame.HeaderLength + 4);
    }

    internal void SendControl(MuxFrameType type, uint stream)
    {
        var frame = ArrayPool<byte>.Shared.Rent(MuxFrame.HeaderLength);
        MuxFrame.WriteHeader(frame, type, 0, stream);
        _writer.Enqueue(frame, MuxFrame.HeaderLength);
    }

    internal void Forget(MuxStream stream) => _streams.Forget(stream);

    /// <summary>Completes when the bytes queued for the transport are below the limit again (writers pace themselves on it).</summary>
    internal ValueTask WaitForRoomAsync(CancellationToken cancellationToken) => _writer.WaitForRoomAsync(cancellationToken);

    /// <summary>Ends the link: every stream is reset, the transport closed, <see cref="Completion"/> completed.</summary>
    public void Close(string reason)
    {
        if (!_writer.Close())
        {
            return;
        }
        try
        {
            _stop.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Handled: nothing is left to cancel once the source is gone.
        }
        _streams.ResetAll("the multiplexed link closed: " + reason);
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
            // Handled: the read loop ends this way when the link closes under it; Completion holds the reason.
        }
    }
}
