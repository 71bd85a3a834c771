using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using TunnelPS.Engine.Tests.Support;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Tests.Transport;

/// <summary>The multiplexed link over a real loopback socket pair: streams, flow control, half-close, reset, interleaving.</summary>
public sealed class MuxLinkTests
{
    /// <summary>A connected pair of loopback TCP streams (batching socket streams, as under a real link).</summary>
    private static async Task<(Stream A, Stream B)> SocketPairAsync()
    {
        var (a, b) = await LoopbackSocketPair.OpenAsync();
        // The socket streams the links run on in production: each link switches its own to batching when it starts.
        return (new BatchingNetworkStream(a), new BatchingNetworkStream(b));
    }

    /// <summary>A server link and a client link whose accepted streams go to <paramref name="accept"/>.</summary>
    private static async Task<(MuxLink Server, MuxLink Client)> LinkPairAsync(Func<MuxStream, string, string, Task> accept, int window = MuxLink.DefaultWindow, Func<Stream, Stream>? wrapClient = null)
    {
        var (a, b) = await SocketPairAsync();
        var server = new MuxLink(a, window);
        var client = new MuxLink(wrapClient is null ? b : wrapClient(b), window, accept);
        server.Start();
        client.Start();
        return (server, client);
    }

    private static async Task<byte[]> ReadAllAsync(Stream stream, CancellationToken token)
    {
        using var all = new MemoryStream();
        var buffer = new byte[7919];
        int n;
        while ((n = await stream.ReadAsync(buffer, token)) > 0)
        {
            all.Write(buffer, 0, n);
        }
        return all.ToArray();
    }

    [Fact]
    public async Task A_stream_opens_without_a_round_trip_and_carries_bytes_both_ways()
    {
        var opened = new TaskCompletionSource<(string Url, string Address)>();
        var (server, client) = await LinkPairAsync(async (stream, url, address) =>
        {
            opened.TrySetResult((url, address));
            var request = new byte[5];
            await stream.ReadExactlyAsync(request);
            await stream.WriteAsync(Encoding.ASCII.GetBytes("echo:" + Encoding.ASCII.GetString(request)));
            stream.ShutdownWrite();
        });
        await using (server)
        await using (client)
        {
            using var deadline = new CancellationTokenSource(TunnelHarness.Deadline);
            await using var stream = server.Open("http://a.localhost", "203.0.113.9:4444");
            await stream.WriteAsync(Encoding.ASCII.GetBytes("hello"), deadline.Token);
            Assert.Equal("echo:hello", Encoding.ASCII.GetString(await ReadAllAsync(stream, deadline.Token)));
            Assert.Equal(("http://a.localhost", "203.0.113.9:4444"), await opened.Task.WaitAsync(deadline.Token));
        }
    }

    [Fact]
    public async Task A_writer_stops_at_the_window_until_the_reader_consumes()
    {
        const int window = 64 * 1024;
        var accepted = new TaskCompletionSource<MuxStream>();
        var (server, client) = await LinkPairAsync((stream, _, _) => { accepted.TrySetResult(stream); return Task.CompletedTask; }, window);
        await using (server)
        await using (client)
        {
            using var deadline = new CancellationTokenSource(TunnelHarness.Deadline);
            await using var stream = server.Open("u", "a");
            var payload = RandomNumberGenerator.GetBytes(window * 3);
            var write = stream.WriteAsync(payload, deadline.Token).AsTask();
            var receiver = await accepted.Task.WaitAsync(deadline.Token);
            await TunnelHarness.WaitUntilAsync(() => receiver.Buffered == window, "the receiver holds a full window");
            Assert.False(write.IsCompleted, "the writer must wait for credit beyond the window");
            Assert.Equal(window, receiver.Buffered);

            var received = new byte[payload.Length];
            await receiver.ReadExactlyAsync(received, deadline.Token);
            await write;
            Assert.Equal(payload, received);
            Assert.InRange(receiver.Buffered, 0, window);
        }
    }

