using System.Collections.Concurrent;

namespace TunnelPS.Engine.Diagnostics;

/// <summary>
/// Lets a warning that an attack could repeat thousands of times a second through at most once per interval per kind,
/// and tells the next one how many were suppressed meanwhile: the log stays readable and cheap under a flood.
/// </summary>
internal sealed class LogThrottle(TimeProvider time, TimeSpan interval)
{
    /// <summary>The most kinds a throttle keeps apart (kinds that carry a peer's address grow with the peers).</summary>
    internal const int MaxKinds = 4096;

    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    /// <summary>
    /// As <see cref="Warn(string, Action{long})"/> for a <paramref name="kind"/> that names a peer; once the throttle
    /// holds <see cref="MaxKinds"/> kinds, a new one is counted under <paramref name="sharedKind"/> instead.
    /// </summary>
    public void Warn(string kind, string sharedKind, Action<long> write) =>
        Warn(_entries.Count >= MaxKinds && !_entries.ContainsKey(kind) ? sharedKind : kind, write);

    /// <summary>Writes through <paramref name="write"/> (given the count suppressed since the last write) when the interval has passed.</summary>
    public void Warn(string kind, Action<long> write)
    {
        var entry = _entries.GetOrAdd(kind, static _ => new Entry());
        var now = time.GetTimestamp();
        long suppressed;
        lock (entry)
        {
            if (entry.LastWritten != 0 && time.GetElapsedTime(entry.LastWritten, now) < interval)
            {
                entry.Suppressed++;
                return;
            }
            entry.LastWritten = now;
            suppressed = entry.Suppressed;
            entry.Suppressed = 0;
        }
        write(suppressed);
    }

    private sealed class Entry
    {
        public long LastWritten;
        public long Suppressed;
    }
}
