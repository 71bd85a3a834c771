using System.Globalization;
using System.Net;

namespace TunnelPS.Engine.Transport;

/// <summary>
/// Which user owns the other end of a TCP connection made on this computer, as Linux lists it: /proc/net/tcp and
/// tcp6 give each socket's local and remote address, its state, the uid that made it and its inode. The client's
/// socket is the line whose local end is the peer's address and whose remote end is ours. A socket with inode 0 is
/// orphaned (closed by its process, or in TIME_WAIT) and shows uid 0 whoever made it, so it tells nothing.
/// </summary>
internal static class SocketOwner
{
    private const string Ipv4Table = "/proc/net/tcp";
    private const string Ipv6Table = "/proc/net/tcp6";

    /// <summary>True where the tables can be read (Linux with /proc).</summary>
    public static bool IsSupported { get; } = OperatingSystem.IsLinux() && File.Exists(Ipv4Table);

    /// <summary>This process's effective uid (from /proc/self/status), or null where it cannot be read.</summary>
    public static uint? EffectiveUserId { get; } = ReadEffectiveUserId();

    /// <summary>
    /// The uid that owns the socket at <paramref name="peer"/> connected to <paramref name="local"/>, or null when no
    /// listed socket is that one (another computer, a closed or orphaned socket, another network namespace).
    /// </summary>
    public static uint? Find(IPEndPoint peer, IPEndPoint local)
    {
        ArgumentNullException.ThrowIfNull(peer);
        ArgumentNullException.ThrowIfNull(local);
        if (!IsSupported)
        {
            return null;
        }
        // An IPv4 connection is listed in tcp, or in tcp6 as ::ffff:a.b.c.d when the listener is dual-mode.
        var v4 = Normalise(peer.Address).AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork;
        foreach (var table in v4 ? new[] { Ipv4Table, Ipv6Table } : [Ipv6Table])
        {
            try
            {
                using var reader = new StreamReader(table);
                if (Find(reader, peer, local) is { } uid)
                {
                    return uid;
                }
            }
            catch (IOException)
            {
                // No IPv6 on this kernel (tcp6 missing): nothing listed there.
            }
            catch (UnauthorizedAccessException)
            {
                return null;
            }
        }
        return null;
    }

    /// <summary>The uid of the matching line of one table (the text of /proc/net/tcp or tcp6), or null.</summary>
    internal static uint? Find(TextReader table, IPEndPoint peer, IPEndPoint local)
    {
        var peerAddress = Normalise(peer.Address);
        var localAddress = Normalise(local.Address);
        while (table.ReadLine() is { } line)
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 10
                || !TryParseEndPoint(fields[1], out var lineLocal, out var lineLocalPort)
                || lineLocalPort != peer.Port || !lineLocal.Equals(peerAddress)
                || !TryParseEndPoint(fields[2], out var lineRemote, out var lineRemotePort)
                || lineRemotePort != local.Port || !lineRemote.Equals(localAddress))
            {
                continue;
            }
            if (!uint.TryParse(fields[7], NumberStyles.None, CultureInfo.InvariantCulture, out var uid)
                || !ulong.TryParse(fields[9], NumberStyles.None, CultureInfo.InvariantCulture, out var inode) || inode == 0)
            {
                return null;
            }
            return uid;
        }
        return null;
    }

    /// <summary>An IPv4-mapped IPv6 address as the IPv4 address it carries.</summary>
    private static IPAddress Normalise(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

    /// <summary>"0100007F:1F90" (IPv4) or 32 hex digits and a port (IPv6): each 32-bit word in the kernel's byte order.</summary>
    private static bool TryParseEndPoint(string text, out IPAddress address, out int port)
    {
        address = IPAddress.None;
        port = 0;
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon is not (8 or 32) || !int.TryParse(text.AsSpan(colon + 1), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out port)
            || port is < 0 or > 65535)
        {
            return false;
        }
        Span<byte> bytes = stackalloc byte[colon / 2];
        for (var word = 0; word < colon / 8; word++)
        {
            if (!uint.TryParse(text.AsSpan(word * 8, 8), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value)
                || !BitConverter.TryWriteBytes(bytes[(word * 4)..], value))
            {
                return false;
            }
        }
        address = Normalise(new IPAddress(bytes));
        return true;
    }

    private static uint? ReadEffectiveUserId()
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }
        try
        {
            // "Uid:\treal\teffective\tsaved\tfilesystem"
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("Uid:", StringComparison.Ordinal))
                {
                    var fields = line[4..].Split(['\t', ' '], StringSplitOptions.RemoveEmptyEntries);
                    return fields.Length >= 2 && uint.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out var uid) ? uid : null;
                }
            }
        }
        catch (IOException)
        {
            // No /proc mounted: the owner cannot be compared, and the key decides.
        }
        return null;
    }
}
