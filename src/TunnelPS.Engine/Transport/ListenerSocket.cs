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

    /// <summary>
    /// Opens the sockets for one port: on <paramref name="address"/> when given; on 127.0.0.1 and ::1 (same port) when
    /// <paramref name="loopbackOnly"/>; otherwise on every address. Throws SocketException when the port is taken.
    /// </summary>
    public static Socket[] OpenSet(IPAddress? address, bool loopbackOnly, int port, int backlog = 512)
    {
        if (address is not null || !loopbackOnly)
        {
            return [Open(address, port, backlog)];
        }
        for (var attempt = 0; ; attempt++)
        {
            var v4 = Open(IPAddress.Loopback, port, backlog);
            if (!Socket.OSSupportsIPv6)
            {
                return [v4];
            }
            var v6 = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                v6.DualMode = false;
                v6.Bind(new IPEndPoint(IPAddress.IPv6Loopback, PortOf(v4)));
                v6.Listen(backlog);
                return [v4, v6];
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse && port == 0 && attempt < 8)
            {
                // The free IPv4 port is taken on ::1: pick another pair.
                v6.Dispose();
                v4.Dispose();
            }
            catch (SocketException)
            {
                // No IPv6 loopback here (or the port is someone else's on ::1): IPv4 loopback alone.
                v6.Dispose();
                return [v4];
            }
        }
    }

    /// <summary>True when an address is a loopback address (127.0.0.0/8, ::1, or IPv4-mapped loopback).</summary>
    public static bool IsLoopback(IPAddress address) => IPAddress.IsLoopback(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address);

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
