using System.Buffers.Text;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace TunnelPS.Bench.DataPath;

/// <summary>
/// The harness's own HTTP/1.1 client over one plain socket (TCP_NODELAY): GET with a given Host, read the head, then
/// exactly Content-Length body bytes, discarded. Optionally bound to a source address (127.0.x.y) so thousands of
/// connections spread over many addresses. Keep-alive: several requests may follow on one connection.
/// </summary>
internal sealed class BenchHttpConnection : IDisposable
{
    private const int BufferSize = 64 * 1024;

    private readonly Socket _socket;
    private readonly byte[] _buffer = new byte[BufferSize];

    private BenchHttpConnection(Socket socket) => _socket = socket;

    public static async Task<BenchHttpConnection> OpenAsync(IPEndPoint target, IPAddress? source = null, CancellationToken token = default)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            if (source is not null)
            {
                socket.Bind(new IPEndPoint(source, 0));
            }
            await socket.ConnectAsync(target, token);
            return new BenchHttpConnection(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Connects synchronously: the socket stays in blocking mode (an async operation would switch it to non-blocking
    /// and make every later synchronous call wait through the runtime's event loop), for <see cref="Download"/>.
    /// </summary>
    public static BenchHttpConnection OpenBlocking(IPEndPoint target)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            socket.Connect(target);
            return new BenchHttpConnection(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// One request and its response, read with blocking receives of up to 256 KiB on the calling thread (run it on a
    /// thread of its own): a download read the way curl reads one, without the thread pool's hand-off and spinning
    /// per receive, so the reader takes as little as it can of the two cores the paths under test share with it.
    /// Returns the body length.
    /// </summary>
    public long Download(byte[] request)
    {
        for (var sent = 0; sent < request.Length;)
        {
            sent += _socket.Send(request.AsSpan(sent));
        }
        var filled = 0;
        int headEnd;
        while ((headEnd = _buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8)) < 0)
        {
            if (filled == _buffer.Length)
            {
                throw new InvalidDataException("The response head is larger than 64 KiB.");
            }
            var n = _socket.Receive(_buffer.AsSpan(filled));
            if (n == 0)
            {
                throw new IOException("The connection closed before the response head ended.");
            }
            filled += n;
        }
        var length = CheckedContentLength(_buffer.AsSpan(0, headEnd));
        var remaining = length - (filled - headEnd - 4);
        var body = new byte[256 * 1024];
        while (remaining > 0)
        {
            var n = _socket.Receive(body.AsSpan(0, (int)Math.Min(body.Length, remaining)));
            if (n == 0)
            {
                throw new IOException($"The connection closed with {remaining} body bytes missing.");
            }
            remaining -= n;
        }
        return length;
    }

    public static byte[] Request(string host, string path) =>
        Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: tunnelps-bench\r\nAccept: */*\r\n\r\n");

    public async Task SendAsync(byte[] request, CancellationToken token = default)
    {
        var sent = 0;
        while (sent < request.Length)
        {
            sent += await _socket.SendAsync(request.AsMemory(sent), SocketFlags.None, token);
        }
    }

    /// <summary>
    /// Reads one response and returns its body length. <paramref name="readSize"/> and <paramref name="pause"/> make
    /// a slow reader (at most that many bytes per read, a pause after each); <paramref name="onBytes"/> sees progress.
    /// </summary>
    public async Task<long> ReadResponseAsync(CancellationToken token = default, int readSize = BufferSize, TimeSpan pause = default, Action<int>? onBytes = null)
    {
        var filled = 0;
        int headEnd;
        while ((headEnd = _buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8)) < 0)
        {
            if (filled == _buffer.Length)
            {
                throw new InvalidDataException("The response head is larger than 64 KiB.");
            }
            var n = await _socket.ReceiveAsync(_buffer.AsMemory(filled, Math.Min(readSize, _buffer.Length - filled)), SocketFlags.None, token);
            if (n == 0)
            {
                throw new IOException("The connection closed before the response head ended.");
            }
            filled += n;
            onBytes?.Invoke(n);
            if (pause > TimeSpan.Zero)
            {
                await Task.Delay(pause, token);
            }
        }
        var length = CheckedContentLength(_buffer.AsSpan(0, headEnd));
        var remaining = length - (filled - headEnd - 4);
        while (remaining > 0)
        {
            var n = await _socket.ReceiveAsync(_buffer.AsMemory(0, (int)Math.Min(Math.Min(readSize, _buffer.Length), remaining)), SocketFlags.None, token);
            if (n == 0)
            {
                throw new IOException($"The connection closed with {remaining} body bytes missing.");
            }
            remaining -= n;
            onBytes?.Invoke(n);
            if (pause > TimeSpan.Zero)
            {
                await Task.Delay(pause, token);
            }
        }
        return length;
    }

    /// <summary>One request and its response; the body length.</summary>
    public async Task<long> GetAsync(byte[] request, CancellationToken token = default)
    {
        await SendAsync(request, token);
        return await ReadResponseAsync(token);
    }

    /// <summary>The Content-Length of a 200 or 206 response head; throws for any other response.</summary>
    private static long CheckedContentLength(ReadOnlySpan<byte> head)
    {
        if (!head.StartsWith("HTTP/1.1 200"u8) && !head.StartsWith("HTTP/1.1 206"u8))
        {
            throw new InvalidDataException("Unexpected response: " + Encoding.ASCII.GetString(head[..Math.Min(head.Length, 200)]));
        }
        return ContentLength(head);
    }

    private static long ContentLength(ReadOnlySpan<byte> head)
    {
        while (!head.IsEmpty)
        {
            var end = head.IndexOf("\r\n"u8);
            var line = end < 0 ? head : head[..end];
            if (line.Length > 15 && Ascii.EqualsIgnoreCase(line[..15], "content-length:"u8)
                && Utf8Parser.TryParse(line[15..].Trim((byte)' '), out long value, out _))
            {
                return value;
            }
            head = end < 0 ? default : head[(end + 2)..];
        }
        throw new InvalidDataException("The response has no Content-Length.");
    }

    public void Dispose() => _socket.Dispose();
}
