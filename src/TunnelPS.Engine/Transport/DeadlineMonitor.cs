using System.Collections.Concurrent;

namespace TunnelPS.Engine.Transport;

/// <summary>A connection whose deadlines the server's one <see cref="DeadlineMonitor"/> checks.</summary>
internal interface IDeadlineWatched
{
    /// <summary>Checks the connection's deadlines at <paramref name="now"/> (a TimeProvider timestamp) and closes it when one passed. Must not throw.</summary>
    void CheckDeadlines(long now);
}

/// <summary>
/// One timer for the deadlines of every visitor connection (request head, idle, write progress) instead of a timer per
/// connection: a registered connection costs a dictionary entry, and one tick walks them all.
/// </summary>
internal sealed class DeadlineMonitor : IDisposable
{
    private readonly ConcurrentDictionary<IDeadlineWatched, byte> _watched = new(ReferenceEqualityComparer.Instance);
    private readonly TimeProvider _time;
    private readonly ITimer _timer;
    private int _ticking;

    public DeadlineMonitor(TimeProvider time, TimeSpan period)
    {
        _time = time;
        _timer = time.CreateTimer(static state => ((DeadlineMonitor)state!).Tick(), this, period, period);
    }

    /// <summary>Connections watched now.</summary>
    public int Count => _watched.Count;

    public void Add(IDeadlineWatched connection) => _watched.TryAdd(connection, 0);

    public void Remove(IDeadlineWatched connection) => _watched.TryRemove(connection, out _);

    private void Tick()
    {
        // A slow tick is not run twice at once; the next one catches up.
        if (Interlocked.Exchange(ref _ticking, 1) == 1)
        {
            return;
        }
        try
        {
            var now = _time.GetTimestamp();
            foreach (var (connection, _) in _watched)
            {
                try
                {
                    connection.CheckDeadlines(now);
                }
#pragma warning disable CA1031 // A timer callback must never throw: that would end the host process.
                catch (Exception)
#pragma warning restore CA1031
                {
                }
            }
        }
        finally
        {
            Volatile.Write(ref _ticking, 0);
        }
    }

    public void Dispose() => _timer.Dispose();
}
