using System.Security.Cryptography;

namespace TunnelPS.Engine.Client;

/// <summary>How long a client waits before its next attempt to reconnect: doubling from the minimum to the maximum, with jitter.</summary>
internal static class ReconnectPolicy
{
    /// <summary>The delay before attempt number <paramref name="attempt"/> (0 for the first after a loss).</summary>
    public static TimeSpan Delay(int attempt, TimeSpan minimum, TimeSpan maximum)
    {
        var min = minimum.TotalMilliseconds;
        var max = maximum.TotalMilliseconds;
        var baseDelay = Math.Min(max, min * Math.Pow(2, Math.Min(attempt, 16)));
        // Full jitter over the upper half, so a fleet of clients does not reconnect in lockstep.
        var jittered = baseDelay * (0.5 + (RandomNumberGenerator.GetInt32(1000) / 2000.0));
        return TimeSpan.FromMilliseconds(Math.Max(1, jittered));
    }
}
