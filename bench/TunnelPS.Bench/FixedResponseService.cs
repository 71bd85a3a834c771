using System.Net;
using System.Net.Sockets;
using System.Text;

namespace TunnelPS.Bench;

/// <summary>The "local service" of the benchmark: answers every request head with the same small response, keep-alive.</summary>
internal sealed class FixedResponseService : IDisposable
{
    private static readonly byte[] s_response = Encoding.ASCII.GetBytes(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, world!");

    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly CancellationTokenSource _stop = new();

    public FixedResponseService()
    {
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(512);
        _ = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndPoint!).Port;

    public static int ResponseLength => s_response.Length;

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var socket = await _listener.AcceptAsync(_stop.Token);
                socket.NoDelay = true;
                _ = ServeAsync(socket);
            }
        }
        catch (Exception) when (_stop.IsCancellationRequested)
        {
        }
    }

    private static async Task ServeAsync(Socket socket)
    {
        using (socket)
        {
            var buffer = new byte[16 * 1024];
            var filled = 0;
            try
            {
                while (true)
                {
                    var n = await socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None);
                    if (n == 0)
                    {
                        return;
                    }
                    filled += n;
                    int end;
                    var responses = 0;
                    var start = 0;
                    while ((end = buffer.AsSpan(start, filled - start).IndexOf("\r\n\r\n"u8)) >= 0)
                    {
                        start += end + 4;
                        responses++;
                    }
                    Buffer.BlockCopy(buffer, start, buffer, 0, filled - start);
                    filled -= start;
                    for (var i = 0; i < responses; i++)
                    {
                        await socket.SendAsync(s_response, SocketFlags.None);
                    }
                }
            }
            catch (SocketException)
            {
            }
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Dispose();
    }
}
