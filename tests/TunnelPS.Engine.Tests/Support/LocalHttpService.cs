using System.Net;
using System.Net.Sockets;
using System.Text;

namespace TunnelPS.Engine.Tests.Support;

/// <summary>
/// A small HTTP/1.1 service on 127.0.0.1 (port 0) for tests: answers each request with a status and a body that a
/// handler chooses, keeps connections alive, and records the request heads it saw.
/// </summary>
internal sealed class LocalHttpService : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Func<string, string, (int Status, string Body)> _handler;
    private readonly Task _loop;
    private int _connections;

    /// <param name="handler">Chooses the status and body of each answer from the method and target.</param>
    /// <param name="port">The port to listen on (0: a free one); a given port lets a test bring a stopped service back.</param>
    public LocalHttpService(Func<string, string, (int Status, string Body)>? handler = null, int port = 0)
    {
        _listener = new TcpListener(IPAddress.Loopback, port);
        _handler = handler ?? ((method, target) => (200, $"hello {method} {target}"));
        _listener.Start();
        _loop = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;
    public int ConnectionCount => Volatile.Read(ref _connections);

    /// <summary>Awaited before each response is written (lets a test hold a response back).</summary>
    public Func<Task>? BeforeRespond { get; set; }
    public List<string> Heads { get; } = [];

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                Interlocked.Increment(ref _connections);
                _ = ServeAsync(client);
            }
        }
        catch (Exception) when (_stop.IsCancellationRequested)
        {
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            client.NoDelay = true;
            var stream = client.GetStream();
            var buffer = new byte[64 * 1024];
            var filled = 0;
            try
            {
                while (true)
                {
                    int headEnd;
                    while ((headEnd = IndexOf(buffer, filled, "\r\n\r\n"u8)) < 0)
                    {
                        var n = await stream.ReadAsync(buffer.AsMemory(filled), _stop.Token);
                        if (n == 0)
                        {
                            return;
                        }
                        filled += n;
                    }
                    var head = Encoding.ASCII.GetString(buffer, 0, headEnd);
                    lock (Heads)
                    {
                        Heads.Add(head);
                    }
                    var lines = head.Split("\r\n");
                    var parts = lines[0].Split(' ');
                    var contentLength = 0;
                    foreach (var line in lines.Skip(1))
                    {
                        if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
                        {
                            contentLength = int.Parse(line[15..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
                        }
                    }
                    var consumed = headEnd + 4;
                    var inBuffer = Math.Min(contentLength, filled - consumed);
                    consumed += inBuffer;
                    Buffer.BlockCopy(buffer, consumed, buffer, 0, filled - consumed);
                    filled -= consumed;
                    // Discard the rest of the body as it arrives (bodies may be far larger than the buffer).
                    for (var left = contentLength - inBuffer; left > 0;)
                    {
                        var n = await stream.ReadAsync(buffer.AsMemory(0, Math.Min(left, buffer.Length)), _stop.Token);
                        if (n == 0)
                        {
                            return;
                        }
                        left -= n;
                    }
                    if (BeforeRespond is { } gate)
                    {
                        await gate();
                    }
                    var (status, body) = _handler(parts[0], parts[1]);
                    var bodyBytes = Encoding.UTF8.GetBytes(body);
                    var response = Encoding.ASCII.GetBytes(
                        $"HTTP/1.1 {status} {(status == 200 ? "OK" : "Status")}\r\nContent-Type: text/plain\r\nContent-Length: {bodyBytes.Length}\r\n\r\n");
                    await stream.WriteAsync(response.Concat(parts[0] == "HEAD" ? [] : bodyBytes).ToArray(), _stop.Token);
                }
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException or SocketException)
            {
            }
        }
    }

    private static int IndexOf(byte[] buffer, int length, ReadOnlySpan<byte> value) => buffer.AsSpan(0, length).IndexOf(value);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _loop;
        }
        catch (Exception ex) when (ex is ObjectDisposedException or SocketException)
        {
        }
    }
}
