using System.Net;
using System.Net.Sockets;

namespace TunnelPS.Engine.Tests.Support;

/// <summary>
/// A loopback TCP relay to another loopback port, that a test can cut (every connection closed, new ones refused) and
/// mend: a network split between one process and a server the others still reach.
/// </summary>
internal sealed class TcpRelay : IAsyncDisposable
{
    private readonly int _target;
    private readonly object _gate = new();
    private readonly List<Socket> _open = [];
    private readonly List<Task> _work = [];
    private TcpListener? _listener;
    private Task? _accepting;

    public TcpRelay(int target)
    {
        _target = target;
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        Port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        Mend();
    }

    /// <summary>The port the relay listens on (the same after a cut and a mend).</summary>
    public int Port { get; }

    /// <summary>Listens again and relays new connections.</summary>
    public void Mend()
    {
        lock (_gate)
        {
            _listener = new TcpListener(IPAddress.Loopback, Port);
            _listener.Start();
            _accepting = AcceptAsync(_listener);
        }
    }

    /// <summary>Closes every relayed connection and stops listening (a connect is refused until <see cref="Mend"/>).</summary>
    public async Task CutAsync()
    {
        Task? accepting;
        lock (_gate)
        {
            _listener?.Stop();
            _listener = null;
            accepting = _accepting;
            foreach (var socket in _open)
            {
                socket.Dispose();
            }
            _open.Clear();
        }
        if (accepting is not null)
        {
            await accepting;
        }
    }

    private async Task AcceptAsync(TcpListener listener)
    {
        while (true)
        {
            Socket inbound;
            try
            {
                inbound = await listener.AcceptSocketAsync();
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                return; // The relay was cut.
            }
            var outbound = new Socket(SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await outbound.ConnectAsync(IPAddress.Loopback, _target);
            }
            catch (SocketException)
            {
                inbound.Dispose();
                outbound.Dispose();
                continue;
            }
            lock (_gate)
            {
                _open.Add(inbound);
                _open.Add(outbound);
                _work.Add(PumpAsync(inbound, outbound));
                _work.Add(PumpAsync(outbound, inbound));
            }
        }
    }

    private static async Task PumpAsync(Socket from, Socket to)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            while (true)
            {
                var n = await from.ReceiveAsync(buffer);
                if (n == 0)
                {
                    to.Shutdown(SocketShutdown.Send);
                    return;
                }
                await to.SendAsync(buffer.AsMemory(0, n));
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Cut, or the other side closed: the pump ends with its connection.
            from.Dispose();
            to.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await CutAsync();
        Task[] work;
        lock (_gate)
        {
            work = [.. _work];
        }
        await Task.WhenAll(work);
    }
}
