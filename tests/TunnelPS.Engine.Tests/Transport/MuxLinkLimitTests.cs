using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net.Sockets;
using Microsoft.Extensions.Time.Testing;
using TunnelPS.Engine.Tests.Support;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Tests.Transport;

/// <summary>
/// The bounds of one multiplexed link against a raw peer that breaks the rules: the answers it makes the link queue
/// (Pong, Reset) count against the link's queue, a link whose peer reads nothing is closed at its write deadline, and
/// the streams open at once are capped on both sides.
/// </summary>
public sealed class MuxLinkLimitTests
{
    /// <summary>What the link may hold queued for a peer that does not read: the control bound plus one read's answers.</summary>
    private const int QueueBound = MuxLink.ControlQueueLimit + MuxLink.ReadSize;

    /// <summary>A started link over one end of a loopback pair, and the raw socket of the other end.</summary>
    private static async Task<(Socket Peer, MuxLink Link)> RawPeerAsync(MuxLinkLimits limits, Func<MuxStream, string, string, Task>? accept = null)
    {
        var (peer, linkSide) = await LoopbackSocketPair.OpenAsync();
        // Small kernel buffers: little of what the link answers fits in them, so a peer that does not read stalls the
        // link's writes at once instead of after some megabytes.
        peer.ReceiveBufferSize = 16 * 1024;
        linkSide.SendBufferSize = 16 * 1024;
        var link = new MuxLink(new BatchingNetworkStream(linkSide), MuxLink.DefaultWindow, accept, track: null, limits);
        link.Start();
        return (peer, link);
    }

    private static byte[] Frame(MuxFrameType type, uint stream, ReadOnlySpan<byte> payload)
    {
        var frame = new byte[MuxFrame.HeaderLength + payload.Length];
        MuxFrame.WriteHeader(frame, type, payload.Length, stream);
        payload.CopyTo(frame.AsSpan(MuxFrame.HeaderLength));
        return frame;
    }

    private static byte[] OpenFrame(uint stream) => Frame(MuxFrameType.Open, stream, [1, 0, (byte)'u', 1, 0, (byte)'a']);

    /// <summary>Writes Ping frames until the link closes (or 16 MiB are out); never reads.</summary>
    private static async Task FloodPingsAsync(Socket peer)
    {
        var pings = new byte[64 * 1024];
        for (var i = 0; i < pings.Length; i += MuxFrame.HeaderLength)
        {
            MuxFrame.WriteHeader(pings.AsSpan(i), MuxFrameType.Ping, 0, 0);
        }
        try
        {
            for (var i = 0; i < 256; i++)
            {
                await peer.SendAsync(pings);
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // The link closed the connection: the flood is over.
        }
    }

    [Theory]
    [InlineData(false)] // the server's side: a client with a valid token opens a link and floods it
    [InlineData(true)] // the client's side: a server floods the admin's link
    public async Task A_peer_that_floods_pings_and_never_reads_is_held_to_the_queue_bound_and_closed_at_the_write_deadline(bool acceptsStreams)
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var limits = new MuxLinkLimits { WriteTimeout = TimeSpan.FromSeconds(30), TimeProvider = time };
        var (peer, link) = await RawPeerAsync(limits, acceptsStreams ? (_, _, _) => Task.CompletedTask : null);
        using (peer)
        await using (link)
        {
            var flood = Task.Run(() => FloodPingsAsync(peer));
            await TunnelHarness.WaitUntilAsync(() => link.ReadsPaused || link.QueuedBytes > QueueBound, "the link stops reading or queues past its bound");
            Assert.InRange(link.QueuedBytes, 0, QueueBound);

            // Nothing drains: the write deadline runs from the last write that completed.
            for (var second = 1; second <= 30; second++)
            {
                time.Advance(TimeSpan.FromSeconds(1));
                Assert.False(link.IsClosed, $"The link closed after {second} s, before its 30 s write deadline.");
                Assert.InRange(link.QueuedBytes, 0, QueueBound);
            }
            for (var second = 31; second <= 34 && !link.IsClosed; second++)
            {
                time.Advance(TimeSpan.FromSeconds(1));
            }
            Assert.True(link.IsClosed, "The link is still open 34 s after its writes stopped.");
            var reason = await link.Completion.WaitAsync(TunnelHarness.Deadline);
            Assert.Contains("read nothing for 30 s", reason, StringComparison.Ordinal);
            // What was queued for the peer went back to the pool.
            Assert.Equal(0, link.QueuedBytes);
            await flood.WaitAsync(TunnelHarness.Deadline);
        }
    }

