using System.Globalization;
using System.Net;
using TunnelPS.Engine.Client;

namespace TunnelPS.Session;

/// <summary>The names this session gives tunnels that the user did not name.</summary>
internal static class TunnelNames
{
    /// <summary>
    /// The base name of an unnamed tunnel of <paramref name="kind"/> (http or tcp) to <paramref name="local"/>:
    /// http-3000 for a loopback service, http-host-3000 for another host (a colon of an IPv6 address becomes '-').
    /// <see cref="SessionRegistry.ReserveName"/> adds a suffix when the name is taken.
    /// </summary>
    internal static string DefaultFor(string kind, LocalTarget local)
    {
        ArgumentNullException.ThrowIfNull(local);
        bool isLocalHost = string.Equals(local.Host, "localhost", StringComparison.OrdinalIgnoreCase)
            || (IPAddress.TryParse(local.Host, out IPAddress? ip) && IPAddress.IsLoopback(ip));
        return isLocalHost
            ? string.Create(CultureInfo.InvariantCulture, $"{kind}-{local.Port}")
            : string.Create(CultureInfo.InvariantCulture, $"{kind}-{local.Host.Replace(':', '-')}-{local.Port}");
    }
}
