using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace TunnelPS.Engine.Configuration;

/// <summary>
/// Where the web inspector listens: an IP address (or <c>localhost</c>, which means 127.0.0.1) and a port, 0 for any
/// free one. Parsed from <c>inspect_addr</c> and -InspectAddress: "host:port", "[v6]:port", a port alone (on
/// 127.0.0.1), or "disabled" (no inspector).
/// </summary>
public sealed record InspectorAddress(IPAddress Address, int Port)
{
    /// <summary>The port ngrok's inspector made familiar; the next ones are tried when it is taken.</summary>
    public const int DefaultPort = 4040;

    /// <summary>The word that turns the inspector off.</summary>
    public const string Disabled = "disabled";

    /// <summary>127.0.0.1:4040.</summary>
    public static InspectorAddress Default { get; } = new(IPAddress.Loopback, DefaultPort);

    /// <summary>"127.0.0.1:4040", "[::1]:4040".</summary>
    public override string ToString() => Format(Address, Port);

    /// <summary>
    /// Parses an address; null for "disabled". Throws <see cref="TunnelConfigurationException"/> naming the value
    /// and the forms accepted.
    /// </summary>
    public static InspectorAddress? Parse(string value)
    {
        if (!TryParse(value, out var address, out var error))
        {
            throw new TunnelConfigurationException(error);
        }
        return address;
    }

    /// <summary>Parses an address (null for "disabled"); false with a message that says what to write instead.</summary>
    public static bool TryParse(string? value, out InspectorAddress? address, [NotNullWhen(false)] out string? error)
    {
        address = null;
        error = null;
        var text = value?.Trim() ?? string.Empty;
        if (text.Equals(Disabled, StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }
        if (text.Length > 0 && text.All(char.IsAsciiDigit))
        {
            if (!TryPort(text, out var alone))
            {
                error = Explain(value, "the port must be 0-65535");
                return false;
            }
            address = new InspectorAddress(IPAddress.Loopback, alone);
            return true;
        }
        var colon = text.LastIndexOf(':');
        var closing = text.LastIndexOf(']');
        if (colon <= 0 || colon < closing)
        {
            error = Explain(value, "it has no port");
            return false;
        }
        var hostText = text[..colon];
        if (!TryPort(text[(colon + 1)..], out var port))
        {
            error = Explain(value, "the port must be 0-65535");
            return false;
        }
        IPAddress? ip;
        if (hostText.Equals("localhost", StringComparison.OrdinalIgnoreCase))
        {
            ip = IPAddress.Loopback;
        }
        else if (hostText.StartsWith('[') && hostText.EndsWith(']'))
        {
            if (!IPAddress.TryParse(hostText[1..^1], out ip) || ip.AddressFamily != AddressFamily.InterNetworkV6)
            {
                error = Explain(value, "the part in brackets is not an IPv6 address");
                return false;
            }
        }
        else if (!IPAddress.TryParse(hostText, out ip) || ip.AddressFamily != AddressFamily.InterNetwork)
        {
            error = Explain(value, "the host must be an IP address or localhost (write an IPv6 address in brackets)");
            return false;
        }
        address = new InspectorAddress(ip, port);
        return true;
    }

    internal static string Format(IPAddress address, int port) =>
        address.AddressFamily == AddressFamily.InterNetworkV6
            ? string.Create(CultureInfo.InvariantCulture, $"[{address}]:{port}")
            : string.Create(CultureInfo.InvariantCulture, $"{address}:{port}");

    private static bool TryPort(string text, out int port) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port <= 65535;

    private static string Explain(string? value, string why) =>
        $"'{value}' is not an inspector address: {why}. Write host:port (127.0.0.1:4040, [::1]:4040, port 0 for any free one), a port alone, or '{Disabled}'.";
}
