using System.Globalization;

namespace TunnelPS.Engine.Transport;

/// <summary>A host and port a client dials, parsed from "host", "host:port", "[v6]:port" or a URL.</summary>
public sealed record ServerAddress(string Host, int Port)
{
    /// <summary>The port a client dials when none is given: 443, which restrictive networks let out.</summary>
    public const int DefaultPort = 443;

    public override string ToString() => Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]:{Port}" : $"{Host}:{Port}";

    /// <summary>
    /// Parses one address or several nodes of a cluster separated by commas ("a:443,b:443"); throws
    /// <see cref="TunnelConfigurationException"/> naming the bad item.
    /// </summary>
    public static IReadOnlyList<ServerAddress> ParseList(string value, int defaultPort = DefaultPort)
    {
        var items = (value ?? "").Split(',', StringSplitOptions.TrimEntries);
        var addresses = new List<ServerAddress>(items.Length);
        foreach (var item in items)
        {
            if (item.Length == 0)
            {
                throw new TunnelConfigurationException($"The server address list '{value}' has an empty item. Separate the nodes of a cluster with commas: host1:443,host2:443.");
            }
            if (!TryParse(item, defaultPort, out var address, out var error))
            {
                throw new TunnelConfigurationException(items.Length > 1 ? $"In the server address list '{value}': {error}" : error);
            }
            addresses.Add(address);
        }
        return addresses;
    }

    /// <summary>Parses an address; throws <see cref="TunnelConfigurationException"/> naming the bad value.</summary>
    public static ServerAddress Parse(string value, int defaultPort = DefaultPort)
    {
        if (!TryParse(value, defaultPort, out var address, out var error))
        {
            throw new TunnelConfigurationException(error);
        }
        return address;
    }

    public static bool TryParse(string? value, int defaultPort, out ServerAddress address, out string error)
    {
        address = null!;
        error = "";
        var text = value?.Trim() ?? "";
        if (text.Length == 0)
        {
            error = "The server address is empty. Give host:port, for example tunnel.example.com:443.";
            return false;
        }
        if (text.Contains("://", StringComparison.Ordinal))
        {
            if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host))
            {
                error = $"'{value}' is not a valid server address. Give host:port, for example tunnel.example.com:443.";
                return false;
            }
            address = new ServerAddress(uri.IdnHost.Trim('[', ']'), uri.IsDefaultPort && !text.Contains($":{uri.Port}", StringComparison.Ordinal) ? defaultPort : uri.Port);
            return true;
        }
        string host;
        string? portText = null;
        if (text.StartsWith('['))
        {
            var close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                error = $"'{value}' has an unclosed '[' in its IPv6 address.";
                return false;
            }
            host = text[1..close];
            var rest = text[(close + 1)..];
            if (rest.StartsWith(':'))
            {
                portText = rest[1..];
            }
            else if (rest.Length > 0)
            {
                error = $"'{value}' has unexpected text after the IPv6 address.";
                return false;
            }
        }
        else
        {
            var colon = text.LastIndexOf(':');
            if (colon >= 0 && text.IndexOf(':', StringComparison.Ordinal) == colon)
            {
                host = text[..colon];
                portText = text[(colon + 1)..];
            }
            else
            {
                host = text;
            }
        }
        var port = defaultPort;
        if (portText is not null && (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535))
        {
            error = $"'{portText}' in '{value}' is not a port number (1-65535).";
            return false;
        }
        if (host.Length == 0)
        {
            error = $"'{value}' has no host name.";
            return false;
        }
        address = new ServerAddress(host, port);
        return true;
    }
}
