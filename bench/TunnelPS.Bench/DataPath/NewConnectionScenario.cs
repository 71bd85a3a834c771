using System.Diagnostics;
using System.Globalization;
using System.Net;

namespace TunnelPS.Bench.DataPath;

/// <summary>
/// A fresh connection per request: connect, GET the 1 KiB file, read the whole response, close; sequential, back to
/// back (the pool is not given time to refill beyond what the requests themselves leave it), directly and through
/// the http (capture on) and tcp tunnels. Two rounds in an ABBA order; median and p99 over every sample of a path.
/// Also the first request after a long idle period, compared with the series.
/// </summary>
internal static class NewConnectionScenario
{
    public static async Task<IReadOnlyDictionary<BenchTarget, double[]>> RunAsync(BenchContext context)
    {
        Console.WriteLine("New-connection latency");
        var report = context.Report;
        var count = context.Quick ? 100 : 500;
        var targets = new[] { context.Direct, context.CaptureOn, context.Tcp };
        var samples = targets.ToDictionary(t => t, _ => new List<double>());
        // Warm-up: each path's code must reach its optimized (tier-1) form before the series, as it has on a server
        // that has run for a while. 20 connections left it half-way (the runtime promotes a method after 30 calls
        // and compiles it in the background), and the promotions landing during the series were most of its p99.
        foreach (var target in targets)
        {
            await SeriesAsync(target, context.SmallPath, context.Quick ? 50 : 3000);
        }
        await Task.Delay(TimeSpan.FromSeconds(1));
        for (var round = 0; round < 2; round++)
        {
            foreach (var target in Stats.Interleaved(targets, round))
            {
                samples[target].AddRange(await SeriesAsync(target, context.SmallPath, count));
            }
        }
        var sorted = samples.ToDictionary(p => p.Key, p => p.Value.Order().ToArray());
        var direct = sorted[context.Direct];
        var directMedian = Stats.Median(direct);
        var directP99 = Stats.Percentile(direct, 0.99);
        foreach (var (target, label) in new[] { (context.CaptureOn, "http"), (context.Tcp, "tcp") })
        {
            var s = sorted[target];
            var median = Stats.Median(s);
            var p99 = Stats.Percentile(s, 0.99);
            report.Add(new ResultRow($"New connection median, {label}", "ms", median, directMedian, median / directMedian, "<= direct + 0.3 ms", median - directMedian <= 0.3,
                string.Create(CultureInfo.InvariantCulture, $"+{median - directMedian:0.000} ms over direct; {s.Length} samples ({count} x 2 rounds, ABBA), sequential back to back")));
            report.Add(new ResultRow($"New connection p99, {label}", "ms", p99, directP99, p99 / directP99, "<= 2 ms", p99 <= 2,
                string.Create(CultureInfo.InvariantCulture, $"max {s[^1]:0.00} ms (direct max {direct[^1]:0.00} ms)")));
        }
        await PacedAsync(context);
        return sorted;
    }

    /// <summary>
    /// Paced fresh connections from a separate process (<see cref="VisitorRole"/>), as a browser opens them: each a
    /// connect, GET 1 KiB, read, close, with a pause between, directly and through the http tunnel (capture on); two
    /// rounds in an ABBA order. Unlike the back-to-back series, every request finds the machine and the pool at rest.
    /// </summary>
    private static async Task PacedAsync(BenchContext context)
    {
        const int PauseMs = 10;
        var perRound = context.Quick ? 100 : 250;
        var targets = new[] { context.Direct, context.CaptureOn };
        await using var visitor = RoleProcess.Start([DataPathBench.RoleFlag, VisitorRole.Name]);
        await visitor.ReadLineAsync(TimeSpan.FromSeconds(60));
        foreach (var target in targets)
        {
            // The visitor's own code is jitted and promoted before the series (the paths under test already are).
            await VisitorRole.SeriesAsync(visitor, target, context.SmallPath, context.Quick ? 100 : 500, 0);
        }
        var samples = targets.ToDictionary(t => t, _ => new List<double>());
        for (var round = 0; round < 2; round++)
        {
            foreach (var target in Stats.Interleaved(targets, round))
            {
                samples[target].AddRange(await VisitorRole.SeriesAsync(visitor, target, context.SmallPath, perRound, PauseMs));
            }
        }
        var direct = samples[context.Direct].Order().ToArray();
        var http = samples[context.CaptureOn].Order().ToArray();
        var directMedian = Stats.Median(direct);
        var median = Stats.Median(http);
        var directP99 = Stats.Percentile(direct, 0.99);
        var p99 = Stats.Percentile(http, 0.99);
        var how = string.Create(CultureInfo.InvariantCulture, $"{http.Length} samples ({perRound} x 2 rounds, ABBA), sequential with a {PauseMs} ms pause, from a separate process (blocking sockets)");
        context.Report.Add(new ResultRow("New connection median, http, paced", "ms", median, directMedian, median / directMedian, "<= direct + 0.25 ms", median - directMedian <= 0.25,
            string.Create(CultureInfo.InvariantCulture, $"+{median - directMedian:0.000} ms over direct; {how}")));
        context.Report.Add(new ResultRow("New connection p99, http, paced", "ms", p99, directP99, p99 / directP99, "-", null,
            string.Create(CultureInfo.InvariantCulture, $"+{p99 - directP99:0.000} ms over direct; max {http[^1]:0.00} ms (direct max {direct[^1]:0.00} ms)")));
    }

