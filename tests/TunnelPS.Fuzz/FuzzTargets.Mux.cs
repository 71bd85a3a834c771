using System.Buffers;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Fuzz;

/// <summary>The multiplexed link's target (see <see cref="MuxFrames"/>).</summary>
internal static partial class FuzzTargets
{
    /// <summary>The cap on streams of the link the target runs: small, so that inputs reach it.</summary>
    private const int MuxStreamCap = 4;

    /// <summary>
    /// The multiplexed link's frame reader (<see cref="MuxFrame.TryRead"/>, <see cref="MuxFrame.TryReadOpenPayload"/>),
    /// then a whole <see cref="MuxLink"/> on the client's side (it accepts streams) fed the input as its peer's bytes in
    /// reads whose sizes the first input byte seeds. Promises: the frames read from one piece and from the input split
    /// into many are the same, and together with what is left they are the input; an Open payload whose text is valid
    /// UTF-8 writes back to the same bytes; the link ends over memory without waiting, with a reason and never with an
    /// exception outside its contract (IOException and the like end a link; anything else escapes its dispose); it
    /// never hands out a stream beyond its cap, and once closed it holds no stream and nothing queued.
    /// </summary>
    public static void MuxFrames(ReadOnlySpan<byte> input)
    {
        var bytes = input.ToArray();
        var seed = bytes.Length > 0 ? bytes[0] : (byte)0;
        var whole = ReadMuxFrames(new ReadOnlySequence<byte>(bytes), out var left);
        var split = ReadMuxFrames(SplitSequence(bytes, seed), out var leftSplit);
        Check(whole.Count == split.Count && left == leftSplit, $"{whole.Count} frames ({left} bytes left) from one piece, {split.Count} ({leftSplit} left) from many.");
        var consumed = 0L;
        for (var i = 0; i < whole.Count; i++)
        {
            Check(whole[i].Type == split[i].Type && whole[i].Stream == split[i].Stream && whole[i].Payload.AsSpan().SequenceEqual(split[i].Payload),
                $"Frame {i} differs when the input is split ({whole[i].Type} on {whole[i].Stream}, {whole[i].Payload.Length} bytes).");
            consumed += MuxFrame.HeaderLength + whole[i].Payload.Length;
            if (whole[i].Type == MuxFrameType.Open && MuxFrame.TryReadOpenPayload(whole[i].Payload, out var url, out var address) is null
                && !url.Contains('\uFFFD', StringComparison.Ordinal) && !address.Contains('\uFFFD', StringComparison.Ordinal))
            {
                var again = new byte[MuxFrame.OpenPayloadLength(url, address)];
                MuxFrame.WriteOpenPayload(again, url, address);
                Check(again.AsSpan().SequenceEqual(whole[i].Payload), $"An Open payload of {whole[i].Payload.Length} bytes writes back as {again.Length} different bytes.");
            }
        }
        Check(consumed + left == bytes.Length, $"{consumed} bytes of frames and {left} left of {bytes.Length}.");
        RunMuxLink(bytes, seed);
    }

    private readonly record struct MuxFrameRead(MuxFrameType Type, uint Stream, byte[] Payload);

    private static List<MuxFrameRead> ReadMuxFrames(ReadOnlySequence<byte> buffer, out long left)
    {
        var frames = new List<MuxFrameRead>();
        while (MuxFrame.TryRead(ref buffer, out var type, out var stream, out var payload))
        {
            frames.Add(new MuxFrameRead(type, stream, payload.ToArray()));
        }
        left = buffer.Length;
        return frames;
    }

    private static void RunMuxLink(byte[] bytes, byte seed)
    {
        MuxLink? link = null;
        var limits = new MuxLinkLimits { MaxStreams = MuxStreamCap, WriteTimeout = TimeSpan.FromDays(1) };
        link = new MuxLink(new ScriptedPeerStream(bytes, seed), 16 * 1024, (stream, _, _) =>
        {
            Check(link!.StreamCount <= MuxStreamCap, $"The link handed out stream {stream.Id} with {link.StreamCount} open, above its cap of {MuxStreamCap}.");
            return Task.CompletedTask;
        }, track: null, limits);
        link.Start();
        var ended = link.Completion.IsCompleted;
        // Rethrows what escaped the read loop outside its contract.
        link.DisposeAsync().AsTask().GetAwaiter().GetResult();
        Check(ended, "The link did not end by itself over an in-memory peer that had sent everything.");
        Check(!string.IsNullOrEmpty(link.Completion.Result), "The link ended without a reason.");
        Check(link.StreamCount == 0 && link.QueuedBytes == 0, $"A closed link holds {link.StreamCount} streams and {link.QueuedBytes} queued bytes.");
    }

    /// <summary>The input as a sequence of many segments, their sizes from <see cref="ReadSizes"/>.</summary>
    private static ReadOnlySequence<byte> SplitSequence(byte[] bytes, byte seed)
    {
        if (bytes.Length == 0)
        {
            return ReadOnlySequence<byte>.Empty;
        }
        var sizes = new ReadSizes(seed);
        var first = new Segment(bytes.AsMemory(0, 0), 0);
        var last = first;
        for (var offset = 0; offset < bytes.Length;)
        {
            var size = Math.Min(bytes.Length - offset, Math.Max(1, sizes.Next()));
            last = last.Append(bytes.AsMemory(offset, size));
            offset += size;
        }
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }

    /// <summary>A peer that has sent the input (handed out in reads seeded like the split) and reads nothing back.</summary>
    private sealed class ScriptedPeerStream(byte[] input, byte seed) : Stream
    {
        private ReadSizes _sizes = new(seed);
        private int _offset;

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var n = Math.Min(Math.Min(buffer.Length, input.Length - _offset), Math.Max(1, _sizes.Next()));
            input.AsSpan(_offset, n).CopyTo(buffer.Span);
            _offset += n;
            return ValueTask.FromResult(n);
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;
        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => Task.CompletedTask;
        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) { }
    }
}
