using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Client;

/// <summary>What a connectivity check tries: the servers (each checked on its own), token, trust, proxy and deadlines.</summary>
public sealed record ConnectivityProbeOptions
{
    /// <summary>The most round trips the Latency step measures.</summary>
    public const int MaxLatencySamples = 20;

    /// <summary>The most frames read while waiting for one Pong (a server without multiplexing sends ReqProxy first).</summary>
    public const int MaxFramesPerPong = 64;

    /// <summary>The servers to check, in order: the nodes of a cluster are each checked in full.</summary>
    public required IReadOnlyList<ServerAddress> Servers { get; init; }

    /// <summary>The token sent in the login; empty sends none.</summary>
    public string AuthToken { get; init; } = "";

    /// <summary>Where the token came from ("-AuthToken", "authtoken in ~/.tunnelps/tunnelps.yml"), for hints; null if unknown.</summary>
    public string? AuthTokenSource { get; init; }

    public ServerTrust Trust { get; init; } = new();

    /// <summary>The HTTP proxy to go through; null dials directly.</summary>
    public ProxySettings? Proxy { get; init; }

    /// <summary>The deadline of each step (the same as a client's connect timeout).</summary>
    public TimeSpan StepTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How many Ping/Pong round trips the Latency step measures (1 to <see cref="MaxLatencySamples"/>).</summary>
    public int LatencySamples { get; init; } = 3;

    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    internal void Validate()
    {
        if (Servers.Count == 0)
        {
            throw new TunnelConfigurationException("No server to check: give at least one server address.");
        }
        if (StepTimeout <= TimeSpan.Zero)
        {
            throw new TunnelConfigurationException("The step timeout must be positive.");
        }
        if (LatencySamples is < 1 or > MaxLatencySamples)
        {
            throw new TunnelConfigurationException($"The latency samples must be between 1 and {MaxLatencySamples}.");
        }
    }
}
