using System.Net.Sockets;

namespace TunnelPS.Engine.Transport;

/// <summary>Socket options every TunnelPS socket gets: no Nagle (peers that miss it lose ~40 ms per request), keep-alive.</summary>
internal static class SocketTuning
{
    public static void Apply(Socket socket)
    {
        socket.NoDelay = true;
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
        }
        catch (SocketException)
        {
            // Keep-alive is best effort; some platforms refuse it on some socket kinds.
        }
    }
}
