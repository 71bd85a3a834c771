using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using Microsoft.Extensions.Time.Testing;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Server;
using TunnelPS.Engine.Tests.Support;

namespace TunnelPS.Engine.Tests.Server;

/// <summary>
/// A TLS connection takes a handshake slot only once its whole ClientHello has arrived, and the hello has a short
/// deadline of its own: stalled hellos from many addresses cannot starve the handshake pool.
/// </summary>
public sealed class ClientHelloDeadlineTests
{
    private const int Addresses = 10;
    private const int PerAddress = 16;

    [Fact]
    public async Task Half_ClientHellos_from_many_addresses_delay_neither_an_HTTPS_visit_nor_a_client_login()
    {
        // Issue 16 item 3: 16 half hellos from each of 8+ addresses held every slot until the 10 s handshake deadline.
        var hello = await RecordedClientHello.RecordAsync();
        await using var local = new LocalHttpService();
        await using var server = await StartFloodedServerAsync();
        var stalled = await FloodAsync(server, hello.AsMemory(0, hello.Length / 2), "127.0.8");
        try
        {
            var tls = server.TlsHandler;
            await TunnelHarness.WaitUntilAsync(
                () => tls.ClientHellosPending + tls.HandshakesInProgress + tls.HandshakesWaiting >= Addresses * PerAddress,
                "the server holds every half hello");

            await LoginAndVisitAsync(server, local, "flooded");
            Assert.Equal(Addresses * PerAddress, tls.ClientHellosPending);
            await TunnelHarness.WaitUntilAsync(() => tls.HandshakesInProgress == 0, "the completed handshakes gave their slots back");
        }
        finally
        {
            stalled.ForEach(s => s.Dispose());
        }
    }

    [Fact]
    public async Task Handshakes_stalled_after_a_whole_ClientHello_from_many_addresses_delay_neither_an_HTTPS_visit_nor_a_client_login()
    {
        // The same flood with whole hellos (replayed bytes cost the sender nothing): each server answers, then waits
        // for a client that never goes on. Waiting, a handshake holds no slot.
        var hello = await RecordedClientHello.RecordAsync();
        await using var local = new LocalHttpService();
        await using var server = await StartFloodedServerAsync();
        var stalled = await FloodAsync(server, hello, "127.0.9");
        try
        {
            var tls = server.TlsHandler;
            await TunnelHarness.WaitUntilAsync(() => server.ConnectionCount >= Addresses * PerAddress && tls.ClientHellosPending == 0,
                "the server has read every hello");

            await LoginAndVisitAsync(server, local, "stalled");
            await TunnelHarness.WaitUntilAsync(() => tls.HandshakesInProgress == 0, "no handshake holds a slot while it waits");
        }
        finally
        {
            stalled.ForEach(s => s.Dispose());
        }
    }

    /// <summary>A server on a fake clock whose handshake deadline outlasts the test: only slots can stop the login.</summary>
    private static Task<TunnelServer> StartFloodedServerAsync() =>
        TunnelHarness.StartServerAsync(o => o with
        {
            TimeProvider = new FakeTimeProvider(DateTimeOffset.UtcNow),
            HandshakeTimeout = TimeSpan.FromMinutes(5),
            HeartbeatTimeout = TimeSpan.FromDays(1),
        });

