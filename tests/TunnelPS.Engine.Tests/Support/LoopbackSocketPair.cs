using System.Net;
using System.Net.Sockets;

namespace TunnelPS.Engine.Tests.Support;

/// <summary>Two TCP sockets connected to each other over 127.0.0.1 (a port the system picks), TCP_NODELAY on both.</summary>
internal static class LoopbackSocketPair
{
    public static async Task<(Socket Connected, Socket Accepted)> OpenAsync()
    {
        using var listener = new Socket(SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var connected = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            var connect = connected.ConnectAsync(listener.LocalEndPoint!);
            var accepted = await listener.AcceptAsync();
            await connect;
            accepted.NoDelay = true;
            return (connected, accepted);
        }
        catch
        {
            connected.Dispose();
            throw;
        }
    }
}