    /// <summary>
    /// Twice: waits <c>idle</c> with no traffic at all, then one fresh-connection request directly and one through each
    /// tunnel. The two tunnels share one client session and so one proxy pool: the first cycle asks through http
    /// first, the second through tcp first. Each figure is the median (here the mean) of the two cycles.
    /// </summary>
    public static async Task FirstAfterIdleAsync(BenchContext context, IReadOnlyDictionary<BenchTarget, double[]> series)
    {
        var idle = TimeSpan.FromSeconds(context.Quick ? 10 : 90);
        Console.WriteLine($"First request after {idle.TotalSeconds:0} s idle (two cycles)");
        if (context.Quick)
        {
            context.Report.Note("quick mode: the idle wait before the first request is 10 s, not 90 s.");
        }
        var first = new Dictionary<BenchTarget, List<double>> { [context.CaptureOn] = [], [context.Tcp] = [], [context.Direct] = [] };
        var next = new List<double>();
        for (var cycle = 0; cycle < 2; cycle++)
        {
            await Task.Delay(idle);
            var tunnels = cycle == 0 ? new[] { context.CaptureOn, context.Tcp } : [context.Tcp, context.CaptureOn];
            // Direct first: the first request after the wait also wakes the harness, nginx and the machine's idle
            // cores (a direct request took 0.5-0.7 ms then, against 0.1 ms in the series). Asked last, direct found
            // all of that awake and the first tunnel paid for it; first, each tunnel's figure is what it adds itself.
            foreach (var target in tunnels.Prepend(context.Direct))
            {
                first[target].Add(await OneAsync(target, context.SmallPath));
            }
            next.Add(await OneAsync(tunnels[0], context.SmallPath));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"    cycle {cycle + 1}: {string.Join(", ", first.Select(p => $"{p.Key.Name} {p.Value[^1]:0.00} ms"))}; then {tunnels[0].Name} again {next[^1]:0.00} ms"));
        }
        var direct = Stats.Median(first[context.Direct]);
        foreach (var (target, label) in new[] { (context.CaptureOn, "http"), (context.Tcp, "tcp") })
        {
            var s = series[target];
            var p99 = Stats.Percentile(s, 0.99);
            var value = Stats.Median(first[target]);
            context.Report.Add(new ResultRow($"First request after {idle.TotalSeconds:0} s idle, {label} (fresh connection)", "ms", value, direct, value / direct,
                string.Create(CultureInfo.InvariantCulture, $"<= the series' p99 ({p99:0.00} ms)"), value <= p99,
                string.Create(CultureInfo.InvariantCulture, $"cycles {string.Join(" / ", first[target].Select(v => v.ToString("0.00", CultureInfo.InvariantCulture)))} ms (direct {string.Join(" / ", first[context.Direct].Select(v => v.ToString("0.00", CultureInfo.InvariantCulture)))}); the same tunnel's fresh-connection median was {Stats.Median(s):0.00} ms; a second request right after the first took {string.Join(" / ", next.Select(v => v.ToString("0.00", CultureInfo.InvariantCulture)))} ms")));
        }
    }

    private static async Task<double[]> SeriesAsync(BenchTarget target, string path, int count)
    {
        var result = new double[count];
        var request = target.Request(path);
        for (var i = 0; i < count; i++)
        {
            result[i] = await TimeOneAsync(target.Endpoint, request);
        }
        return result;
    }

    private static Task<double> OneAsync(BenchTarget target, string path) => TimeOneAsync(target.Endpoint, target.Request(path));

    private static async Task<double> TimeOneAsync(IPEndPoint endpoint, byte[] request)
    {
        var started = Stopwatch.GetTimestamp();
        using (var connection = await BenchHttpConnection.OpenAsync(endpoint))
        {
            await connection.GetAsync(request);
        }
        return Stopwatch.GetElapsedTime(started).TotalMilliseconds;
    }
}
