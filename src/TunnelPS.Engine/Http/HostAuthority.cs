using System.Buffers;
using System.Net;
using System.Net.Sockets;

namespace TunnelPS.Engine.Http;

/// <summary>
/// Checks an authority as HTTP carries it in Host and in absolute-form targets (RFC 9110 7.2 and 4.2.3, RFC 3986
/// 3.2.2-3.2.3): a reg-name (letters, digits, "-._~", sub-delims and %XX escapes) or a bracketed IPv6 literal, then an
/// optional ':' and a port of 1 to 5 digits from 1 to 65535. No userinfo, no path, no spaces: what passes names one host
/// and nothing else, so it may be forwarded and built into URLs. Allocates nothing (but for an IPv6 literal, parsed).
/// </summary>
internal static class HostAuthority
{
    private static readonly SearchValues<byte> s_regName =
        SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=%"u8);

    /// <summary>True when <paramref name="authority"/> is host[:port] as above; with <paramref name="requirePort"/> the port must be there (CONNECT).</summary>
    public static bool IsValid(ReadOnlySpan<byte> authority, bool requirePort = false)
    {
        if (authority.IsEmpty)
        {
            return false;
        }
        ReadOnlySpan<byte> rest;
        if (authority[0] == (byte)'[')
        {
            var close = authority.IndexOf((byte)']');
            if (close < 0 || !IsIPv6Literal(authority[1..close]))
            {
                return false;
            }
            rest = authority[(close + 1)..];
        }
        else
        {
            var colon = authority.IndexOf((byte)':');
            var host = colon < 0 ? authority : authority[..colon];
            if (!IsRegName(host))
            {
                return false;
            }
            rest = colon < 0 ? default : authority[colon..];
        }
        if (rest.IsEmpty)
        {
            return !requirePort;
        }
        return rest[0] == (byte)':' && IsPort(rest[1..]);
    }

    /// <inheritdoc cref="IsValid(ReadOnlySpan{byte}, bool)"/>
    public static bool IsValid(string? authority, bool requirePort = false)
    {
        if (string.IsNullOrEmpty(authority) || authority.Length > 1024)
        {
            return false;
        }
        Span<byte> bytes = stackalloc byte[authority.Length];
        for (var i = 0; i < authority.Length; i++)
        {
            if (authority[i] > 0x7F)
            {
                return false;
            }
            bytes[i] = (byte)authority[i];
        }
        return IsValid(bytes, requirePort);
    }

    private static bool IsRegName(ReadOnlySpan<byte> host)
    {
        if (host.IsEmpty || host.IndexOfAnyExcept(s_regName) >= 0)
        {
            return false;
        }
        // Each '%' starts an escape of two hex digits.
        for (var i = host.IndexOf((byte)'%'); i >= 0; i = host.IndexOf((byte)'%'))
        {
            if (i + 2 >= host.Length || !IsHex(host[i + 1]) || !IsHex(host[i + 2]))
            {
                return false;
            }
            host = host[(i + 3)..];
        }
        return true;
    }

    /// <summary>An IPv6 address (RFC 4291 text form); IPvFuture and zone identifiers are refused.</summary>
    private static bool IsIPv6Literal(ReadOnlySpan<byte> literal)
    {
        if (literal.Length is < 2 or > 45)
        {
            return false;
        }
        Span<char> chars = stackalloc char[literal.Length];
        for (var i = 0; i < literal.Length; i++)
        {
            var b = literal[i];
            if (!(IsHex(b) || b == (byte)':' || b == (byte)'.'))
            {
                return false;
            }
            chars[i] = (char)b;
        }
        return IPAddress.TryParse(chars, out var address) && address.AddressFamily == AddressFamily.InterNetworkV6;
    }

    private static bool IsPort(ReadOnlySpan<byte> digits)
    {
        if (digits.Length is 0 or > 5)
        {
            return false;
        }
        var value = 0;
        foreach (var b in digits)
        {
            if (b is < (byte)'0' or > (byte)'9')
            {
                return false;
            }
            value = (value * 10) + (b - '0');
        }
        return value is >= 1 and <= 65535;
    }

    private static bool IsHex(byte b) => b is (>= (byte)'0' and <= (byte)'9') or (>= (byte)'a' and <= (byte)'f') or (>= (byte)'A' and <= (byte)'F');
}
