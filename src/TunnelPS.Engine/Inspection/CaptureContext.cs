namespace TunnelPS.Engine.Inspection;

/// <summary>Where a tapped connection belongs: copied onto every exchange captured from it.</summary>
internal sealed class CaptureContext
{
    public string TunnelName { get; init; } = string.Empty;

    /// <summary>The tunnel's public URL; its scheme becomes <see cref="CapturedExchange.Scheme"/>.</summary>
    public string PublicUrl { get; init; } = string.Empty;

    public string LocalAddress { get; init; } = string.Empty;

    public long ConnectionId { get; init; }

    /// <summary>The visitor's "ip:port" (StartProxy.ClientAddr).</summary>
    public string ClientAddress { get; init; } = string.Empty;

    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>
    /// Set when the client answered the visitor itself (the local service was unreachable): it becomes the
    /// <see cref="CapturedExchange.Error"/> of the exchanges of this connection.
    /// </summary>
    public string? AnsweredByClient { get; init; }

    internal string? Scheme =>
        PublicUrl.StartsWith("https://", StringComparison.OrdinalIgnoreCase) ? "https"
        : PublicUrl.StartsWith("http://", StringComparison.OrdinalIgnoreCase) ? "http"
        : null;
}
