using System.Globalization;

namespace TunnelPS.Bench.DataPath;

/// <summary>
/// Keep-alive throughput (wrk -t2 -c32 on the 1 KiB file) directly, through http with capture off and on, and through
/// https; several rounds in an alternating order, medians reported. Over each run the server's and the client's CPU
/// time, allocation and context switches are divided by the requests served; a separate run per path counts syscalls
/// with perf stat (perf's tracepoints cost time of their own, so they never share a run with a timed figure).
/// </summary>
internal static class KeepAliveScenario
{
    private sealed record Run(LoadResult Load, SideCost Cost);

    public static async Task<double?> RunAsync(BenchContext context)
    {
        var report = context.Report;
        Console.WriteLine("Keep-alive throughput");
        var targets = new List<BenchTarget> { context.Direct, context.CaptureOff, context.CaptureOn };
        if (context.Wrk is not null)
        {
            targets.Add(context.Https);
            if (context.DirectTls is not null)
            {
                targets.Add(context.DirectTls);
            }
        }
        else
        {
            report.Note("wrk is not installed (apt-get install -y wrk): keep-alive figures come from the harness's own generator (32 connections, in the harness process) and https is skipped.");
        }
        var duration = TimeSpan.FromSeconds(context.Quick ? 3 : 10);
        var rounds = context.Quick ? 2 : 3;
        foreach (var target in targets)
        {
            await context.LoadAsync(target, TimeSpan.FromSeconds(context.Quick ? 1 : 3));
        }
        var runs = targets.ToDictionary(t => t, _ => new List<Run>());
        for (var round = 0; round < rounds; round++)
        {
            foreach (var target in Stats.Interleaved(targets, round))
            {
                var (load, cost) = await context.MeasureAsync(() => context.LoadAsync(target, duration));
                runs[target].Add(new Run(load, cost));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"    round {round + 1} {target.Name,-22} {load.RequestsPerSecond,9:0} req/s  p99 {load.P99Ms,7:0.00} ms  server {cost.Server.CpuMs * 1000 / load.Requests,6:0.0} µs  client {cost.Client.CpuMs * 1000 / load.Requests,6:0.0} µs  errors {load.Errors}"));
            }
        }
        foreach (var (target, list) in runs)
        {
            if (list.Any(r => !r.Load.Clean))
            {
                report.Note($"{target.Name}: some keep-alive runs had socket errors or non-2xx responses ({string.Join(", ", list.Select(r => r.Load.Errors))}).");
            }
        }

        double Rate(BenchTarget t) => Stats.Median(runs[t].Select(r => r.Load.RequestsPerSecond));
        double P99(BenchTarget t) => Stats.Median(runs[t].Select(r => r.Load.P99Ms));
        double PerRequest(BenchTarget t, Func<SideCost, double> value) => Stats.Median(runs[t].Select(r => value(r.Cost) / r.Load.Requests));
        var direct = Rate(context.Direct);
        var directP99 = P99(context.Direct);
        var generator = context.Wrk is not null ? $"wrk -t{WrkRunner.Threads} -c{WrkRunner.Connections} -d{duration.TotalSeconds:0}s" : "own generator, 32 connections";
        var nginxCpu = PerRequest(context.Direct, c => c.Nginx.CpuMs * 1000);
        foreach (var (target, label, minimum) in new[] { (context.CaptureOff, "http, capture off", 0.55), (context.CaptureOn, "http, capture on", 0.5), (context.Https, "https (capture on)", double.NaN) })
        {
            if (!runs.ContainsKey(target))
            {
                report.Skip($"Keep-alive req/s, {label}", "wrk is not installed (apt-get install -y wrk); the own generator speaks plain HTTP only");
                continue;
            }
            var rate = Rate(target);
            var note = $"median of {rounds} runs, {generator}";
            if (ReferenceEquals(target, context.Https) && context.DirectTls is not null)
            {
                note += string.Create(CultureInfo.InvariantCulture, $"; direct https to nginx: {Rate(context.DirectTls):0} req/s (ratio {rate / Rate(context.DirectTls):0.00})");
            }
            report.Add(new ResultRow($"Keep-alive req/s, {label}", "req/s", rate, direct, rate / direct,
                double.IsNaN(minimum) ? "-" : string.Create(CultureInfo.InvariantCulture, $">= {minimum:0.00} x direct"),
                double.IsNaN(minimum) ? null : rate / direct >= minimum, note));
            report.Add(new ResultRow($"Keep-alive p99, {label}", "ms", P99(target), directP99, P99(target) / directP99, "-", null, "median of the runs' p99"));

            var server = PerRequest(target, c => c.Server.CpuMs * 1000);
            var client = PerRequest(target, c => c.Client.CpuMs * 1000);
            var total = PerRequest(target, c => (c.Server.CpuMs + c.Client.CpuMs) * 1000);
            report.Add(new ResultRow($"CPU per request, server + client, {label}", "µs", total, nginxCpu, null, "<= 30 µs", total <= 30,
                string.Create(CultureInfo.InvariantCulture, $"server {server:0.0} µs (user {PerRequest(target, c => c.Server.UserMs * 1000):0.0}) + client {client:0.0} µs (user {PerRequest(target, c => c.Client.UserMs * 1000):0.0}); direct column: nginx's CPU per request on the direct path")));
            var allocServer = PerRequest(target, c => c.Server.AllocatedBytes);
            var allocClient = PerRequest(target, c => c.Client.AllocatedBytes);
            var captureOff = ReferenceEquals(target, context.CaptureOff);
            report.Add(new ResultRow($"Allocation per request, server + client, {label}", "B", allocServer + allocClient, null, null,
                captureOff ? "<= 256 B" : "-", captureOff ? allocServer + allocClient <= 256 : null,
                string.Create(CultureInfo.InvariantCulture, $"server {allocServer:0} B + client {allocClient:0} B (GC.GetTotalAllocatedBytes(true))")));
            double Switches(Func<SideCost, double> v) => PerRequest(target, v);
            var sv = Switches(c => c.Server.VoluntarySwitches);
            var si = Switches(c => c.Server.InvoluntarySwitches);
            var cv = Switches(c => c.Client.VoluntarySwitches);
            var ci = Switches(c => c.Client.InvoluntarySwitches);
            report.Add(new ResultRow($"Context switches per request, server + client, {label}", "", sv + si + cv + ci,
                PerRequest(context.Direct, c => c.Nginx.VoluntarySwitches + c.Nginx.InvoluntarySwitches), null, "-", null,
                string.Create(CultureInfo.InvariantCulture, $"server {sv:0.00} voluntary + {si:0.00} involuntary, client {cv:0.00} + {ci:0.00} (getrusage); direct column: nginx")));
        }

        await CountSyscallsAsync(context, targets.Where(t => !ReferenceEquals(t, context.DirectTls)).ToList());
        return direct;
    }

    private static async Task CountSyscallsAsync(BenchContext context, IReadOnlyList<BenchTarget> targets)
    {
        var report = context.Report;
        if (context.Perf is null)
        {
            report.Skip("Sends/receives per request (perf stat)", "perf cannot count syscalls here (see the run notes); /proc/self/io's syscr/syscw count only read/write, not send/recv");
            return;
        }
        var duration = TimeSpan.FromSeconds(context.Quick ? 3 : 6);
        var window = duration - TimeSpan.FromSeconds(2);
        SyscallCounts? nginxPerRequest = null;
        foreach (var target in targets)
        {
            var pids = new List<int> { context.Server.Pid, context.Client.Pid };
            pids.AddRange(context.Nginx?.WorkerPids() ?? []);
            var load = context.LoadAsync(target, duration);
            await Task.Delay(TimeSpan.FromSeconds(1));
            var counts = await PerfCounter.CountAsync(context.Perf, pids, window);
            var result = await load;
            // Requests in the counted window, from the run's average rate.
            var requests = result.RequestsPerSecond * window.TotalSeconds;
            SyscallCounts Per(SyscallCounts c) => c.PerThousandRequests(requests);
            var server = Per(counts[0]);
            var client = Per(counts[1]);
            var nginx = Per(SyscallCounts.Sum(counts.Skip(2)));
            if (!context.IsTunnel(target))
            {
                nginxPerRequest = nginx;
                report.Note(string.Create(CultureInfo.InvariantCulture,
                    $"perf, direct path, per request (x1000): nginx worker sends {nginx.Sends}, receives {nginx.Receives} (would block {nginx.WouldBlock}), epoll_wait {nginx.EpollWaits}, all syscalls {nginx.AllSyscalls}, context switches {nginx.ContextSwitches}."));
                continue;
            }
            report.Add(new ResultRow($"Syscalls per request, server + client, {target.Name}", "", (server.AllSyscalls + client.AllSyscalls) / 1000.0,
                nginxPerRequest is null ? null : nginxPerRequest.AllSyscalls / 1000.0, null, "-", null,
                string.Create(CultureInfo.InvariantCulture,
                    $"server: sends {server.Sends / 1000.0:0.00}, receives {server.Receives / 1000.0:0.00} (would block {server.WouldBlock / 1000.0:0.00}), epoll_wait {server.EpollWaits / 1000.0:0.00}, futex {server.Futexes / 1000.0:0.00}, context switches {server.ContextSwitches / 1000.0:0.00}; client: sends {client.Sends / 1000.0:0.00}, receives {client.Receives / 1000.0:0.00} (would block {client.WouldBlock / 1000.0:0.00}), epoll_wait {client.EpollWaits / 1000.0:0.00}, futex {client.Futexes / 1000.0:0.00}, context switches {client.ContextSwitches / 1000.0:0.00}; nginx in the same run: sends {nginx.Sends / 1000.0:0.00}, receives {nginx.Receives / 1000.0:0.00} (would block {nginx.WouldBlock / 1000.0:0.00}) (perf stat -p, {window.TotalSeconds:0} s window in a separate run)")));
        }
    }
}
