using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;

namespace TunnelPS.Bench.Soak;

/// <summary>What every soak worker shares: where to connect, the tenants' tokens, the outcome counters, live session ids.</summary>
internal sealed class SoakContext
{
    /// <summary>Source address blocks (127.0.&lt;block&gt;.x) by purpose, so the server's per-address counts stay apart.</summary>
    public const int IdleBlock = 1;
    public const int TrafficBlock = 2;
    public const int ProtocolAttackBlock = 4;
    public const int VisitorAttackBlock = 5;
    public const int FloodBlock = 6;

    private readonly int[] _nextSource = new int[8];
    private readonly List<(long Start, long End, string What)> _floods = [];

    public required SoakEndpoints Endpoints { get; init; }
    public required SoakOptions Options { get; init; }
    public required string AlphaToken { get; init; }
    public required string BetaToken { get; init; }

    /// <summary>The folder for child logs and the report copy.</summary>
    public required string ResultsFolder { get; init; }

    /// <summary>The long-lived client child's session id (the unrequested-RegProxy attack's main target).</summary>
    public required string ClientChildId { get; init; }

    public Outcomes Outcomes { get; } = new();

    /// <summary>Session ids of the churn's clients while they are logged in (attack targets).</summary>
    public ConcurrentDictionary<string, byte> LiveClientIds { get; } = new(StringComparer.Ordinal);

    /// <summary>The next source address of a block, round-robin over its 250 addresses.</summary>
    public IPAddress NextSource(int block) => Loopback.Source(block, Interlocked.Increment(ref _nextSource[block]));

    /// <summary>Marks the start of an idle-connection flood; <see cref="EndFlood"/> marks its end.</summary>
    public int BeginFlood(string what)
    {
        lock (_floods)
        {
            _floods.Add((Stopwatch.GetTimestamp(), long.MaxValue, what));
            return _floods.Count - 1;
        }
    }

    public void EndFlood(int flood)
    {
        lock (_floods)
        {
            _floods[flood] = _floods[flood] with { End = Stopwatch.GetTimestamp() };
        }
    }

    /// <summary>Counts an operation that began at <paramref name="started"/> as slow when it took over 2 s, saying whether a flood overlapped it.</summary>
    public void NoteIfSlow(string group, long started)
    {
        var now = Stopwatch.GetTimestamp();
        if (Stopwatch.GetElapsedTime(started, now) < TimeSpan.FromSeconds(2))
        {
            return;
        }
        Outcomes.Add(group, "slow (over 2 s), overlapping: " + Overlapping(started));
    }

    /// <summary>The flood that overlapped an operation begun at <paramref name="started"/> and ending now, or "no flood".</summary>
    public string Overlapping(long started)
    {
        var now = Stopwatch.GetTimestamp();
        lock (_floods)
        {
            return _floods.LastOrDefault(f => f.Start <= now && f.End >= started).What ?? "no flood";
        }
    }

    /// <summary>Runs <paramref name="operation"/> until <paramref name="stop"/>, pausing between runs; an exception that is not the stop is counted.</summary>
    public async Task RepeatAsync(string group, TimeSpan pause, Func<CancellationToken, Task> operation, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await operation(stop);
            }
            catch (Exception ex) when (!stop.IsCancellationRequested)
            {
                Outcomes.Error(group, ex);
            }
            catch (Exception) when (stop.IsCancellationRequested)
            {
                return;
            }
            try
            {
                await Task.Delay(pause, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
