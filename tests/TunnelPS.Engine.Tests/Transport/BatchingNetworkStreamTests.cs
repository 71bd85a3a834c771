using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using TunnelPS.Engine.Tests.Support;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Tests.Transport;

/// <summary>The socket stream under a link: plain until batching is on, then reads ahead and sends on flush (real loopback sockets).</summary>
public sealed class BatchingNetworkStreamTests
{
    private static async Task<(BatchingNetworkStream Stream, Socket Peer)> PairAsync()
    {
        var (socket, peer) = await LoopbackSocketPair.OpenAsync();
        return (new BatchingNetworkStream(socket), peer);
    }

    private static async Task<byte[]> ReceiveAsync(Socket peer, int count, CancellationToken token)
    {
        var all = new byte[count];
        for (var got = 0; got < count;)
        {
            var n = await peer.ReceiveAsync(all.AsMemory(got), SocketFlags.None, token);
            Assert.True(n > 0, $"the connection closed after {got} of {count} bytes");
            got += n;
        }
        return all;
    }

    [Fact]
    public async Task Until_batching_is_on_a_write_leaves_at_once()
    {
        var (stream, peer) = await PairAsync();
        using var _ = peer;
        await using var __ = stream;
        using var deadline = new CancellationTokenSource(TunnelHarness.Deadline);
        await stream.WriteAsync(new byte[] { 1, 2, 3 }, deadline.Token);
        Assert.Equal(new byte[] { 1, 2, 3 }, await ReceiveAsync(peer, 3, deadline.Token));
        Assert.False(stream.IsBatching);
    }

    [Fact]
    public async Task With_batching_writes_wait_for_the_flush_and_leave_in_order()
    {
        var (stream, peer) = await PairAsync();
        using var _ = peer;
        await using var __ = stream;
        using var deadline = new CancellationTokenSource(TunnelHarness.Deadline);
        stream.EnableBatching();
        var small = RandomNumberGenerator.GetBytes(1000);
        var large = RandomNumberGenerator.GetBytes(BatchingNetworkStream.CoalesceSize + 12345);
        var tail = RandomNumberGenerator.GetBytes(77);
        await stream.WriteAsync(small, deadline.Token);
        // On loopback a send is in the peer's receive queue when it returns: nothing may be there before the flush.
        Assert.Equal(0, peer.Available);
        await stream.WriteAsync(large, deadline.Token);
        await stream.WriteAsync(tail, deadline.Token);
        stream.Write(tail, 0, tail.Length);
        await stream.FlushAsync(deadline.Token);
        var expected = small.Concat(large).Concat(tail).Concat(tail).ToArray();
        Assert.Equal(expected, await ReceiveAsync(peer, expected.Length, deadline.Token));
    }

    [Fact]
    public async Task A_read_takes_what_is_there_and_later_reads_come_from_memory()
    {
        var (stream, peer) = await PairAsync();
        using var _ = peer;
        await using var __ = stream;
        using var deadline = new CancellationTokenSource(TunnelHarness.Deadline);
        stream.EnableBatching();
        var sent = RandomNumberGenerator.GetBytes(50_000);
        await peer.SendAsync(sent, SocketFlags.None, deadline.Token);
        await TunnelHarness.WaitUntilAsync(() => stream.Socket.Available == sent.Length, "the bytes are in the receive queue");

        var first = new byte[10];
        Assert.Equal(10, await stream.ReadAsync(first, deadline.Token));
        Assert.Equal(0, stream.Socket.Available);
        // A zero-byte read (TLS waits with one) must see the bytes held here, not wait for new ones from the network.
        var zero = stream.ReadAsync(Memory<byte>.Empty, deadline.Token);
        Assert.True(zero.IsCompleted, "a zero-byte read with bytes held must complete at once");
        Assert.Equal(0, await zero);
        var rest = new byte[sent.Length - 10];
        for (var got = 0; got < rest.Length;)
        {
            var read = got % 2 == 0
                ? await stream.ReadAsync(rest.AsMemory(got, Math.Min(4096, rest.Length - got)), deadline.Token)
                : stream.Read(rest, got, Math.Min(333, rest.Length - got));
            got += read;
        }
        Assert.Equal(sent, first.Concat(rest).ToArray());
    }

    [Fact]
    public async Task TLS_over_a_batching_stream_carries_bulk_and_small_messages_intact()
    {
        using var certificate = CertificateStore.CreateSelfSigned("batching.localhost");
        var (stream, peer) = await PairAsync();
        using var deadline = new CancellationTokenSource(TunnelHarness.Deadline);
        await using var client = new PeerSslStream(stream, (_, _, _, _) => true);
        await using var server = new SslStream(new NetworkStream(peer, ownsSocket: true));
        await Task.WhenAll(
            client.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "batching.localhost" }, deadline.Token),
            server.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = certificate }, deadline.Token));
        Assert.Same(stream, BatchingNetworkStream.Find(client));
        stream.EnableBatching();

        // Many records per flush one way, then many small flushed messages the other way read through the read-ahead.
        var bulk = RandomNumberGenerator.GetBytes(3 * 1024 * 1024 + 17);
        var send = Task.Run(async () =>
        {
            for (var offset = 0; offset < bulk.Length; offset += 100_000)
            {
                await client.WriteAsync(bulk.AsMemory(offset, Math.Min(100_000, bulk.Length - offset)), deadline.Token);
                await client.FlushAsync(deadline.Token);
            }
        });
        var received = new byte[bulk.Length];
        await server.ReadExactlyAsync(received, deadline.Token);
        await send;
        Assert.Equal(bulk, received);

        for (var i = 0; i < 50; i++)
        {
            var message = RandomNumberGenerator.GetBytes(1 + i * 97);
            await server.WriteAsync(message, deadline.Token);
            var echo = new byte[message.Length];
            await client.ReadExactlyAsync(echo, deadline.Token);
            Assert.Equal(message, echo);
        }
    }
}
