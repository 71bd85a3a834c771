using System.Net;
using System.Net.Sockets;

namespace TunnelPS.Engine.Transport;

/// <summary>
/// Which visitor addresses may use a tunnel (or the server): CIDR ranges and single addresses, IPv4 and IPv6. An
/// address in a deny range is refused; when allow ranges exist, only an address in one of them is accepted. IPv4
/// addresses that arrive IPv4-mapped on a dual-mode socket (::ffff:a.b.c.d) match IPv4 ranges.
/// </summary>
public sealed class IPAccessList
{
    private readonly IPNetwork[] _allow;
    private readonly IPNetwork[] _deny;

    private IPAccessList(IPNetwork[] allow, IPNetwork[] deny)
    {
        _allow = allow;
        _deny = deny;
    }

    /// <summary>A list that accepts every address.</summary>
    public static IPAccessList AllowAll { get; } = new([], []);

    /// <summary>True when the list neither allows nor denies anything explicitly (every address passes).</summary>
    public bool IsEmpty => _allow.Length == 0 && _deny.Length == 0;

    /// <summary>
    /// Parses allow and deny entries ("10.0.0.0/8", "2001:db8::/32", "203.0.113.7"); throws
    /// <see cref="TunnelConfigurationException"/> naming the first entry that is not an address or a CIDR range.
    /// </summary>
    /// <param name="what">How the caller names the lists in errors, e.g. "-AllowIP" or "allow_ip of tunnel 'api'".</param>
    public static IPAccessList Parse(IEnumerable<string>? allow, IEnumerable<string>? deny, string what = "IP rule")
    {
        var allowed = ParseAll(allow, what);
        var denied = ParseAll(deny, what);
        return allowed.Length == 0 && denied.Length == 0 ? AllowAll : new IPAccessList(allowed, denied);
    }

    /// <summary>Parses one entry; false when it is neither an address nor a CIDR range with a valid prefix length.</summary>
    public static bool TryParseEntry(string? text, out IPNetwork network)
    {
        network = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }
        var trimmed = text.Trim();
        if (trimmed.Contains('/', StringComparison.Ordinal))
        {
            // IPNetwork.TryParse refuses a range whose address has bits set beyond the prefix (10.1.2.3/8), which is
            // what an admin means by "10.0.0.0/8": take the prefix of the address instead.
            var slash = trimmed.IndexOf('/', StringComparison.Ordinal);
            if (!TryParseAddress(trimmed.AsSpan(0, slash), out var address)
                || !int.TryParse(trimmed.AsSpan(slash + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var prefix))
            {
                return false;
            }
            address = Normalize(address);
            var bits = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
            if (prefix < 0 || prefix > bits)
            {
                return false;
            }
            network = new IPNetwork(Mask(address, prefix), prefix);
            return true;
        }
        if (!TryParseAddress(trimmed, out var single))
        {
            return false;
        }
        single = Normalize(single);
        network = new IPNetwork(single, single.AddressFamily == AddressFamily.InterNetwork ? 32 : 128);
        return true;
    }

    /// <summary>
    /// Parses an address in its usual written form only: IPv4 as four decimal numbers ("10.0.0" or "0x0a.0.0.1", which
    /// the OS would read as some other address, are refused), or IPv6.
    /// </summary>
    private static bool TryParseAddress(ReadOnlySpan<char> text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out IPAddress? address)
    {
        address = null;
        if (!text.Contains(':'))
        {
            if (text.Count('.') != 3 || text.ContainsAnyExcept("0123456789."))
            {
                return false;
            }
        }
        return IPAddress.TryParse(text, out address);
    }

    /// <summary>True when <paramref name="address"/> may connect.</summary>
    public bool IsAllowed(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (_allow.Length == 0 && _deny.Length == 0)
        {
            return true;
        }
        var normalized = Normalize(address);
        foreach (var network in _deny)
        {
            if (network.Contains(normalized))
            {
                return false;
            }
        }
        if (_allow.Length == 0)
        {
            return true;
        }
        foreach (var network in _allow)
        {
            if (network.Contains(normalized))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>True when the endpoint's address may connect; an endpoint without an IP address is refused when rules exist.</summary>
    public bool IsAllowed(EndPoint? endPoint) =>
        endPoint is IPEndPoint ip ? IsAllowed(ip.Address) : IsEmpty;

    private static IPNetwork[] ParseAll(IEnumerable<string>? entries, string what)
    {
        if (entries is null)
        {
            return [];
        }
        var result = new List<IPNetwork>();
        foreach (var entry in entries)
        {
            if (!TryParseEntry(entry, out var network))
            {
                throw new TunnelConfigurationException(
                    $"{what}: '{entry}' is not an IP address or a CIDR range. Give addresses such as 203.0.113.7 or 2001:db8::1, or ranges such as 10.0.0.0/8 or 2001:db8::/32.");
            }
            result.Add(network);
        }
        return [.. result];
    }

    private static IPAddress Normalize(IPAddress address) =>
        address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

    private static IPAddress Mask(IPAddress address, int prefix)
    {
        var bytes = address.GetAddressBytes();
        for (var i = 0; i < bytes.Length; i++)
        {
            var keep = Math.Clamp(prefix - (i * 8), 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - keep));
        }
        return new IPAddress(bytes);
    }
}
