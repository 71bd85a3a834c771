using System.Globalization;

namespace TunnelPS.Bench.Soak;

/// <summary>
/// The soak's printed results: a progress line per sample, then the table of both sides at the start, peak and end
/// with the flatness checks and their tolerances, what every worker saw, and the server's own counters.
/// </summary>
internal sealed class SoakReport(TextWriter output)
{
    private const double MiB = 1048576.0;

    private readonly List<string> _failures = [];

    /// <summary>Checks that failed, in the order they were printed.</summary>
    public IReadOnlyList<string> Failures => _failures;

    /// <summary>One line per sample; CPU is the share of one core each process used since <paramref name="previous"/>.</summary>
    public static string Progress(SoakSample s, SoakSample? previous)
    {
        var cpu = "";
        if (previous is not null && s.At > previous.At)
        {
            var seconds = (s.At - previous.At).TotalSeconds;
            cpu = string.Create(CultureInfo.InvariantCulture,
                $" | cpu server {(s.Server.Process.CpuSeconds - previous.Server.Process.CpuSeconds) / seconds,4:0%} client {(s.Client.Process.CpuSeconds - previous.Client.Process.CpuSeconds) / seconds,4:0%} load+services {(s.ParentCpuSeconds - previous.ParentCpuSeconds) / seconds,4:0%}");
        }
        return string.Create(CultureInfo.InvariantCulture,
            $"  {s.At.TotalMinutes,5:0.0} min {s.Phase,-5} server: {s.Server.Server!.Connections,5} conns {s.Server.Server.Sessions,3} sessions {s.Server.Server.Tunnels,3} tunnels, heap {s.Server.Process.ManagedHeap / MiB,5:0.0} MiB, private {s.Server.Process.Private / MiB,5:0.0} MiB, {s.Server.Process.Descriptors,5} fds | client: heap {s.Client.Process.ManagedHeap / MiB,5:0.0} MiB, private {s.Client.Process.Private / MiB,5:0.0} MiB, {s.Client.Process.Descriptors,5} fds, {s.Client.Client!.ActiveWork,4} tasks{cpu} | load avg {s.LoadAverage}");
    }

    /// <summary>Descriptors by link target whose count differs between the start and the end (sockets by TCP state).</summary>
    public void DescriptorChanges(string side, Dictionary<string, int>? start, Dictionary<string, int>? end)
    {
        if (start is null || end is null)
        {
            return;
        }
        var changed = start.Keys.Union(end.Keys)
            .Where(k => start.GetValueOrDefault(k) != end.GetValueOrDefault(k))
            .OrderBy(k => k, StringComparer.Ordinal)
            .Select(k => string.Create(CultureInfo.InvariantCulture, $"{k} {start.GetValueOrDefault(k)} -> {end.GetValueOrDefault(k)}"))
            .ToList();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  {side} descriptors by link target, start -> end: {(changed.Count == 0 ? "no change" : string.Join("; ", changed))}"));
    }

