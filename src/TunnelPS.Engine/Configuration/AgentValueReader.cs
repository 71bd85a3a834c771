using System.Globalization;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Configuration;

/// <summary>
/// What the agent config's readers share, beyond <see cref="ConfigValueReader"/>: switches, whole numbers in a range,
/// ports, host:port, sizes of the capture limits, the host_header forms, and unknown keys with a did-you-mean. Every
/// error names the file, line and column of the value.
/// </summary>
internal abstract class AgentValueReader(string source) : ConfigValueReader(source)
{
    protected int Port(ConfigYamlNode node, string text, string what)
    {
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port < 1 || port > 65535)
        {
            throw Fail(node, $"The {what} '{text}' is out of range", "Use a port from 1 to 65535.");
        }
        return port;
    }

    protected (string Host, string? Port) SplitHostPort(ConfigYamlNode node, string text)
    {
        string host;
        string? port = null;
        if (text.StartsWith('['))
        {
            var close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 0 || (close + 1 < text.Length && text[close + 1] != ':'))
            {
                throw Fail(node, $"'{text}' is not a valid address", "Write an IPv6 address as [::1]:8080.");
            }
            host = text[1..close];
            port = close + 1 < text.Length ? text[(close + 2)..] : null;
        }
        else
        {
            var colon = text.LastIndexOf(':');
            if (colon >= 0 && text.IndexOf(':', StringComparison.Ordinal) != colon)
            {
                throw Fail(node, $"'{text}' is not a valid address", "Write an IPv6 address in brackets: [::1]:8080.");
            }
            host = colon < 0 ? text : text[..colon];
            port = colon < 0 ? null : text[(colon + 1)..];
        }
        if (host.Length == 0 || Uri.CheckHostName(host) == UriHostNameType.Unknown)
        {
            throw Fail(node, $"'{host}' in '{text}' is not a valid host name or IP address", "Use a name such as localhost, or an IP address.");
        }
        return (host, port);
    }

    protected string? HostPort(ConfigYamlScalar key, ConfigYamlNode node, bool requirePort)
    {
        var text = Scalar(key, node);
        if (text is null)
        {
            return null;
        }
        var (_, port) = SplitHostPort(node, text);
        if (port is null && requirePort)
        {
            throw Fail(node, $"'{key.Value}' has no port", $"Write it as host:port, e.g. '{text}:4443'.");
        }
        if (port is not null)
        {
            Port(node, port, $"port of {key.Value}");
        }
        return text;
    }

    protected string? HostHeader(ConfigYamlScalar key, ConfigYamlNode node)
    {
        var text = Scalar(key, node);
        if (text is null)
        {
            return null;
        }
        var lower = text.ToLowerInvariant();
        if (lower is AgentConfig.HostHeaderPreserve or AgentConfig.HostHeaderRewrite)
        {
            return lower;
        }
        if (text.Contains("://", StringComparison.Ordinal) || text.Contains('/', StringComparison.Ordinal) || text.Contains(' ', StringComparison.Ordinal))
        {
            throw Fail(node, $"'host_header' is '{text}'", "Use preserve, rewrite, or a literal host such as 'example.com' or 'example.com:8080'.");
        }
        var (_, port) = SplitHostPort(node, text);
        if (port is not null)
        {
            Port(node, port, "port of host_header");
        }
        return text;
    }

    protected int? InspectLimit(ConfigYamlScalar key, ConfigYamlNode node) =>
        Number(key, node, 0, AgentConfig.MaxInspectLimit, $"a number of requests from 0 to {AgentConfig.MaxInspectLimit}");

    protected long? InspectBodyLimit(ConfigYamlScalar key, ConfigYamlNode node)
    {
        var text = Scalar(key, node);
        if (text is null)
        {
            return null;
        }
        if (!ByteSize.TryParse(text, out var bytes))
        {
            throw Fail(node, $"'{key.Value}' is '{text}', which is not a size", "Write bytes (65536) or a size such as 512KiB or 1MB.");
        }
        if (bytes > AgentConfig.MaxInspectBodyLimit)
        {
            throw Fail(node, $"'{key.Value}' is {bytes} bytes, more than the {AgentConfig.MaxInspectBodyLimit / (1024 * 1024)} MiB allowed", "Capture less of each body; the capture store holds every captured body in memory.");
        }
        return bytes;
    }

    protected long? InspectMemoryLimit(ConfigYamlScalar key, ConfigYamlNode node)
    {
        var text = Scalar(key, node);
        if (text is null)
        {
            return null;
        }
        if (!ByteSize.TryParse(text, out var bytes))
        {
            throw Fail(node, $"'{key.Value}' is '{text}', which is not a size", "Write bytes (67108864) or a size such as 64MiB or 256MB.");
        }
        if (bytes < AgentConfig.MinInspectMemoryLimit || bytes > AgentConfig.MaxInspectMemoryLimit)
        {
            throw Fail(node, $"'{key.Value}' is {bytes} bytes, outside the {AgentConfig.MinInspectMemoryLimit / 1024} KiB to {AgentConfig.MaxInspectMemoryLimit / (1024L * 1024 * 1024)} GiB allowed", "Give the most memory the tunnel's capture may hold, such as 64MiB.");
        }
        return bytes;
    }

    protected int? Number(ConfigYamlScalar key, ConfigYamlNode node, int min, int max, string expected)
    {
        var text = Scalar(key, node);
        if (text is null)
        {
            return null;
        }
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            throw Fail(node, $"'{key.Value}' is '{text}'", $"Use {expected}.");
        }
        return value;
    }

    protected bool? Bool(ConfigYamlScalar key, ConfigYamlNode node)
    {
        var text = Scalar(key, node);
        return text?.ToLowerInvariant() switch
        {
            null => null,
            "true" or "yes" or "on" => true,
            "false" or "no" or "off" => false,
            _ => throw Fail(node, $"'{key.Value}' is '{text}'", "Use true or false."),
        };
    }

    protected string RequiredString(ConfigYamlScalar key, ConfigYamlNode node, string expected) =>
        Scalar(key, node) is { Length: > 0 } text ? text : throw Fail(node is ConfigYamlScalar ? key : node, $"'{key.Value}' has no value", $"Give {expected}.");

    protected ConfigurationException UnknownKey(ConfigYamlScalar key, string[] known, string what, string where, string? hint)
    {
        var suggestion = AgentConfigLoader.Suggest(key.Value, known);
        var remedy = hint
            ?? (suggestion is not null ? $"Did you mean '{suggestion}'?" : $"Known keys: {string.Join(", ", known)}.");
        return Fail(key, $"Unknown {what} '{key.Value}'{where}", remedy);
    }
}