    [Fact]
    public async Task A_peer_that_opens_more_streams_than_the_cap_gets_the_extra_ones_reset()
    {
        var accepted = new ConcurrentQueue<MuxStream>();
        var (peer, link) = await RawPeerAsync(new MuxLinkLimits { MaxStreams = 4 }, (stream, _, _) =>
        {
            accepted.Enqueue(stream);
            return Task.CompletedTask;
        });
        using (peer)
        await using (link)
        {
            using var deadline = new CancellationTokenSource(TunnelHarness.Deadline);
            using var network = new NetworkStream(peer, ownsSocket: false);
            // Ten Opens and a Ping in one write: the Pong comes after every answer to the Opens.
            var burst = Enumerable.Range(1, 10).SelectMany(i => OpenFrame((uint)i)).Concat(Frame(MuxFrameType.Ping, 0, [])).ToArray();
            await network.WriteAsync(burst, deadline.Token);
            Assert.Equal([5u, 6u, 7u, 8u, 9u, 10u], await ResetsUntilPongAsync(network, deadline.Token));
            Assert.Equal(4, accepted.Count);
            Assert.Equal(4, link.StreamCount);
            Assert.False(link.IsClosed);

            // A stream that ends makes room for the next one.
            await network.WriteAsync(Frame(MuxFrameType.Reset, 1, []).Concat(OpenFrame(11)).Concat(OpenFrame(12)).Concat(Frame(MuxFrameType.Ping, 0, [])).ToArray(), deadline.Token);
            Assert.Equal([12u], await ResetsUntilPongAsync(network, deadline.Token));
            Assert.Equal(5, accepted.Count);
            Assert.Equal(4, link.StreamCount);
        }
    }

    /// <summary>The ids of the Reset frames the link sends before its next Pong.</summary>
    private static async Task<List<uint>> ResetsUntilPongAsync(Stream network, CancellationToken token)
    {
        var resets = new List<uint>();
        var header = new byte[MuxFrame.HeaderLength];
        while (true)
        {
            await network.ReadExactlyAsync(header, token);
            var (type, length, id) = MuxFrame.ReadHeader(header);
            await network.ReadExactlyAsync(new byte[length], token);
            if (type == MuxFrameType.Pong)
            {
                return resets;
            }
            if (type == MuxFrameType.Reset)
            {
                resets.Add(id);
            }
        }
    }

    [Fact]
    public async Task Opening_a_stream_beyond_the_cap_fails_with_a_clear_error_and_leaves_the_link_working()
    {
        var (peer, link) = await RawPeerAsync(new MuxLinkLimits { MaxStreams = 2 });
        using (peer)
        await using (link)
        {
            var first = link.Open("http://a.localhost", "203.0.113.9:1");
            var second = link.Open("http://a.localhost", "203.0.113.9:2");
            var refused = Assert.Throws<MuxStreamLimitException>(() => link.Open("http://a.localhost", "203.0.113.9:3"));
            Assert.Contains("2 streams", refused.Message, StringComparison.Ordinal);
            Assert.Equal(2, link.StreamCount);

            await first.DisposeAsync();
            await using var third = link.Open("http://a.localhost", "203.0.113.9:3");
            Assert.Equal(2, link.StreamCount);
            Assert.False(link.IsClosed);
            await second.DisposeAsync();
        }
    }

    [Fact]
    public async Task Closing_a_link_hands_back_what_it_had_queued()
    {
        // A peer that never reads: a large write fills the queue, then the link is closed under it.
        var (peer, link) = await RawPeerAsync(MuxLinkLimits.Default);
        using (peer)
        {
            var stream = link.Open("http://a.localhost", "203.0.113.9:1");
            await stream.WriteAsync(new byte[MuxLink.DefaultWindow]).AsTask().WaitAsync(TunnelHarness.Deadline);
            await TunnelHarness.WaitUntilAsync(() => link.QueuedBytes > 0, "the link queues the write");
            await link.DisposeAsync();
            Assert.Equal(0, link.QueuedBytes);
            Assert.Equal(0, link.StreamCount);
        }
    }
}
