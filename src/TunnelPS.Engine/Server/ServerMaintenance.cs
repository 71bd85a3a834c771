using Microsoft.Extensions.Logging;
using TunnelPS.Engine.Configuration;
using TunnelPS.Engine.Diagnostics;

namespace TunnelPS.Engine.Server;

/// <summary>
/// The server's once-a-second housekeeping: heartbeats checked (idle proxy connections recycled every fifth tick),
/// expired tunnel reservations released, and the token file reloaded once it has changed and settled.
/// </summary>
internal sealed class ServerMaintenance(TunnelServer server, ILogger logger)
{
    private int _ticks;

    /// <summary>Ticks once a second on the server's clock until <paramref name="token"/> ends it; a failed tick is logged and the next one runs.</summary>
    public async Task RunAsync(CancellationToken token)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1), server.Options.TimeProvider);
        var tick = 0;
        while (await timer.WaitForNextTickAsync(token).ConfigureAwait(false))
        {
            tick++;
            try
            {
                Tick(tick);
            }
#pragma warning disable CA1031 // One failed tick (a bad token file, a session that throws) must not stop the next ones.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                ServerLog.LoopFailed(logger, "maintenance tick", ex);
            }
            Interlocked.Increment(ref _ticks);
        }
    }

    /// <summary>Ticks completed (a test that advances a fake clock waits for the tick's work).</summary>
    public int Ticks => Volatile.Read(ref _ticks);

    private void Tick(int tick)
    {
        server.Sessions.CheckHeartbeats(recycle: tick % 5 == 0);
        foreach (var expired in server.Registry.RemoveExpired(server.Options.TimeProvider.GetUtcNow()))
        {
            if (expired.Listener is { } listener)
            {
                server.Track(listener.DisposeAsync().AsTask());
            }
        }
        ReloadTokens();
    }

    /// <summary>
    /// Applies the token file once it has changed and settled (<see cref="TenantDirectory.ReloadIfChanged"/>). A file
    /// that cannot be used, or has no token list, keeps the tokens in force with a warning: clients are never cut off
    /// because the file was caught half-written.
    /// </summary>
    private void ReloadTokens()
    {
        TokenFileReload reload;
        try
        {
            reload = server.Tenants.ReloadIfChanged();
        }
        catch (Exception ex) when (ex is TunnelException or IOException or UnauthorizedAccessException)
        {
            TunnelMetrics.TokenFileReloads.Add(1, new KeyValuePair<string, object?>("outcome", "error"));
            ServerLog.TokenFileReloadFailed(logger, server.Options.AuthTokenFile ?? "", ex.Message);
            return;
        }
        if (reload.HasNoList)
        {
            TunnelMetrics.TokenFileReloads.Add(1, new KeyValuePair<string, object?>("outcome", "no_list"));
            ServerLog.TokenFileWithoutList(logger, server.Options.AuthTokenFile ?? "", server.Tenants.Count);
            return;
        }
        if (!reload.Applied)
        {
            return;
        }
        TunnelMetrics.TokenFileReloads.Add(1, new KeyValuePair<string, object?>("outcome", "applied"));
        ServerLog.TokensLoaded(logger, server.Tenants.Count, server.Tenants.Source);
        server.Cluster?.ReservationsChanged();
        foreach (var key in reload.Revoked)
        {
            server.Sessions.EndTenant(key, "its token was removed from the token file");
        }
    }
}