    /// <summary>The side-by-side table and its checks; every figure is next to the start it is compared with.</summary>
    public void Table(SoakSample start, IReadOnlyList<SoakSample> underLoad, SoakSample end)
    {
        var all = underLoad.Append(start).Append(end).ToList();
        output.WriteLine("                                        start        peak         end   end - start   flat? (tolerance)");
        Count("server connections held", start, all, end, s => s.Server.Server!.Connections, s => s.Server.Peaks.GetValueOrDefault(ServerRole.ConnectionsGauge), 0, "must equal start");
        Count("server TLS handshakes in progress", start, all, end, s => s.Server.Server!.HandshakesInProgress, s => s.Server.Peaks.GetValueOrDefault(ServerRole.HandshakesGauge), -1, string.Create(CultureInfo.InvariantCulture, $"at most -MaxConcurrentHandshakes, 128"));
        Count("server connections waiting for one", start, all, end, s => s.Server.Server!.HandshakesWaiting, s => s.Server.Peaks.GetValueOrDefault(ServerRole.HandshakesWaitingGauge), -1, "");
        Count("server sessions", start, all, end, s => s.Server.Server!.Sessions, null, 0, "must equal start");
        Count("server tunnels (held or reserved)", start, all, end, s => s.Server.Server!.Tunnels, null, 0, "must equal start");
        Count("server connection tasks", start, all, end, s => s.Server.Server!.ActiveWork, null, 0, "must equal start");
        Count("server deadline-watched connections", start, all, end, s => s.Server.Server!.DeadlineWatched, null, 0, "must equal start");
        Memory("server managed heap (after full GC)", start, all, end, s => s.Server.Process.ManagedHeap, null, 2, 0.10);
        Memory("server GC committed", start, all, end, s => s.Server.Process.GcCommitted, null, -1, 0);
        Memory("server private (RssAnon)", start, all, end, s => s.Server.Process.Private, null, 16, 0.25);
        Memory("server working set (VmRSS)", start, all, end, s => s.Server.Process.WorkingSet, s => s.Server.PeakWorkingSet, 16, 0.25);
        Memory("server native (private - GC committed)", start, all, end, s => s.Server.Process.Private - s.Server.Process.GcCommitted, null, -1, 0);
        Trimmed("server private after malloc_trim", start, end, t => t.Server.Process.Private, 4, 0.10);
        Count("server open descriptors", start, all, end, s => s.Server.Process.Descriptors, s => s.Server.PeakDescriptors, -1, "");
        Count("server descriptors (no .dll/.pdb/.so)", start, all, end, s => s.Server.Process.Descriptors - s.Server.Process.RuntimeFiles, null, 4, "at most start + 4");
        Count("server threads", start, all, end, s => s.Server.Process.Threads, null, -1, "");
        Memory("client managed heap (after full GC)", start, all, end, s => s.Client.Process.ManagedHeap, null, 2, 0.10);
        Memory("client captured bodies (in the heap)", start, all, end, s => s.Client.Client!.CapturedBodyBytes, null, -1, 0);
        Memory("client GC committed", start, all, end, s => s.Client.Process.GcCommitted, null, -1, 0);
        Memory("client private (RssAnon)", start, all, end, s => s.Client.Process.Private, null, 16, 0.25);
        Memory("client working set (VmRSS)", start, all, end, s => s.Client.Process.WorkingSet, s => s.Client.PeakWorkingSet, 16, 0.25);
        Memory("client native (private - GC committed)", start, all, end, s => s.Client.Process.Private - s.Client.Process.GcCommitted, null, -1, 0);
        Trimmed("client private after malloc_trim", start, end, t => t.Client.Process.Private, 4, 0.10);
        Count("client open descriptors", start, all, end, s => s.Client.Process.Descriptors, s => s.Client.PeakDescriptors, -1, "");
        Count("client descriptors (no .dll/.pdb/.so)", start, all, end, s => s.Client.Process.Descriptors - s.Client.Process.RuntimeFiles, null, 4, "at most start + 4");
        Count("client tasks (control + proxy conns)", start, all, end, s => s.Client.Client!.ActiveWork, null, 2, "at most start + 2");
        Count("client threads", start, all, end, s => s.Client.Process.Threads, null, -1, "");
        Count("local service conns (parent)", start, all, end, s => s.ServiceConnections, null, 0, "must equal start");
        Count("unobserved task exceptions (both)", start, all, end, s => (int)(s.Server.Process.UnobservedTaskExceptions + s.Client.Process.UnobservedTaskExceptions), null, 0, "must equal start");
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  (peak: the highest of the samples; connections, handshakes, descriptors and working set: the highest the child itself saw, every 100 ms / 1 s; memory tolerance: end at most start + max(fixed, share of start); after malloc_trim: glibc gave the C heap's free memory back, what is left is in use)"));
        Trend("server private (RssAnon)", underLoad, s => s.Server.Process.Private);
        Trend("client private (RssAnon)", underLoad, s => s.Client.Process.Private);
        Trend("server native (private - GC committed)", underLoad, s => s.Server.Process.Private - s.Server.Process.GcCommitted);
        Trend("client native (private - GC committed)", underLoad, s => s.Client.Process.Private - s.Client.Process.GcCommitted);
        Trend("server managed heap", underLoad, s => s.Server.Process.ManagedHeap);
        Trend("client managed heap (less captured bodies)", underLoad, s => s.Client.Process.ManagedHeap - s.Client.Client!.CapturedBodyBytes);
    }

    private void Count(string what, SoakSample start, List<SoakSample> all, SoakSample end, Func<SoakSample, int> value, Func<SoakSample, int>? childPeak, int tolerance, string rule)
    {
        var peak = all.Max(s => Math.Max(value(s), ReferenceEquals(s, start) ? 0 : childPeak?.Invoke(s) ?? 0));
        var delta = value(end) - value(start);
        var verdict = tolerance < 0 ? "" : (tolerance == 0 ? delta == 0 : delta <= tolerance) ? "yes" : "NO";
        if (verdict == "NO")
        {
            _failures.Add(string.Create(CultureInfo.InvariantCulture, $"{what}: {value(start)} at the start, {value(end)} at the end"));
        }
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  {what,-37} {value(start),10:N0}  {peak,10:N0}  {value(end),10:N0}  {delta,12:+#,0;-#,0;0}   {verdict}{(rule.Length > 0 ? " (" + rule + ")" : "")}"));
    }

    private void Memory(string what, SoakSample start, List<SoakSample> all, SoakSample end, Func<SoakSample, long> value, Func<SoakSample, long>? childPeak, double fixedMiB, double share)
    {
        var peak = all.Max(s => Math.Max(value(s), ReferenceEquals(s, start) ? 0 : childPeak?.Invoke(s) ?? 0));
        var delta = value(end) - value(start);
        var allowed = Math.Max(fixedMiB * MiB, share * value(start));
        var verdict = fixedMiB < 0 ? "" : delta <= allowed ? "yes" : "NO";
        if (verdict == "NO")
        {
            _failures.Add(string.Create(CultureInfo.InvariantCulture, $"{what}: {value(start) / MiB:0.0} MiB at the start, {value(end) / MiB:0.0} MiB at the end (allowed +{allowed / MiB:0.0} MiB)"));
        }
        var rule = fixedMiB < 0 ? "" : string.Create(CultureInfo.InvariantCulture, $" (at most +{allowed / MiB:0.0} MiB: max({fixedMiB:0} MiB, {share:0%}))");
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  {what,-37} {value(start) / MiB,6:0.0} MiB  {peak / MiB,6:0.0} MiB  {value(end) / MiB,6:0.0} MiB  {delta / MiB,8:+0.0;-0.0;0.0} MiB   {verdict}{rule}"));
    }

    /// <summary>A figure measured after malloc_trim, at the start and the end only (no peak).</summary>
    private void Trimmed(string what, SoakSample start, SoakSample end, Func<(ChildStats Server, ChildStats Client), long> value, double fixedMiB, double share)
    {
        if (start.Trimmed is not { } before || end.Trimmed is not { } after)
        {
            return;
        }
        var delta = value(after) - value(before);
        var allowed = Math.Max(fixedMiB * MiB, share * value(before));
        var verdict = delta <= allowed ? "yes" : "NO";
        if (verdict == "NO")
        {
            _failures.Add(string.Create(CultureInfo.InvariantCulture, $"{what}: {value(before) / MiB:0.0} MiB at the start, {value(after) / MiB:0.0} MiB at the end (allowed +{allowed / MiB:0.0} MiB)"));
        }
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  {what,-37} {value(before) / MiB,6:0.0} MiB           -  {value(after) / MiB,6:0.0} MiB  {delta / MiB,8:+0.0;-0.0;0.0} MiB   {verdict} (at most +{allowed / MiB:0.0} MiB: max({fixedMiB:0} MiB, {share:0%}))"));
    }

    /// <summary>Growth per minute over the second half of the samples under load (a leak grows with time; warm-up does not).</summary>
    private void Trend(string what, IReadOnlyList<SoakSample> underLoad, Func<SoakSample, long> value)
    {
        if (underLoad.Count < 4)
        {
            return;
        }
        var half = underLoad.Skip(underLoad.Count / 2).ToList();
        var minutes = (half[^1].At - half[0].At).TotalMinutes;
        if (minutes <= 0)
        {
            return;
        }
        var growth = (value(half[^1]) - value(half[0])) / MiB;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  trend under load, {what}: {value(half[0]) / MiB:0.0} MiB at {half[0].At.TotalMinutes:0.0} min -> {value(half[^1]) / MiB:0.0} MiB at {half[^1].At.TotalMinutes:0.0} min ({growth / minutes:+0.00;-0.00;0.00} MiB/min)"));
    }

    /// <summary>Every worker's outcomes, by group, with request rates and latencies next to the direct path.</summary>
    public void Outcomes(Outcomes outcomes, TimeSpan duration)
    {
        foreach (var group in outcomes.Snapshot().GroupBy(o => o.Group).Where(g => !g.Key.EndsWith(TrafficMix.PerTransfer, StringComparison.Ordinal)))
        {
            var ok = group.Where(o => o.Kind == "ok").Sum(o => o.Count);
            var line = new System.Text.StringBuilder("  " + group.Key + ": ");
            line.Append(string.Join(", ", group.Select(o => string.Create(CultureInfo.InvariantCulture, $"{o.Kind} {o.Count:N0}"))));
            if (ok > 0)
            {
                line.Append(string.Create(CultureInfo.InvariantCulture, $" ({ok / duration.TotalSeconds:N1}/s)"));
            }
            if (outcomes.SamplesOf(group.Key) is { Count: > 0 } samples)
            {
                line.Append(SampleText(group.Key, samples));
            }
            output.WriteLine(line.ToString());
        }
        foreach (var (what, _) in new[] { (TrafficMix.KeepAlive, 0), (TrafficMix.NewConnection, 0), (TrafficMix.Download, 0), (TrafficMix.Upload, 0) })
        {
            var direct = outcomes.SamplesOf(what + ", direct");
            foreach (var path in new[] { "tunnel http", "tunnel https" })
            {
                var tunnel = outcomes.SamplesOf(what + ", " + path);
                if (tunnel is null || direct is null || tunnel.Count == 0 || direct.Count == 0)
                {
                    continue;
                }
                var tunnelEach = outcomes.SamplesOf(what + ", " + path + TrafficMix.PerTransfer);
                var directEach = outcomes.SamplesOf(what + ", direct" + TrafficMix.PerTransfer);
                output.WriteLine(what is TrafficMix.Download or TrafficMix.Upload && tunnelEach is not null && directEach is not null
                    ? string.Create(CultureInfo.InvariantCulture,
                        $"  {what}, {path}: median {tunnelEach.Percentile(0.5) / MiB:0} MiB/s per transfer (all bytes over all time {tunnel.Rate / MiB:0}) vs direct median {directEach.Percentile(0.5) / MiB:0} MiB/s ({tunnelEach.Percentile(0.5) / directEach.Percentile(0.5):0.00}x direct), same load")
                    : string.Create(CultureInfo.InvariantCulture, $"  {what}, {path}: median {tunnel.Percentile(0.5):0} µs, p99 {tunnel.Percentile(0.99):0} µs vs direct median {direct.Percentile(0.5):0} µs, p99 {direct.Percentile(0.99):0} µs ({tunnel.Percentile(0.5) / direct.Percentile(0.5):0.0}x direct), same load"));
            }
        }
    }

    private static string SampleText(string group, Outcomes.Samples samples) =>
        group.StartsWith(TrafficMix.Download, StringComparison.Ordinal) || group.StartsWith(TrafficMix.Upload, StringComparison.Ordinal)
            ? string.Create(CultureInfo.InvariantCulture, $"; {samples.Total / MiB:N0} MiB at {samples.Rate / MiB:0.0} MiB/s")
            : group.StartsWith("attack", StringComparison.Ordinal)
                ? string.Create(CultureInfo.InvariantCulture, $"; closed after {samples.Min:0.0}-{samples.Max:0.0} s (median {samples.Percentile(0.5):0.0} s)")
                : string.Create(CultureInfo.InvariantCulture, $"; median {samples.Percentile(0.5):0} µs, p99 {samples.Percentile(0.99):0} µs, max {samples.Max:0} µs");

    /// <summary>The server's and client's own counters and logged warnings (children's meters since their start).</summary>
    public void Counters(ChildStats server, ChildStats client)
    {
        foreach (var (name, value) in server.Server!.Counters.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  server {name}: {value:N0}"));
        }
        foreach (var (name, value) in client.Client!.Counters.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  client {name}: {value:N0}"));
        }
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  logged: server {Logs(server.Server.Logs)}; client {Logs(client.Client.Logs)} (details in the children's logs)"));
    }

    private static string Logs(Dictionary<string, long> logs) =>
        logs.Count == 0 ? "no warnings or errors" : string.Join(", ", logs.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Value:N0} {p.Key}")));

    public void Fail(string failure) => _failures.Add(failure);
}
