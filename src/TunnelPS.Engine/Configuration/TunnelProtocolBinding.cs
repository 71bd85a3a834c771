namespace TunnelPS.Engine.Configuration;

/// <summary>
/// One <c>proto</c> entry of a tunnel: the public protocol and the local address it forwards to. The address is kept
/// as written (<see cref="LocalAddress"/>) and parsed: a port (<c>4000</c> → localhost:4000), <c>host:port</c>, or a
/// URL (<c>http://host:port</c>, <c>https://host:port</c>, default ports 80/443).
/// </summary>
public sealed record TunnelProtocolBinding
{
    /// <summary>"http", "https" or "tcp".</summary>
    public required string Protocol { get; init; }

    /// <summary>The local address as written in the file.</summary>
    public required string LocalAddress { get; init; }

    /// <summary>The local host ("localhost" when only a port was written).</summary>
    public required string Host { get; init; }

    /// <summary>The local port.</summary>
    public required int Port { get; init; }

    /// <summary>
    /// How to speak to the local service: "https" when the address is an https:// URL (TLS to the local service),
    /// "tcp" for tcp tunnels, else "http".
    /// </summary>
    public required string Scheme { get; init; }

    /// <summary>1-based line of the entry.</summary>
    public int Line { get; init; }

    /// <summary>1-based column of the entry.</summary>
    public int Column { get; init; }

    /// <summary>host:port, bracketing IPv6 literals.</summary>
    public string HostPort => Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]:{Port}" : $"{Host}:{Port}";

    /// <inheritdoc />
    public override string ToString() => $"{Protocol} → {HostPort}";
}