    [Fact]
    public async Task A_stalled_stream_does_not_hold_up_the_others()
    {
        const int window = 32 * 1024;
        var streams = new ConcurrentDictionary<string, MuxStream>();
        var (server, client) = await LinkPairAsync((stream, url, _) => { streams[url] = stream; return Task.CompletedTask; }, window);
        await using (server)
        await using (client)
        {
            using var deadline = new CancellationTokenSource(TunnelHarness.Deadline);
            await using var stalled = server.Open("stalled", "a");
            var stuck = stalled.WriteAsync(new byte[window * 4], deadline.Token).AsTask();
            await TunnelHarness.WaitUntilAsync(() => streams.TryGetValue("stalled", out var s) && s.Buffered == window, "the stalled stream's window is full");

            await using var flowing = server.Open("flowing", "a");
            var payload = RandomNumberGenerator.GetBytes(4 * 1024 * 1024);
            var send = Task.Run(async () =>
            {
                await flowing.WriteAsync(payload, deadline.Token);
                flowing.ShutdownWrite();
            });
            await TunnelHarness.WaitUntilAsync(() => streams.ContainsKey("flowing"), "the second stream arrives");
            Assert.Equal(payload, await ReadAllAsync(streams["flowing"], deadline.Token));
            await send;
            Assert.False(stuck.IsCompleted);
        }
    }

    [Fact]
    public async Task Half_close_ends_one_direction_and_keeps_the_other()
    {
        var serverSaid = new TaskCompletionSource<string>();
        var (server, client) = await LinkPairAsync(async (stream, _, _) =>
        {
            var all = await ReadAllAsync(stream, CancellationToken.None);
            serverSaid.TrySetResult(Encoding.ASCII.GetString(all));
            // The server's side has ended; this side may still answer.
            await stream.WriteAsync(Encoding.ASCII.GetBytes("after your end"));
            stream.ShutdownWrite();
        });
        await using (server)
        await using (client)
        {
            using var deadline = new CancellationTokenSource(TunnelHarness.Deadline);
            await using var stream = server.Open("u", "a");
            await stream.WriteAsync(Encoding.ASCII.GetBytes("request"), deadline.Token);
            stream.ShutdownWrite();
            Assert.Equal("request", await serverSaid.Task.WaitAsync(deadline.Token));
            Assert.Equal("after your end", Encoding.ASCII.GetString(await ReadAllAsync(stream, deadline.Token)));
            await TunnelHarness.WaitUntilAsync(() => server.StreamCount == 0 && client.StreamCount == 0, "both sides forget the finished stream");
        }
    }

    [Fact]
    public async Task A_reset_fails_the_other_side_s_reads_and_writes()
    {
        var accepted = new TaskCompletionSource<MuxStream>();
        var (server, client) = await LinkPairAsync((stream, _, _) => { accepted.TrySetResult(stream); return Task.CompletedTask; });
        await using (server)
        await using (client)
        {
            using var deadline = new CancellationTokenSource(TunnelHarness.Deadline);
            var stream = server.Open("u", "a");
            await stream.WriteAsync(new byte[10], deadline.Token);
            var peer = await accepted.Task.WaitAsync(deadline.Token);
            var read = new byte[10];
            await peer.ReadExactlyAsync(read, deadline.Token);
            var pending = peer.ReadAsync(new byte[10], deadline.Token).AsTask();

            await stream.DisposeAsync();

            await Assert.ThrowsAsync<IOException>(() => pending);
            await Assert.ThrowsAsync<IOException>(() => peer.WriteAsync(new byte[1], deadline.Token).AsTask());
            await TunnelHarness.WaitUntilAsync(() => client.StreamCount == 0, "the client forgets the reset stream");
        }
    }

