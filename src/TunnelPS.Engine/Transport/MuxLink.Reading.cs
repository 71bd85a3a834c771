using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.IO.Pipelines;
using TunnelPS.Engine.Diagnostics;

namespace TunnelPS.Engine.Transport;

/// <summary>The read loop of a <see cref="MuxLink"/>: frames in, handed to their streams a batch at a time.</summary>
internal sealed partial class MuxLink
{
    /// <summary>Bytes read without handing them out beyond which the read loop hands out before reading on.</summary>
    private const int PublishThreshold = 128 * 1024;

    /// <summary>Streams that received data in the batch being read (the read loop's alone).</summary>
    private readonly List<MuxStream> _received = [];

    private async Task ReadLoopAsync(CancellationToken token)
    {
        var reason = "the peer closed the link";
        var input = PipeReader.Create(_transport, new StreamPipeReaderOptions(bufferSize: ReadSize, minimumReadSize: 4096, leaveOpen: true));
        try
        {
            var unpublished = 0L;
            while (true)
            {
                if (_writer.ControlBytes >= ControlQueueLimit)
                {
                    // The peer left the answers it asked for unread: hand out what was read (which starts the
                    // drain), then read nothing more until they drain; the write deadline ends a peer that never reads.
                    HandOutOrFlush(unpublished);
                    unpublished = 0;
                    await _writer.WaitForControlRoomAsync(token).ConfigureAwait(false);
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
                if (!DispatchAll(ref buffer, out var fatal))
                {
                    reason = fatal;
                    return;
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

    /// <summary>Hands out what was read when there is any; else starts writing what is queued.</summary>
    private void HandOutOrFlush(long unpublished)
    {
        if (unpublished > 0)
        {
            HandOut();
        }
        else
        {
            _writer.FlushQueued();
        }
    }

    /// <summary>Dispatches every whole frame of <paramref name="buffer"/>; false (with the reason) when the peer broke the protocol.</summary>
    private bool DispatchAll(ref ReadOnlySequence<byte> buffer, out string fatal)
    {
        fatal = "";
        _writer.SetDispatching(true);
        try
        {
            while (MuxFrame.TryRead(ref buffer, out var type, out var stream, out var payload))
            {
                if (!Dispatch(type, stream, payload, out fatal))
                {
                    return false;
                }
            }
            return true;
        }
        finally
        {
            _writer.SetDispatching(false);
        }
    }

    /// <summary>Ends a batch of frames: their data becomes readable, and what the readers queued in answer is written.</summary>
    private void HandOut()
    {
        _writer.SetDispatching(true);
        try
        {
            // One wake-up per stream rather than one per frame.
            foreach (var stream in _received)
            {
                stream.Publish();
            }
            _received.Clear();
        }
        finally
        {
            _writer.SetDispatching(false);
        }
        _writer.FlushQueued();
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
                ReceiveData(id, payload);
                return true;
            case MuxFrameType.Window:
                if (payload.Length == 4 && _streams.TryGet(id, out var credited))
                {
                    Span<byte> value = stackalloc byte[4];
                    payload.CopyTo(value);
                    credited.AddCredit(BinaryPrimitives.ReadInt32LittleEndian(value));
                }
                return true;
            case MuxFrameType.Fin:
                if (_streams.TryGet(id, out var finished))
                {
                    finished.Publish();
                    finished.FinishedByPeer();
                }
                return true;
            case MuxFrameType.Reset:
                if (_streams.TryRemove(id, out var reset))
                {
                    reset!.ResetByPeer("the peer reset the stream");
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

    private void ReceiveData(uint id, ReadOnlySequence<byte> payload)
    {
        if (!_streams.TryGet(id, out var target))
        {
            return;
        }
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

    private bool Accept(uint id, ReadOnlySequence<byte> payload, out string fatal)
    {
        var problem = MuxFrame.TryReadOpenPayload(payload.IsSingleSegment ? payload.FirstSpan : payload.ToArray(), out var url, out var address);
        if (problem is not null)
        {
            fatal = problem;
            return false;
        }
        fatal = "";
        if (_streams.Contains(id))
        {
            fatal = "the peer opened a stream id that is in use";
            return false;
        }
        if (!_streams.TryReserve())
        {
            // Beyond the cap the stream is refused, not the link: the peer's visitor fails, the others go on. The
            // Reset counts against the control bound like every answer, so a flood of Opens stalls only its sender.
            TunnelMetrics.LinkRefusedStreams.Add(1, new KeyValuePair<string, object?>("side", "peer"));
            _throttle.Warn("link-refused", suppressed => LinkLog.StreamRefused(_limits.Logger, _limits.Name, string.Create(CultureInfo.InvariantCulture,
                $"the peer opened more than {_limits.MaxStreams} streams at once (MaxStreamsPerLink); the extra ones are reset"), suppressed));
            SendControl(MuxFrameType.Reset, id);
            return true;
        }
        var stream = new MuxStream(this, id, Window);
        _streams.Add(stream);
        var handler = _onOpen!(stream, url, address);
        _track?.Invoke(handler);
        return true;
    }
}
