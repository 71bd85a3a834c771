using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Bench.DataPath;

/// <summary>
/// Bulk transfer: one large download (1 GiB; 256 MiB in quick mode) directly and through the http (capture on and
/// off) and tcp tunnels; 64 concurrent fresh-connection 1 MiB downloads (slowest over fastest); and fairness: the
/// throughput of 10 visitors downloading 1 MiB files back to back, without and beside an 11th visitor that reads
/// 1 KiB per second. Rounds in alternating order, medians reported.
/// </summary>
internal static class TransferScenario
{
    private const double MB = 1e6;

    public static async Task BulkAsync(BenchContext context)
    {
        var path = context.Quick ? "/256m" : "/1g";
        Console.WriteLine($"Bulk download {path}");
        var targets = new[] { context.Direct, context.CaptureOn, context.CaptureOff, context.Tcp };
        var rounds = context.Quick ? 2 : 3;
        var rates = targets.ToDictionary(t => t, _ => new List<double>());
        var cpu = targets.ToDictionary(t => t, _ => new List<(double Server, double Client)>());
        var switches = targets.ToDictionary(t => t, _ => new List<(double Server, double Client)>());
        // One untimed direct download first: nginx's first read of the sparse file fills the page cache and ran at a
        // sixth of the speed of the later ones, which made whichever target came first look slow.
        await Task.Factory.StartNew(() =>
        {
            using var warm = BenchHttpConnection.OpenBlocking(context.Direct.Endpoint);
            warm.Download(context.Direct.Request(path));
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        for (var round = 0; round < rounds; round++)
        {
            foreach (var target in Stats.Interleaved(targets, round))
            {
                var ((bytes, seconds), cost) = await context.MeasureAsync(async () =>
                {
                    // The download reads on a thread of its own with blocking receives (as curl does): see Download.
                    return await Task.Factory.StartNew(() =>
                    {
                        var started = Stopwatch.GetTimestamp();
                        using var connection = BenchHttpConnection.OpenBlocking(target.Endpoint);
                        var length = connection.Download(target.Request(path));
                        return (length, Stopwatch.GetElapsedTime(started).TotalSeconds);
                    }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
                });
                rates[target].Add(bytes / seconds / MB);
                var gib = bytes / (double)(1L << 30);
                cpu[target].Add((cost.Server.CpuMs / 1000 / gib, cost.Client.CpuMs / 1000 / gib));
                switches[target].Add(((cost.Server.VoluntarySwitches + cost.Server.InvoluntarySwitches) / gib, (cost.Client.VoluntarySwitches + cost.Client.InvoluntarySwitches) / gib));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"    round {round + 1} {target.Name,-22} {bytes / seconds / MB,8:0} MB/s"));
            }
        }
        var direct = Stats.Median(rates[context.Direct]);
        var ceiling = new List<double>();
        for (var round = 0; round < rounds; round++)
        {
            ceiling.Add(await TlsCeilingAsync(context.Quick ? 256L << 20 : 1L << 30));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"    round {round + 1} one TLS stream          {ceiling[^1],8:0} MB/s"));
        }
        var tlsRate = Stats.Median(ceiling);
        context.Report.Add(new ResultRow($"One TLS stream, .NET to .NET, {path[1..]} MB/s (no tunnel: the ceiling of one TLS hop)", "MB/s", tlsRate, direct, tlsRate / direct, "-", null,
            string.Create(CultureInfo.InvariantCulture, $"median of {rounds}, after the downloads; two harness threads, blocking SslStream calls, 256 KiB writes and reads; runs {string.Join(" / ", ceiling.Select(r => r.ToString("0", CultureInfo.InvariantCulture)))}")));
        foreach (var (target, label) in new[] { (context.CaptureOn, "http, capture on"), (context.CaptureOff, "http, capture off"), (context.Tcp, "tcp") })
        {
            var rate = Stats.Median(rates[target]);
            context.Report.Add(new ResultRow($"Download {path[1..]} MB/s, {label}", "MB/s", rate, direct, rate / direct, ">= 0.60 x direct", rate / direct >= 0.6,
                string.Create(CultureInfo.InvariantCulture, $"median of {rounds}; CPU per GiB: server {Stats.Median(cpu[target].Select(c => c.Server)):0.00} s, client {Stats.Median(cpu[target].Select(c => c.Client)):0.00} s; context switches per GiB: server {Stats.Median(switches[target].Select(c => c.Server)):0}, client {Stats.Median(switches[target].Select(c => c.Client)):0}; runs {string.Join(" / ", rates[target].Select(r => r.ToString("0", CultureInfo.InvariantCulture)))}")));
        }
    }

    /// <summary>
    /// The most one TLS hop carries on this machine: a single TLS 1.3 stream over loopback between two threads of the
    /// harness, both with blocking calls on .NET's SslStream (the platform TLS every TunnelPS peer uses), writing and
    /// reading 256 KiB at a time. A tunnel's bytes cross such a hop and two plain TCP hops besides, so this bounds what
    /// any TLS tunnel built on the platform can do here.
    /// </summary>
    public static async Task<double> TlsCeilingAsync(long bytes)
    {
        using var certificate = CertificateStore.CreateSelfSigned("localhost");
        using var listener = new Socket(SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var sender = Task.Factory.StartNew(() =>
        {
            using var socket = listener.Accept();
            socket.NoDelay = true;
            using var tls = new SslStream(new NetworkStream(socket, ownsSocket: false));
            tls.AuthenticateAsServer(new SslServerAuthenticationOptions { ServerCertificate = certificate });
            var chunk = new byte[256 * 1024];
            for (long sent = 0; sent < bytes; sent += chunk.Length)
            {
                tls.Write(chunk, 0, (int)Math.Min(chunk.Length, bytes - sent));
            }
            tls.Flush();
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        var seconds = await Task.Factory.StartNew(() =>
        {
            using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            socket.Connect(listener.LocalEndPoint!);
            using var tls = new SslStream(new NetworkStream(socket, ownsSocket: false), false, (_, _, _, _) => true);
            tls.AuthenticateAsClient("localhost");
            var buffer = new byte[256 * 1024];
            var started = Stopwatch.GetTimestamp();
            for (long got = 0; got < bytes;)
            {
                var n = tls.Read(buffer, 0, buffer.Length);
                if (n == 0)
                {
                    throw new IOException($"The TLS stream ended after {got} of {bytes} bytes.");
                }
                got += n;
            }
            return Stopwatch.GetElapsedTime(started).TotalSeconds;
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        await sender;
        return bytes / seconds / MB;
    }

    public static async Task ConcurrentAsync(BenchContext context)
    {
        Console.WriteLine("64 concurrent 1 MiB downloads");
        var targets = new[] { context.Direct, context.CaptureOn, context.Tcp };
        var rounds = context.Quick ? 2 : 3;
        var spread = targets.ToDictionary(t => t, _ => new List<double>());
        var wall = targets.ToDictionary(t => t, _ => new List<double>());
        for (var round = 0; round < rounds; round++)
        {
            foreach (var target in Stats.Interleaved(targets, round))
            {
                var request = target.Request("/1m");
                var started = Stopwatch.GetTimestamp();
                var durations = await Task.WhenAll(Enumerable.Range(0, 64).Select(async _ =>
                {
                    var t = Stopwatch.GetTimestamp();
                    using var connection = await BenchHttpConnection.OpenAsync(target.Endpoint);
                    await connection.GetAsync(request);
                    return Stopwatch.GetElapsedTime(t).TotalMilliseconds;
                }));
                wall[target].Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                spread[target].Add(durations.Max() / durations.Min());
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"    round {round + 1} {target.Name,-22} slowest/fastest {durations.Max() / durations.Min(),6:0.0}  all done in {wall[target][^1],6:0} ms"));
            }
        }
        var direct = Stats.Median(spread[context.Direct]);
        foreach (var (target, label) in new[] { (context.CaptureOn, "http"), (context.Tcp, "tcp") })
        {
            var value = Stats.Median(spread[target]);
            context.Report.Add(new ResultRow($"64 concurrent 1 MiB downloads, slowest/fastest, {label}", "x", value, direct, value / direct, "-", null,
                string.Create(CultureInfo.InvariantCulture, $"all 64 done in {Stats.Median(wall[target]):0} ms (direct {Stats.Median(wall[context.Direct]):0} ms); fresh connection each; median of {rounds}")));
        }
    }

    public static async Task SlowReaderAsync(BenchContext context)
    {
        Console.WriteLine("Slow-reader fairness");
        var window = TimeSpan.FromSeconds(context.Quick ? 2 : 5);
        var targets = new[] { context.Direct, context.CaptureOn, context.Tcp };
        var ratios = new Dictionary<BenchTarget, (double Ratio, double With, double Without, long SlowBytes)>();
        foreach (var target in targets)
        {
            var without = new List<double>();
            var with = new List<double>();
            long slowBytes = 0;
            // ABBA: without, with, with, without.
            foreach (var slow in new[] { false, true, true, false })
            {
                using var stop = new CancellationTokenSource();
                Task? reader = null;
                if (slow)
                {
                    reader = SlowReadAsync(target, bytes => Interlocked.Add(ref slowBytes, bytes), stop.Token);
                    // Let the slow visitor's buffers along the path fill before the neighbours start.
                    await Task.Delay(TimeSpan.FromSeconds(2));
                }
                var rate = await NeighboursAsync(target, window);
                (slow ? with : without).Add(rate);
                await stop.CancelAsync();
                if (reader is not null)
                {
                    await reader;
                }
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"    {target.Name,-22} {(slow ? "beside the slow reader" : "alone"),-22} {rate,8:0} MB/s"));
            }
            var w = Stats.Median(with);
            var wo = Stats.Median(without);
            ratios[target] = (w / wo, w, wo, slowBytes);
        }
        var direct = ratios[context.Direct];
        foreach (var (target, label) in new[] { (context.CaptureOn, "http"), (context.Tcp, "tcp") })
        {
            var r = ratios[target];
            context.Report.Add(new ResultRow($"10 visitors beside a 1 KiB/s reader, throughput with/without, {label}", "x", r.Ratio, direct.Ratio, null, "> 0.90 (slowdown < 10%)", r.Ratio > 0.9,
                string.Create(CultureInfo.InvariantCulture, $"{r.With:0} MB/s beside it vs {r.Without:0} MB/s without (direct {direct.With:0} vs {direct.Without:0}); the slow reader got {r.SlowBytes} B; {window.TotalSeconds:0} s windows, ABBA")));
        }
    }

    /// <summary>10 connections each downloading the 1 MiB file back to back for the window; total MB/s.</summary>
    private static async Task<double> NeighboursAsync(BenchTarget target, TimeSpan window)
    {
        var request = target.Request("/1m");
        long total = 0;
        var stopAt = Stopwatch.GetTimestamp() + (long)(window.TotalSeconds * Stopwatch.Frequency);
        var started = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, 10).Select(async _ =>
        {
            using var connection = await BenchHttpConnection.OpenAsync(target.Endpoint);
            while (Stopwatch.GetTimestamp() < stopAt)
            {
                Interlocked.Add(ref total, await connection.GetAsync(request));
            }
        }));
        return total / Stopwatch.GetElapsedTime(started).TotalSeconds / MB;
    }

    /// <summary>A visitor downloading the 1 GiB file at 1 KiB per second until cancelled.</summary>
    private static async Task SlowReadAsync(BenchTarget target, Action<int> onBytes, CancellationToken token)
    {
        try
        {
            using var connection = await BenchHttpConnection.OpenAsync(target.Endpoint, token: token);
            await connection.SendAsync(target.Request("/1g"), token);
            await connection.ReadResponseAsync(token, readSize: 1024, pause: TimeSpan.FromSeconds(1), onBytes: onBytes);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
    }
}
