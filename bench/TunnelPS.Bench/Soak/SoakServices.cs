using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace TunnelPS.Bench.Soak;

/// <summary>
/// A local service of the soak, in the parent process: a listener on 127.0.0.1 whose connections are all tracked (so
/// the report can say how many the tunnel client still holds open) and closed when it stops.
/// </summary>
internal abstract class LoopbackService : IAsyncDisposable
{
    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<Socket, Task> _connections = new();
    private readonly Task _accepting;
    private long _accepted;

    protected LoopbackService()
    {
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(1024);
        _accepting = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndPoint!).Port;

    /// <summary>Connections open now.</summary>
    public int OpenConnections => _connections.Count;

    public long AcceptedConnections => Interlocked.Read(ref _accepted);

    protected CancellationToken Stopping => _stop.Token;

    protected abstract Task ServeAsync(HttpWire wire, CancellationToken token);

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                if (_stop.IsCancellationRequested)
                {
                    return;
                }
                await Task.Delay(10);
                continue;
            }
            socket.NoDelay = true;
            Interlocked.Increment(ref _accepted);
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _connections[socket] = done.Task;
            _ = RunAsync(socket, done);
        }
    }

    private async Task RunAsync(Socket socket, TaskCompletionSource done)
    {
        try
        {
            await using var stream = new NetworkStream(socket, ownsSocket: true);
            await ServeAsync(new HttpWire(stream), _stop.Token);
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException or InvalidDataException)
        {
            // The peer went away or sent garbage: this connection ends.
        }
        catch (Exception ex)
        {
            await Console.Error.WriteLineAsync("soak service: " + ex);
        }
        finally
        {
            _connections.TryRemove(socket, out _);
            done.TrySetResult();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        await _accepting;
        foreach (var socket in _connections.Keys)
        {
            socket.Dispose();
        }
        await Task.WhenAll(_connections.Values).WaitAsync(TimeSpan.FromSeconds(10));
        _stop.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>
/// The application behind the "app" tunnels: GET /small (13 bytes), GET /download/&lt;bytes&gt;, POST /upload (any
/// framing; answers the byte count), GET /ws with Upgrade (101, then echoes raw bytes), keep-alive unless asked not to.
/// </summary>
internal sealed class AppService : LoopbackService
{
    private static readonly byte[] s_small = Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, world!");
    private static readonly byte[] s_smallClose = Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nConnection: close\r\n\r\nHello, world!");
    private static readonly byte[] s_switch = Encoding.ASCII.GetBytes("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
    private static readonly byte[] s_notFound = Encoding.ASCII.GetBytes("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    private static readonly byte[] s_pattern = CreatePattern();

    private static byte[] CreatePattern()
    {
        var pattern = new byte[64 * 1024];
        for (var i = 0; i < pattern.Length; i++)
        {
            pattern[i] = (byte)('a' + (i % 26));
        }
        return pattern;
    }

    protected override async Task ServeAsync(HttpWire wire, CancellationToken token)
    {
        var stream = wire.Stream;
        while (await wire.ReadHeadAsync(token) is { } head)
        {
            var close = head.WantsClose;
            if (head.Method == "GET" && head.Target == "/small")
            {
                await stream.WriteAsync(close ? s_smallClose : s_small, token);
            }
            else if (head.Method == "GET" && head.Target.StartsWith("/download/", StringComparison.Ordinal)
                && long.TryParse(head.Target.AsSpan(10), NumberStyles.None, CultureInfo.InvariantCulture, out var size))
            {
                await stream.WriteAsync(Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture,
                    $"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {size}\r\n{(close ? "Connection: close\r\n" : "")}\r\n")), token);
                for (long sent = 0; sent < size;)
                {
                    var n = (int)Math.Min(s_pattern.Length, size - sent);
                    await stream.WriteAsync(s_pattern.AsMemory(0, n), token);
                    sent += n;
                }
            }
            else if (head.Method == "POST" && head.Target == "/upload")
            {
                var received = await wire.SkipBodyAsync(head, isResponse: false, token);
                var body = received.ToString(CultureInfo.InvariantCulture);
                await stream.WriteAsync(Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture,
                    $"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {body.Length}\r\n{(close ? "Connection: close\r\n" : "")}\r\n{body}")), token);
            }
            else if (head.Method == "GET" && head.Target == "/ws" && head.IsUpgrade)
            {
                await stream.WriteAsync(s_switch, token);
                var buffer = new byte[16 * 1024];
                int n;
                while ((n = await wire.ReadAsync(buffer, token)) > 0)
                {
                    await stream.WriteAsync(buffer.AsMemory(0, n), token);
                }
                return;
            }
            else
            {
                await wire.SkipBodyAsync(head, isResponse: false, token);
                await stream.WriteAsync(s_notFound, token);
            }
            if (close)
            {
                return;
            }
        }
    }
}

/// <summary>
/// The service behind the "garbage" tunnel: answers every request with bytes that are not an HTTP response, in turn
/// binary noise, a broken status line, a head with a broken field, and a head that never ends (over 64 KiB); half of
/// the time it then closes, the other half it keeps the connection open until the peer (the tunnel) closes it.
/// </summary>
internal sealed class GarbageService : LoopbackService
{
    private static readonly byte[][] s_answers =
    [
        [0x16, 0x03, 0x01, 0x00, 0xff, 0x00, 0x13, 0x37, 0xde, 0xad, 0xbe, 0xef, 0x0d, 0x0a, 0x0d, 0x0a],
        Encoding.ASCII.GetBytes("HTTP/1.1 2OO OK\r\nContent-Length: 2\r\n\r\nok"),
        Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nThis line has no colon\r\nContent-Length: 2\r\n\r\nok"),
        Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\n" + string.Concat(Enumerable.Repeat("X-Filler: " + new string('z', 1000) + "\r\n", 70))),
    ];

    private long _served;

    protected override async Task ServeAsync(HttpWire wire, CancellationToken token)
    {
        if (await wire.ReadHeadAsync(token) is null)
        {
            return;
        }
        var turn = Interlocked.Increment(ref _served);
        await wire.Stream.WriteAsync(s_answers[turn % s_answers.Length], token);
        if (turn % 2 == 0)
        {
            using var deadline = Loopback.Deadline(token, TimeSpan.FromSeconds(60));
            await wire.SkipAsync(long.MaxValue, deadline.Token);
        }
    }
}
