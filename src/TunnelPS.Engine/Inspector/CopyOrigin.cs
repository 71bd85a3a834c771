using TunnelPS.Engine.Inspection;

namespace TunnelPS.Engine.Inspector;

/// <summary>
/// The origin the page's "Copy as curl" and "Copy as Invoke-WebRequest" commands target (the detail's
/// <c>copy_origin</c>): the public URL of the running tunnel whose capture holds the exchange, else the public URL the
/// exchange was captured on, reduced to scheme://host[:port] (http or https, no user info), else http://localhost. Never
/// a host from the captured Url: a visitor writes its Host and target, and the writer of an imported HAR all of it.
/// </summary>
internal static class CopyOrigin
{
    /// <summary>What the commands fall back to when no tunnel and no recorded public URL names an origin.</summary>
    public const string Fallback = "http://localhost";

    public static string For(CapturedExchange exchange, CaptureStore store, InspectorCatalog catalog)
    {
        string? other = null;
        foreach (var endpoint in catalog.Tunnels)
        {
            if (endpoint.Protocol is not ("http" or "https") || !ReferenceEquals(endpoint.Client.CaptureFor(endpoint.Definition), store)
                || Of(endpoint.PublicUrl) is not { } origin)
            {
                continue;
            }
            if (origin.StartsWith((exchange.Scheme ?? "http") + "://", StringComparison.OrdinalIgnoreCase))
            {
                return origin;
            }
            other ??= origin;
        }
        return other ?? Of(exchange.PublicUrl) ?? Fallback;
    }

    /// <summary>scheme://host[:port] of an http or https URL without user info, or null.</summary>
    internal static string? Of(string? url)
    {
        if (string.IsNullOrEmpty(url) || !Uri.TryCreate(url, UriKind.Absolute, out var uri)
            || uri.Scheme is not ("http" or "https") || uri.UserInfo.Length > 0
            || uri.HostNameType is not (UriHostNameType.Dns or UriHostNameType.IPv4 or UriHostNameType.IPv6))
        {
            return null;
        }
        var origin = uri.GetLeftPart(UriPartial.Authority);
        return origin.Contains('@', StringComparison.Ordinal) ? null : origin;
    }
}
