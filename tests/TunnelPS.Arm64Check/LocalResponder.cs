using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace TunnelPS.Arm64Check;

/// <summary>
/// A small HTTP/1.1 service on 127.0.0.1 (port 0), the local service behind the tunnels: answers every request with
/// 200 and "hello METHOD TARGET BODYLENGTH", keeps connections alive (until a request says Connection: close), and counts the requests it answered.
/// </summary>
internal sealed class LocalResponder : IAsyncDisposable
{
    private const int MaxHead = 16 * 1024;
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _connections = [];
    private readonly Task _accepting;
    private int _answered;

    public LocalResponder()
    {
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public int Answered => Volatile.Read(ref _answered);

    public static string AnswerTo(string method, string target, int bodyLength) =>
        string.Create(CultureInfo.InvariantCulture, $"hello {method} {target} {bodyLength}");

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Stop();
        Task[] connections;
        lock (_connections)
        {
            connections = [.. _connections];
        }
        // Every loop ends on cancellation or when its peer closes; their ends are observed here.
        await Task.WhenAll([_accepting, .. connections]).ConfigureAwait(false);
        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token).ConfigureAwait(false);
                lock (_connections)
                {
                    _connections.Add(ServeAsync(client));
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException && _stop.IsCancellationRequested)
        {
            // Stopped.
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            client.NoDelay = true;
            var stream = client.GetStream();
            var buffer = new byte[MaxHead * 2];
            var filled = 0;
            try
            {
                while (true)
                {
                    int headEnd;
                    while ((headEnd = buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8)) < 0)
                    {
                        if (filled >= MaxHead)
                        {
                            return;
                        }
                        var n = await stream.ReadAsync(buffer.AsMemory(filled, MaxHead - filled), _stop.Token).ConfigureAwait(false);
                        if (n == 0)
                        {
                            return;
                        }
                        filled += n;
                    }
                    var head = Encoding.ASCII.GetString(buffer, 0, headEnd);
                    var lines = head.Split("\r\n");
                    var start = lines[0].Split(' ');
                    var length = 0;
                    var close = false;
                    foreach (var line in lines.AsSpan(1))
                    {
                        if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
                        {
                            length = int.Parse(line.AsSpan(15).Trim(), NumberStyles.None, CultureInfo.InvariantCulture);
                        }
                        else if (line.Equals("Connection: close", StringComparison.OrdinalIgnoreCase))
                        {
                            close = true;
                        }
                    }
                    if (start.Length != 3 || length > MaxHead)
                    {
                        return;
                    }
                    var consumed = headEnd + 4 + length;
                    while (filled < consumed)
                    {
                        var n = await stream.ReadAsync(buffer.AsMemory(filled, consumed - filled), _stop.Token).ConfigureAwait(false);
                        if (n == 0)
                        {
                            return;
                        }
                        filled += n;
                    }
                    var body = Encoding.UTF8.GetBytes(AnswerTo(start[0], start[1], length));
                    var answer = Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture,
                        $"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {body.Length}\r\n\r\n"));
                    await stream.WriteAsync(answer.Concat(body).ToArray(), _stop.Token).ConfigureAwait(false);
                    Interlocked.Increment(ref _answered);
                    if (close)
                    {
                        return;
                    }
                    buffer.AsSpan(consumed, filled - consumed).CopyTo(buffer);
                    filled -= consumed;
                }
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException or SocketException or ObjectDisposedException)
            {
                // The peer (the tunnel client) closed the connection, or the responder stops: this connection is done.
            }
        }
    }
}