    /// <summary><see cref="PerAddress"/> connections from each of <see cref="Addresses"/> addresses of <paramref name="subnet"/>, each sending <paramref name="bytes"/>.</summary>
    private static async Task<List<Socket>> FloodAsync(TunnelServer server, ReadOnlyMemory<byte> bytes, string subnet)
    {
        var sockets = new List<Socket>();
        for (var a = 1; a <= Addresses; a++)
        {
            for (var i = 0; i < PerAddress; i++)
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                sockets.Add(socket);
                socket.Bind(new IPEndPoint(IPAddress.Parse($"{subnet}.{a}"), 0));
                await socket.ConnectAsync(IPAddress.Loopback, server.Port);
                await socket.SendAsync(bytes);
            }
        }
        return sockets;
    }

    /// <summary>A client logs in and opens an https tunnel, and a visitor gets its page, each within the test's deadline.</summary>
    private static async Task LoginAndVisitAsync(TunnelServer server, LocalHttpService local, string name)
    {
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, name, name, "https")));
        var endpoint = Assert.Single(await client.StartAsync().WaitAsync(TunnelHarness.Deadline));
        using var http = TunnelHarness.Visitor(keepAlive: false);
        Assert.Equal("hello GET /", await http.GetStringAsync(endpoint.PublicUrl + "/").WaitAsync(TunnelHarness.Deadline));
    }

    [Fact]
    public async Task A_ClientHello_that_does_not_arrive_in_full_within_its_deadline_is_closed()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var hello = await RecordedClientHello.RecordAsync();
        await using var server = await TunnelHarness.StartServerAsync(o => o with
        {
            TimeProvider = time,
            ClientHelloTimeout = TimeSpan.FromSeconds(5),
            HandshakeTimeout = TimeSpan.FromSeconds(10),
            HeartbeatTimeout = TimeSpan.FromDays(1),
        });
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, server.Port);
        await socket.SendAsync(hello.AsMemory(0, hello.Length / 2));
        await TunnelHarness.WaitUntilAsync(() => server.TlsHandler.ClientHellosPending == 1, "the server reads the hello");

        time.Advance(TimeSpan.FromSeconds(4));
        Assert.Equal(1, server.TlsHandler.ClientHellosPending);
        Assert.Equal(0, server.TlsHandler.HandshakesInProgress);

        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(0, await ReceiveUntilClosedAsync(socket));
        await TunnelHarness.WaitUntilAsync(() => server.TlsHandler.ClientHellosPending == 0 && server.ConnectionCount == 0, "the connection is released");
    }

    [Fact]
    public async Task A_ClientHello_that_arrives_in_pieces_within_its_deadline_completes_the_handshake()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await TunnelHarness.StartServerAsync(o => o with
        {
            TimeProvider = time,
            ClientHelloTimeout = TimeSpan.FromSeconds(5),
            HeartbeatTimeout = TimeSpan.FromDays(1),
        });
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(IPAddress.Loopback, server.Port);
        var split = new SplitFirstWriteStream(new NetworkStream(socket, ownsSocket: false));
        await using var ssl = new SslStream(split, leaveInnerStreamOpen: true, (_, _, _, _) => true);
        var handshake = ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "localhost" });
        await split.FirstPieceSent.WaitAsync(TunnelHarness.Deadline);
        await TunnelHarness.WaitUntilAsync(() => server.TlsHandler.ClientHellosPending == 1, "the server reads the first piece");
        time.Advance(TimeSpan.FromSeconds(4));
        split.SendTheRest();
        await handshake.WaitAsync(TunnelHarness.Deadline);
        Assert.Equal(0, server.TlsHandler.ClientHellosPending);
    }

    [Fact]
    public async Task A_ClientHello_above_the_size_bound_is_refused_at_once()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await TunnelHarness.StartServerAsync(o => o with { TimeProvider = time, HeartbeatTimeout = TimeSpan.FromDays(1) });
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, server.Port);
        // A handshake record announcing a 1 MiB ClientHello, and its first bytes.
        byte[] start = [0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0x10, 0x00, 0x00, 0x03, 0x03];
        await socket.SendAsync(start);
        Assert.Equal(0, await ReceiveUntilClosedAsync(socket));
        Assert.Equal(0, server.TlsHandler.HandshakesInProgress);
    }

    [Fact]
    public async Task Bytes_that_are_not_a_TLS_handshake_are_closed_at_once_without_a_handshake_slot()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await TunnelHarness.StartServerAsync(o => o with { TimeProvider = time, HeartbeatTimeout = TimeSpan.FromDays(1) });
        using var visitor = await RawVisitor.ConnectAsync(server.Port);
        await visitor.SendAsync("GET / HTTP/1.1\r\nHost: plain.localhost\r\n\r\n");
        using var deadline = new CancellationTokenSource(TunnelHarness.Deadline);
        Assert.Equal(0, await ReadUntilClosedAsync(visitor.Stream, deadline.Token));
        Assert.Equal(0, server.TlsHandler.HandshakesInProgress);
    }

    /// <summary>Reads and discards until the server closes the connection; returns the last read's count (0).</summary>
    private static async Task<int> ReceiveUntilClosedAsync(Socket socket)
    {
        using var stream = new NetworkStream(socket, ownsSocket: false);
        using var deadline = new CancellationTokenSource(TunnelHarness.Deadline);
        return await ReadUntilClosedAsync(stream, deadline.Token);
    }

    private static async Task<int> ReadUntilClosedAsync(Stream stream, CancellationToken token)
    {
        var buffer = new byte[4096];
        try
        {
            while (await stream.ReadAsync(buffer, token) > 0)
            {
            }
        }
        catch (IOException ex) when (ex.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionReset })
        {
            // Closed with unread data in the server's buffer: a reset, which is a close too.
        }
        return 0;
    }

    /// <summary>Sends the first write (the ClientHello) in two pieces: the first half at once, the rest when the test says.</summary>
    private sealed class SplitFirstWriteStream(Stream inner) : Stream
    {
        private readonly TaskCompletionSource _firstPiece = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _rest = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _writes;

        public Task FirstPieceSent => _firstPiece.Task;

        public void SendTheRest() => _rest.TrySetResult();

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            inner.ReadAsync(buffer, offset, count, cancellationToken);

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (Interlocked.Increment(ref _writes) != 1)
            {
                await inner.WriteAsync(buffer, cancellationToken);
                return;
            }
            var half = buffer.Length / 2;
            await inner.WriteAsync(buffer[..half], cancellationToken);
            await inner.FlushAsync(cancellationToken);
            _firstPiece.TrySetResult();
            await _rest.Task.WaitAsync(TunnelHarness.Deadline, cancellationToken);
            await inner.WriteAsync(buffer[half..], cancellationToken);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
        public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count).GetAwaiter().GetResult();
        public override void Flush() => inner.Flush();
        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
