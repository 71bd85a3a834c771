using System.Globalization;
using System.Net;

namespace TunnelPS.Engine.Transport;

/// <summary>
/// An HTTP proxy that tunnel connections are dialled through with <c>CONNECT</c>, its credential, and the hosts that
/// bypass it (NO_PROXY).
/// </summary>
/// <param name="Address">
/// The proxy as <c>http://host:port/</c>. <see cref="Parse"/> and <see cref="FromEnvironment"/> strip user info from it
/// and move it into <paramref name="Credential"/>; if a caller builds the record with user info in the address anyway,
/// the dialler uses it when <paramref name="Credential"/> is null but never prints it.
/// </param>
/// <param name="Credential">
/// Sent as <c>Proxy-Authorization: Basic</c> with the first CONNECT, and used for NTLM/Negotiate when the proxy asks
/// for it. A <see cref="NetworkCredential.Domain"/> is sent as <c>DOMAIN\user</c> in Basic.
/// </param>
/// <param name="Bypass">NO_PROXY-style entries; see <see cref="ShouldBypass"/>.</param>
public sealed record ProxySettings(Uri Address, NetworkCredential? Credential = null, IReadOnlyList<string>? Bypass = null)
{
    /// <summary>
    /// The port used when a proxy address names none: 1080, as curl does for <c>http_proxy</c>, so that a variable
    /// shared with curl means the same proxy to both.
    /// </summary>
    public const int DefaultPort = 1080;

    private static readonly string[] ProxyVariables =
        ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"];

    private static readonly string[] NoProxyVariables = ["NO_PROXY", "no_proxy"];

    /// <summary>
    /// Where the setting came from, for messages: "-Proxy", "http_proxy in /path/tunnelps.yml", "the environment
    /// variable HTTPS_PROXY"; null when unknown. <see cref="FromEnvironment"/> sets it; callers set the others.
    /// </summary>
    public string? Source { get; init; }

    /// <summary>The proxy as <c>http://host:port</c>, safe to show: never any user info.</summary>
    public string DisplayAddress => $"http://{Address.Host}:{Address.Port.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>
    /// Reads the proxy from the environment: the first non-empty of HTTPS_PROXY, https_proxy, HTTP_PROXY, http_proxy,
    /// ALL_PROXY, all_proxy (tunnel connections are TLS, so the HTTPS variables come first), with the bypass list from
    /// NO_PROXY or no_proxy. Returns null when no proxy variable is set. User info in the URL becomes the credential,
    /// percent-decoded.
    /// </summary>
    /// <param name="getVariable">Reads one variable; defaults to <see cref="Environment.GetEnvironmentVariable(string)"/>.</param>
    /// <exception cref="ProxyConfigurationException">The variable that is set holds an unusable value (for example a socks5:// URL); the message names the variable.</exception>
    public static ProxySettings? FromEnvironment(Func<string, string?>? getVariable = null)
    {
        getVariable ??= Environment.GetEnvironmentVariable;
        foreach (var name in ProxyVariables)
        {
            var value = getVariable(name);
            if (string.IsNullOrWhiteSpace(value))
            {
                continue;
            }
            ProxySettings settings;
            try
            {
                settings = Parse(value);
            }
            catch (ProxyConfigurationException ex)
            {
                throw new ProxyConfigurationException($"The environment variable {name} is not usable: {ex.Message}", ex);
            }
            string? noProxy = null;
            foreach (var noProxyName in NoProxyVariables)
            {
                noProxy = getVariable(noProxyName);
                if (!string.IsNullOrWhiteSpace(noProxy))
                {
                    break;
                }
            }
            return settings with { Bypass = SplitBypass(noProxy), Source = $"the environment variable {name}" };
        }
        return null;
    }

