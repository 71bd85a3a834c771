using System.Globalization;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Client;

/// <summary>The local service a tunnel forwards to: host, port, and whether it speaks TLS.</summary>
public sealed record LocalTarget(string Host, int Port, bool UseTls = false)
{
    public override string ToString()
    {
        var hostPort = Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]:{Port}" : string.Create(CultureInfo.InvariantCulture, $"{Host}:{Port}");
        return UseTls ? "https://" + hostPort : hostPort;
    }

    /// <summary>
    /// Parses "3000", "host:3000", "http://host:3000" or "https://host:8443" (TLS to the local service).
    /// A bare port means localhost.
    /// </summary>
    public static LocalTarget Parse(string value)
    {
        var text = value?.Trim() ?? "";
        if (text.Length == 0)
        {
            throw new TunnelConfigurationException("The local address is empty. Give a port (3000), host:port (localhost:3000) or a URL (http://localhost:3000).");
        }
        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port))
        {
            return port is >= 1 and <= 65535
                ? new LocalTarget("localhost", port)
                : throw new TunnelConfigurationException($"{text} is not a port number (1-65535).");
        }
        if (text.Contains("://", StringComparison.Ordinal))
        {
            if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            {
                throw new TunnelConfigurationException($"'{value}' is not a usable local URL; give http://host:port or https://host:port.");
            }
            return new LocalTarget(uri.IdnHost.Trim('[', ']'), uri.Port, uri.Scheme == "https");
        }
        if (!ServerAddress.TryParse(text, 80, out var address, out var error))
        {
            throw new TunnelConfigurationException(error.Replace("server address", "local address", StringComparison.Ordinal));
        }
        if (!text.Contains(':', StringComparison.Ordinal) || (text.StartsWith('[') && !text.Contains("]:", StringComparison.Ordinal)))
        {
            throw new TunnelConfigurationException($"'{value}' has no port. Give host:port, for example localhost:3000.");
        }
        return new LocalTarget(address.Host, address.Port);
    }
}
