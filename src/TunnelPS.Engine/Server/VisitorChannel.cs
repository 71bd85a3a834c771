using System.Runtime.CompilerServices;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Server;

/// <summary>
/// The visitor's end of a public connection: its stream, and the two timestamps its deadlines are checked against —
/// the last activity either way (idle) and the start of a write still under way (write progress). Every write to the
/// visitor goes through <see cref="WriteAsync"/>, from the connection's main loop or its response pump (never both at
/// once: the main loop writes only when no pump runs or after it has ended). As an <see cref="ISpliceObserver"/> it
/// counts the visitor's bytes of a raw relay as activity.
/// </summary>
internal sealed class VisitorChannel : ISpliceObserver
{
    private readonly TimeProvider _time;
    private long _lastActivity;
    private long _writeStarted;

    public VisitorChannel(Stream stream, TimeProvider time)
    {
        Stream = stream;
        _time = time;
        _lastActivity = time.GetTimestamp();
    }

    public Stream Stream { get; }

    /// <summary>When a byte last went either way (a TimeProvider timestamp).</summary>
    public long LastActivity => Interlocked.Read(ref _lastActivity);

    /// <summary>When the write under way began (a TimeProvider timestamp); 0 when none is.</summary>
    public long WriteStarted => Interlocked.Read(ref _writeStarted);

    public void Touch() => Interlocked.Exchange(ref _lastActivity, _time.GetTimestamp());

    /// <summary>A write to the visitor, watched by the write-progress deadline.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken token)
    {
        Interlocked.Exchange(ref _writeStarted, _time.GetTimestamp());
        try
        {
            await Stream.WriteAsync(data, token).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Exchange(ref _writeStarted, 0);
        }
    }

    /// <summary>Answers with <paramref name="page"/> and ends the write direction (the visitor may still read it all).</summary>
    public async Task AnswerAndCloseAsync(byte[] page, CancellationToken token)
    {
        await WriteAsync(page, token).ConfigureAwait(false);
        await Stream.FlushAsync(token).ConfigureAwait(false);
        await Splicer.ShutdownWriteAsync(Stream).ConfigureAwait(false);
    }

    public ValueTask ShutdownWriteAsync() => Splicer.ShutdownWriteAsync(Stream);

    void ISpliceObserver.OnVisitorData(ReadOnlySpan<byte> data) => Touch();

    void ISpliceObserver.OnLocalData(ReadOnlySpan<byte> data) => Touch();

    void ISpliceObserver.OnClosed()
    {
    }
}
