using System.Net;
using System.Net.Sockets;
using System.Text;
using TunnelPS.Engine.Http;

namespace TunnelPS.Engine.Tests.Inspection;

/// <summary>A small keep-alive HTTP/1.1 server on 127.0.0.1, port 0, built on the framing layer; records what it receives.</summary>
internal sealed class TestHttpServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Func<HttpRequestHead, byte[], byte[]> _respond;
    private readonly Task _acceptLoop;
    private readonly List<Task> _connections = [];

    public TestHttpServer(Func<HttpRequestHead, byte[], byte[]> respond)
    {
        _respond = respond;
        _listener.Start();
        _acceptLoop = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public Uri Uri => new($"http://127.0.0.1:{Port}/");

    public List<(HttpRequestHead Head, byte[] Body)> Received { get; } = [];

    public static byte[] Response(int status, string reason, string body, params string[] headers)
    {
        var sb = new StringBuilder($"HTTP/1.1 {status} {reason}\r\n");
        foreach (var h in headers)
        {
            sb.Append(h).Append("\r\n");
        }
        sb.Append("Content-Length: ").Append(Encoding.UTF8.GetByteCount(body)).Append("\r\n\r\n").Append(body);
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                client.NoDelay = true;
                lock (_connections)
                {
                    _connections.Add(ServeAsync(client));
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
        catch (InvalidOperationException) when (_stop.IsCancellationRequested)
        {
            // Stopped between two accepts: the listener is no longer listening.
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using var connection = client;
        var stream = client.GetStream();
        var buffer = new byte[128 * 1024];
        var count = 0;
        try
        {
            while (true)
            {
                HttpRequestHead? head;
                int headLength;
                while (!HttpHeadParser.TryParseRequestHead(buffer.AsSpan(0, count), out head, out headLength))
                {
                    var read = await stream.ReadAsync(buffer.AsMemory(count), _stop.Token);
                    if (read == 0)
                    {
                        return;
                    }
                    count += read;
                }
                Array.Copy(buffer, headLength, buffer, 0, count - headLength);
                count -= headLength;
                var framer = HttpBodyFramer.ForRequest(head);
                var body = new MemoryStream();
                var sink = new Sink(body);
                while (!framer.IsComplete)
                {
                    var used = framer.Advance(buffer.AsSpan(0, count), sink, out _);
                    Array.Copy(buffer, used, buffer, 0, count - used);
                    count -= used;
                    if (framer.IsComplete)
                    {
                        break;
                    }
                    var read = await stream.ReadAsync(buffer.AsMemory(count), _stop.Token);
                    if (read == 0)
                    {
                        return;
                    }
                    count += read;
                }
                var bytes = body.ToArray();
                lock (Received)
                {
                    Received.Add((head, bytes));
                }
                await stream.WriteAsync(_respond(head, bytes), _stop.Token);
                if (!head.KeepAlive)
                {
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or HttpParseException)
        {
        }
    }

    private sealed class Sink(MemoryStream stream) : IHttpBodySink
    {
        public void OnBodyData(ReadOnlySpan<byte> data) => stream.Write(data);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _acceptLoop;
        Task[] connections;
        lock (_connections)
        {
            connections = [.. _connections];
        }
        await Task.WhenAll(connections).WaitAsync(TimeSpan.FromSeconds(10));
        _stop.Dispose();
    }
}
