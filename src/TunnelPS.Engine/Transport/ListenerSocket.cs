using System.Net;
using System.Net.Sockets;

namespace TunnelPS.Engine.Transport;

/// <summary>Opens listening sockets: every address (IPv6 dual-mode where the host has IPv6) or one given address.</summary>
internal static class ListenerSocket
{
    public static Socket Open(IPAddress? address, int port, int backlog = 512)
    {
        if (address is null)
        {
            if (Socket.OSSupportsIPv6)
            {
                var dual = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    dual.DualMode = true;
                    dual.Bind(new IPEndPoint(IPAddress.IPv6Any, port));
                    dual.Listen(backlog);
                    return dual;
                }
                catch (SocketException ex) when (ex.SocketErrorCode != SocketError.AddressAlreadyInUse)
                {
                    // No usable IPv6 here: fall back to IPv4 only.
                    dual.Dispose();
                }
                catch
                {
                    dual.Dispose();
                    throw;
                }
            }
            address = IPAddress.Any;
        }
        var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(new IPEndPoint(address, port));
            socket.Listen(backlog);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public static int PortOf(Socket socket) => ((IPEndPoint)socket.LocalEndPoint!).Port;

    /// <summary>"ip:port" of a remote peer, IPv4-mapped addresses shown as IPv4.</summary>
    public static string Describe(EndPoint? endPoint)
    {
        if (endPoint is IPEndPoint ip)
        {
            var address = ip.Address.IsIPv4MappedToIPv6 ? ip.Address.MapToIPv4() : ip.Address;
            return address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{address}]:{ip.Port}" : $"{address}:{ip.Port}";
        }
        return endPoint?.ToString() ?? "unknown";
    }

    /// <summary>The IP part of <see cref="Describe"/>, for X-Forwarded-For.</summary>
    public static string AddressOf(EndPoint? endPoint)
    {
        if (endPoint is IPEndPoint ip)
        {
            var address = ip.Address.IsIPv4MappedToIPv6 ? ip.Address.MapToIPv4() : ip.Address;
            return address.ToString();
        }
        return "unknown";
    }
}