    [Fact]
    public async Task Closing_the_link_fails_every_stream()
    {
        var accepted = new TaskCompletionSource<MuxStream>();
        var (server, client) = await LinkPairAsync((stream, _, _) => { accepted.TrySetResult(stream); return Task.CompletedTask; });
        await using (client)
        {
            using var deadline = new CancellationTokenSource(TunnelHarness.Deadline);
            var stream = server.Open("u", "a");
            await stream.WriteAsync(new byte[1], deadline.Token);
            var peer = await accepted.Task.WaitAsync(deadline.Token);
            await peer.ReadExactlyAsync(new byte[1], deadline.Token);
            var pending = peer.ReadAsync(new byte[1], deadline.Token).AsTask();

            await server.DisposeAsync();

            await Assert.ThrowsAsync<IOException>(() => pending);
            Assert.Equal("the peer closed the link", await client.Completion.WaitAsync(deadline.Token));
            Assert.Throws<IOException>(() => server.Open("u", "a"));
        }
    }

    [Fact]
    public async Task A_peer_that_ignores_the_window_gets_the_stream_reset()
    {
        const int window = 16 * 1024;
        var (a, b) = await SocketPairAsync();
        var accepted = new TaskCompletionSource<MuxStream>();
        await using var victim = new MuxLink(b, window, (stream, _, _) => { accepted.TrySetResult(stream); return Task.CompletedTask; });
        victim.Start();
        await using (a)
        {
            using var deadline = new CancellationTokenSource(TunnelHarness.Deadline);
            // Open stream 1, then send it two windows' worth without waiting for credit.
            var open = Frame(1, 1, [0, 0, 0, 0]);
            await a.WriteAsync(open, deadline.Token);
            for (var i = 0; i < 3; i++)
            {
                await a.WriteAsync(Frame(2, 1, new byte[MuxFrame.MaxPayload]), deadline.Token);
            }
            var stream = await accepted.Task.WaitAsync(deadline.Token);
            // The reset comes back as a frame on the wire.
            var header = new byte[MuxFrame.HeaderLength];
            await a.ReadExactlyAsync(header, deadline.Token);
            Assert.Equal(MuxFrameType.Reset, MuxFrame.ReadHeader(header).Type);
            await Assert.ThrowsAsync<IOException>(async () =>
            {
                var buffer = new byte[4096];
                while (await stream.ReadAsync(buffer, deadline.Token) > 0)
                {
                }
            });
        }
    }

