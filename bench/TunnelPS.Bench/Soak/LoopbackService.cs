using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

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