    /// <summary>
    /// Parses <c>http://user:password@host:port</c>, <c>http://host:port</c>, <c>host:port</c> or <c>host</c>.
    /// The scheme defaults to http and the port to <see cref="DefaultPort"/> (1080, as curl). User info is
    /// percent-decoded into the credential (<c>DOMAIN%5Cuser</c> gives a domain); an explicit
    /// <paramref name="credential"/> wins over user info. A path after the authority is ignored.
    /// </summary>
    /// <exception cref="ProxyConfigurationException">The value is empty, malformed, or uses a scheme other than http (https:// and socks proxies are not supported).</exception>
    public static ProxySettings Parse(string value, NetworkCredential? credential = null)
    {
        ArgumentNullException.ThrowIfNull(value);
        var text = value.Trim();
        if (text.Length == 0)
        {
            throw new ProxyConfigurationException("The proxy address is empty. Give it as http://host:port.");
        }
        var schemeEnd = text.IndexOf("://", StringComparison.Ordinal);
        if (schemeEnd >= 0)
        {
            var scheme = text[..schemeEnd];
            if (!scheme.Equals("http", StringComparison.OrdinalIgnoreCase))
            {
                throw new ProxyConfigurationException(
                    $"The proxy '{Redact(text)}' uses the scheme '{scheme}', which TunnelPS does not support. Use an HTTP proxy as http://host:port (HTTPS-to-proxy and SOCKS proxies are not supported).");
            }
        }
        else
        {
            text = "http://" + text;
        }

        var authorityStart = text.IndexOf("://", StringComparison.Ordinal) + 3;
        var authorityEnd = text.IndexOfAny(['/', '?', '#'], authorityStart);
        var authority = authorityEnd < 0 ? text[authorityStart..] : text[authorityStart..authorityEnd];
        var at = authority.LastIndexOf('@');
        var userInfo = at >= 0 ? authority[..at] : null;
        var hostPort = at >= 0 ? authority[(at + 1)..] : authority;

        string host;
        string? portText = null;
        if (hostPort.StartsWith('['))
        {
            var close = hostPort.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                throw new ProxyConfigurationException($"The proxy '{Redact(value)}' has an IPv6 address without its closing ']'. Give it as http://[::1]:3128.");
            }
            host = hostPort[..(close + 1)];
            var rest = hostPort[(close + 1)..];
            if (rest.Length > 0)
            {
                if (rest[0] != ':')
                {
                    throw new ProxyConfigurationException($"The proxy '{Redact(value)}' is not a valid address. Give it as http://host:port.");
                }
                portText = rest[1..];
            }
        }
        else
        {
            var colon = hostPort.LastIndexOf(':');
            host = colon >= 0 ? hostPort[..colon] : hostPort;
            portText = colon >= 0 ? hostPort[(colon + 1)..] : null;
        }
        if (host.Length == 0)
        {
            throw new ProxyConfigurationException($"The proxy '{Redact(value)}' has no host. Give it as http://host:port.");
        }
        var port = DefaultPort;
        if (portText is not null
            && (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port < 1 || port > 65535))
        {
            throw new ProxyConfigurationException($"The proxy '{Redact(value)}' has the port '{portText}', which is not a number from 1 to 65535.");
        }
        if (Uri.CheckHostName(host.Trim('[', ']')) == UriHostNameType.Unknown)
        {
            throw new ProxyConfigurationException($"The proxy '{Redact(value)}' has the host '{host}', which is not a valid host name or IP address.");
        }
        var address = new UriBuilder(Uri.UriSchemeHttp, host, port).Uri;
        return new ProxySettings(address, credential ?? CredentialFromUserInfo(userInfo));
    }

    /// <summary>
    /// Whether a connection to <paramref name="host"/>:<paramref name="port"/> should skip the proxy. Entries
    /// (case-insensitive): <c>*</c> bypasses everything; <c>example.com</c>, <c>.example.com</c> and
    /// <c>*.example.com</c> match example.com and every subdomain of it; <c>host:port</c> matches that port only;
    /// IP literals match exactly (IPv6 bare or in brackets, <c>[::1]:8080</c> with a port); <c>10.0.0.0/8</c> and
    /// <c>fd00::/8</c> match IP literals in the range. Host names are not resolved.
    /// </summary>
    public bool ShouldBypass(string host, int port)
    {
        ArgumentNullException.ThrowIfNull(host);
        if (Bypass is null || Bypass.Count == 0)
        {
            return false;
        }
        var normalized = NormalizeHost(host);
        IPAddress.TryParse(normalized, out var hostAddress);
        foreach (var entry in Bypass)
        {
            if (Matches(entry, normalized, hostAddress, port))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Splits a NO_PROXY value at commas (and whitespace), dropping empty entries.</summary>
    public static IReadOnlyList<string> SplitBypass(string? noProxy) =>
        string.IsNullOrWhiteSpace(noProxy)
            ? []
            : noProxy.Split([',', ' ', '\t'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>The credential to send: <see cref="Credential"/>, else user info left in <see cref="Address"/>.</summary>
    internal NetworkCredential? EffectiveCredential =>
        Credential ?? (string.IsNullOrEmpty(Address.UserInfo) ? null : CredentialFromUserInfo(Address.UserInfo));

    /// <summary>Replaces the password in a proxy URL's user info with ****.</summary>
    internal static string Redact(string value)
    {
        var schemeEnd = value.IndexOf("://", StringComparison.Ordinal);
        var start = schemeEnd < 0 ? 0 : schemeEnd + 3;
        var slash = value.IndexOf('/', start);
        var authorityEnd = slash < 0 ? value.Length : slash;
        if (authorityEnd <= start)
        {
            return value;
        }
        var at = value.LastIndexOf('@', authorityEnd - 1, authorityEnd - start);
        if (at < 0)
        {
            return value;
        }
        var colon = value.IndexOf(':', start, at - start);
        return colon < 0 ? value : string.Concat(value.AsSpan(0, colon + 1), "****", value.AsSpan(at));
    }

    private static NetworkCredential? CredentialFromUserInfo(string? userInfo)
    {
        if (string.IsNullOrEmpty(userInfo))
        {
            return null;
        }
        var colon = userInfo.IndexOf(':', StringComparison.Ordinal);
        var user = Uri.UnescapeDataString(colon < 0 ? userInfo : userInfo[..colon]);
        var password = colon < 0 ? string.Empty : Uri.UnescapeDataString(userInfo[(colon + 1)..]);
        var backslash = user.IndexOf('\\', StringComparison.Ordinal);
        return backslash > 0
            ? new NetworkCredential(user[(backslash + 1)..], password, user[..backslash])
            : new NetworkCredential(user, password);
    }

    private static string NormalizeHost(string host)
    {
        var h = host.Trim();
        if (h.StartsWith('[') && h.EndsWith(']'))
        {
            h = h[1..^1];
        }
        return h.TrimEnd('.').ToLowerInvariant();
    }

    private static bool Matches(string rawEntry, string host, IPAddress? hostAddress, int port)
    {
        var entry = rawEntry.Trim().ToLowerInvariant();
        if (entry.Length == 0)
        {
            return false;
        }
        if (entry == "*")
        {
            return true;
        }

        // CIDR range.
        var slash = entry.IndexOf('/', StringComparison.Ordinal);
        if (slash > 0)
        {
            return hostAddress is not null
                && IPNetwork.TryParse(entry.Trim('[', ']'), out var network)
                && network.Contains(hostAddress.IsIPv4MappedToIPv6 ? hostAddress.MapToIPv4() : hostAddress);
        }

        // Split an optional port off: [v6]:port, host:port; a bare IPv6 literal has several colons and no port.
        string entryHost = entry;
        int? entryPort = null;
        if (entry.StartsWith('['))
        {
            var close = entry.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                return false;
            }
            entryHost = entry[1..close];
            if (close + 1 < entry.Length)
            {
                if (entry[close + 1] != ':' || !int.TryParse(entry.AsSpan(close + 2), NumberStyles.None, CultureInfo.InvariantCulture, out var p))
                {
                    return false;
                }
                entryPort = p;
            }
        }
        else if (entry.Count(c => c == ':') == 1)
        {
            var colon = entry.IndexOf(':', StringComparison.Ordinal);
            if (!int.TryParse(entry.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var p))
            {
                return false;
            }
            entryHost = entry[..colon];
            entryPort = p;
        }
        if (entryPort is not null && entryPort != port)
        {
            return false;
        }

        if (IPAddress.TryParse(entryHost, out var entryAddress))
        {
            return hostAddress is not null && entryAddress.Equals(hostAddress);
        }
        if (entryHost.StartsWith("*.", StringComparison.Ordinal))
        {
            entryHost = entryHost[2..];
        }
        entryHost = entryHost.TrimStart('.').TrimEnd('.');
        if (entryHost.Length == 0)
        {
            return false;
        }
        return host == entryHost
            || (host.Length > entryHost.Length && host.EndsWith(entryHost, StringComparison.Ordinal) && host[host.Length - entryHost.Length - 1] == '.');
    }
}
