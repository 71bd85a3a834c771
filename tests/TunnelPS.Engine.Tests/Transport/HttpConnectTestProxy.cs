using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace TunnelPS.Engine.Tests.Transport;

/// <summary>
/// A scripted CONNECT proxy on 127.0.0.1:0 for edge cases a real proxy will not produce on demand. Each accepted
/// connection runs <c>handler</c>; the heads it read are recorded; failures in handlers surface on dispose.
/// </summary>
internal sealed class HttpConnectTestProxy : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly Func<TestProxyConnection, CancellationToken, Task> _handler;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentBag<Task> _connections = [];
    private readonly Task _acceptLoop;

    public HttpConnectTestProxy(Func<TestProxyConnection, CancellationToken, Task> handler)
    {
        _handler = handler;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _acceptLoop = AcceptLoopAsync();
    }

    public int Port { get; }

    public string Url => $"http://127.0.0.1:{Port}";

    /// <summary>Every request head received, in order (text up to and including the empty line).</summary>
    public ConcurrentQueue<string> Heads { get; } = new();

    public int Accepted => _connections.Count;

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            socket.NoDelay = true;
            _connections.Add(RunAsync(new TestProxyConnection(socket, Heads)));
        }
    }

    private async Task RunAsync(TestProxyConnection connection)
    {
        await using (connection)
        {
            try
            {
                await _handler(connection, _stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
            }
            catch (IOException)
            {
                // The client went away; the test asserts on what the client saw.
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _acceptLoop;
        await Task.WhenAll(_connections).WaitAsync(TimeSpan.FromSeconds(10));
        _stop.Dispose();
    }
}

/// <summary>One client connection to <see cref="HttpConnectTestProxy"/>.</summary>
internal sealed class TestProxyConnection : IAsyncDisposable
{
    private readonly ConcurrentQueue<string> _heads;
    private readonly List<byte> _pending = [];

    public TestProxyConnection(Socket socket, ConcurrentQueue<string> heads)
    {
        Socket = socket;
        Stream = new NetworkStream(socket, ownsSocket: true);
        _heads = heads;
    }

    public Socket Socket { get; }

    public NetworkStream Stream { get; }

    /// <summary>Reads one request head; null if the client closed first.</summary>
    public async Task<string?> ReadHeadAsync(CancellationToken cancellationToken)
    {
        var buffer = new byte[4096];
        while (true)
        {
            var text = Encoding.Latin1.GetString(_pending.ToArray());
            var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (end >= 0)
            {
                var head = text[..(end + 4)];
                _pending.RemoveRange(0, end + 4);
                _heads.Enqueue(head);
                return head;
            }
            var read = await Stream.ReadAsync(buffer, cancellationToken);
            if (read == 0)
            {
                return null;
            }
            _pending.AddRange(buffer.AsSpan(0, read).ToArray());
        }
    }

    public async Task WriteAsync(string text, CancellationToken cancellationToken) =>
        await Stream.WriteAsync(Encoding.Latin1.GetBytes(text), cancellationToken);

    /// <summary>Writes each byte separately (TCP_NODELAY is on), so the client sees the head across many reads.</summary>
    public async Task WriteByteByByteAsync(string text, CancellationToken cancellationToken)
    {
        foreach (var b in Encoding.Latin1.GetBytes(text))
        {
            await Stream.WriteAsync(new[] { b }, cancellationToken);
            await Stream.FlushAsync(cancellationToken);
        }
    }

    /// <summary>Acts as the tunnel's target: echoes everything back (bytes already read first) until the client closes.</summary>
    public async Task EchoAsync(CancellationToken cancellationToken)
    {
        if (_pending.Count > 0)
        {
            await Stream.WriteAsync(_pending.ToArray(), cancellationToken);
            _pending.Clear();
        }
        var buffer = new byte[4096];
        int read;
        while ((read = await Stream.ReadAsync(buffer, cancellationToken)) > 0)
        {
            await Stream.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
        }
    }

    /// <summary>Acts as a real proxy: relays both directions to <paramref name="upstream"/> until either side ends.</summary>
    public async Task RelayAsync(Stream upstream, CancellationToken cancellationToken)
    {
        if (_pending.Count > 0)
        {
            await upstream.WriteAsync(_pending.ToArray(), cancellationToken);
            _pending.Clear();
        }
        using var done = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var up = Stream.CopyToAsync(upstream, done.Token);
        var down = upstream.CopyToAsync(Stream, done.Token);
        await Task.WhenAny(up, down);
        await done.CancelAsync();
        try
        {
            await Task.WhenAll(up, down);
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Header value from a recorded head, or null.</summary>
    public static string? Header(string head, string name)
    {
        foreach (var line in head.Split("\r\n"))
        {
            if (line.StartsWith(name + ":", StringComparison.OrdinalIgnoreCase))
            {
                return line[(name.Length + 1)..].Trim();
            }
        }
        return null;
    }

    public async ValueTask DisposeAsync() => await Stream.DisposeAsync();
}
