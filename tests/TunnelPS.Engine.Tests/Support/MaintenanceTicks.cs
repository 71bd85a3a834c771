using Microsoft.Extensions.Time.Testing;
using TunnelPS.Engine.Server;

namespace TunnelPS.Engine.Tests.Support;

/// <summary>
/// Drives a server's once-a-second maintenance (heartbeats, expired reservations, the token file's poll) with a fake
/// clock, one tick at a time, waiting for each tick's work to finish. (Apart from <see cref="TunnelHarness"/>, which the
/// inspector tests share without the fake clock's package.)
/// </summary>
internal static class MaintenanceTicks
{
    /// <summary>
    /// Advances a server's fake clock by one second at a time, waiting for each maintenance tick (heartbeats, expired
    /// reservations, the token file's poll) to finish, until <paramref name="condition"/> holds or
    /// <paramref name="maxTicks"/> ticks have run. Returns the ticks it took.
    /// </summary>
    public static async Task<int> UntilAsync(TunnelServer server, FakeTimeProvider time, Func<bool> condition, string what, int maxTicks = 10)
    {
        for (var tick = 1; tick <= maxTicks; tick++)
        {
            await AdvanceAsync(server, time);
            if (condition())
            {
                return tick;
            }
        }
        throw new TimeoutException($"Still not {what} after {maxTicks} maintenance ticks");
    }

    /// <summary>Advances a server's fake clock by one second and waits until the maintenance tick it fires has run.</summary>
    public static async Task AdvanceAsync(TunnelServer server, FakeTimeProvider time, int ticks = 1)
    {
        for (var i = 0; i < ticks; i++)
        {
            var before = server.MaintenanceTicksForTest;
            time.Advance(TimeSpan.FromSeconds(1));
            await TunnelHarness.WaitUntilAsync(() => server.MaintenanceTicksForTest > before, "the maintenance tick has run");
        }
    }
}