    [Fact]
    public async Task An_unknown_frame_closes_the_link_with_a_reason()
    {
        var (a, b) = await SocketPairAsync();
        await using var link = new MuxLink(b);
        link.Start();
        await using (a)
        {
            await a.WriteAsync(Frame(99, 0, []));
            var reason = await link.Completion.WaitAsync(TunnelHarness.Deadline);
            Assert.Contains("unexpected frame (type 99)", reason, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Answers_to_one_batch_of_frames_leave_in_one_write()
    {
        // Eight streams open and get 1 KiB each in one read; each handler answers as soon as its bytes are published,
        // on the link's read loop. The eight answers must leave together, not as eight writes.
        const int streams = 8;
        var payloads = Enumerable.Range(0, streams).Select(_ => RandomNumberGenerator.GetBytes(1024)).ToArray();
        using var batch = new MemoryStream();
        for (var i = 1; i <= streams; i++)
        {
            batch.Write(Frame(1, (uint)i, [1, 0, (byte)'u', 1, 0, (byte)'a']));
        }
        for (var i = 1; i <= streams; i++)
        {
            batch.Write(Frame(2, (uint)i, payloads[i - 1]));
        }
        var (a, b) = await SocketPairAsync();
        var transport = new BatchReadStream(b, (int)batch.Length);
        await using var link = new MuxLink(transport, MuxLink.DefaultWindow, async (stream, _, _) =>
        {
            var request = new byte[1024];
            await stream.ReadExactlyAsync(request);
            await stream.WriteAsync(request);
        });
        link.Start();
        await using (a)
        {
            using var deadline = new CancellationTokenSource(TunnelHarness.Deadline);
            await a.WriteAsync(batch.ToArray(), deadline.Token);
            var header = new byte[MuxFrame.HeaderLength];
            for (var k = 0; k < streams; k++)
            {
                await a.ReadExactlyAsync(header, deadline.Token);
                var (type, length, id) = MuxFrame.ReadHeader(header);
                Assert.Equal(MuxFrameType.Data, type);
                var echoed = new byte[length];
                await a.ReadExactlyAsync(echoed, deadline.Token);
                Assert.Equal(payloads[id - 1], echoed);
            }
            Assert.Equal(1, transport.Writes);
        }
    }

    /// <summary>The first read waits for the whole first batch of the peer's bytes; writes are counted.</summary>
    private sealed class BatchReadStream(Stream inner, int firstBatch) : Stream
    {
        private int _writes;
        private bool _first = true;

        public int Writes => Volatile.Read(ref _writes);

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_first && buffer.Length >= firstBatch)
            {
                _first = false;
                return await inner.ReadAtLeastAsync(buffer, firstBatch, throwOnEndOfStream: false, cancellationToken);
            }
            return await inner.ReadAsync(buffer, cancellationToken);
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _writes);
            return inner.WriteAsync(buffer, cancellationToken);
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }
            base.Dispose(disposing);
        }
    }

    private static byte[] Frame(byte type, uint stream, byte[] payload)
    {
        var frame = new byte[MuxFrame.HeaderLength + payload.Length];
        frame[0] = type;
        BinaryPrimitives.WriteUInt16LittleEndian(frame.AsSpan(2), (ushort)payload.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(4), stream);
        payload.CopyTo(frame, MuxFrame.HeaderLength);
        return frame;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(8)]
    public async Task Many_streams_over_randomly_split_reads_each_get_exactly_their_bytes(int seed)
    {
        // The client's side of the transport hands out bytes in random small pieces, so frame headers and payloads
        // are split at every possible place while 12 streams send random amounts both ways at once.
        var random = new Random(seed);
        const int streams = 12;
        var payloads = Enumerable.Range(0, streams).Select(_ => RandomNumberGenerator.GetBytes(random.Next(1, 300_000))).ToArray();
        var (server, client) = await LinkPairAsync(async (stream, url, _) =>
        {
            var received = await ReadAllAsync(stream, CancellationToken.None);
            // Echo what arrived, reversed, so each direction is checked.
            Array.Reverse(received);
            await stream.WriteAsync(received);
            stream.ShutdownWrite();
        }, window: 48 * 1024, wrapClient: inner => new RandomSplitStream(inner, seed));
        await using (server)
        await using (client)
        {
            using var deadline = new CancellationTokenSource(TunnelHarness.Deadline);
            var runs = payloads.Select(async (payload, i) =>
            {
                await using var stream = server.Open($"s{i}", "a");
                var send = Task.Run(async () =>
                {
                    for (var offset = 0; offset < payload.Length;)
                    {
                        var n = Math.Min(payload.Length - offset, 1 + ((offset * 31) % 70_000));
                        await stream.WriteAsync(payload.AsMemory(offset, n), deadline.Token);
                        offset += n;
                    }
                    stream.ShutdownWrite();
                });
                var echoed = await ReadAllAsync(stream, deadline.Token);
                await send;
                return echoed;
            }).ToArray();
            var results = await Task.WhenAll(runs);
            for (var i = 0; i < streams; i++)
            {
                var expected = (byte[])payloads[i].Clone();
                Array.Reverse(expected);
                Assert.Equal(expected, results[i]);
            }
        }
    }

    /// <summary>Reads hand out at most a random few bytes at a time; writes pass through.</summary>
    private sealed class RandomSplitStream(Stream inner, int seed) : Stream
    {
        private readonly Random _random = new(seed * 7919);

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var limit = _random.Next(3) == 0 ? _random.Next(1, 12) : _random.Next(1, 5000);
            return await inner.ReadAsync(buffer[..Math.Min(buffer.Length, limit)], cancellationToken);
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => inner.WriteAsync(buffer, cancellationToken);
        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => inner.WriteAsync(buffer, offset, count, cancellationToken);
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
