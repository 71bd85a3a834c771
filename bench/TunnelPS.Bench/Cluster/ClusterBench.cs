using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Cluster;
using TunnelPS.Engine.Server;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Bench.Cluster;

/// <summary>
/// The cluster benchmark (--cluster): two nodes on one Redis in this process, one tunnel whose client is on node A.
/// New-connection latency and keep-alive throughput through A (the owner) and through B (which forwards over its link
/// to A), next to the direct path; then the cluster's registration rate (tunnels opened per second, each claimed in
/// Redis). Everything shares the machine's cores: compare the rows, not the absolute numbers.
/// </summary>
internal static class ClusterBench
{
    public const string Flag = "--cluster";

    private const string Token = "bench-cluster-token-0001";

    public static bool Handles(string[] args) => args.Contains(Flag);

    public static async Task<int> RunAsync(string[] args)
    {
        var quick = args.Contains("--quick");
        var samples = quick ? 30 : 300;
        var seconds = quick ? 1 : 5;
        var registrations = quick ? 50 : 500;
        var culture = CultureInfo.InvariantCulture;

        using var redis = await BenchRedis.StartAsync();
        using var service = new FixedResponseService();
        var certificate = CertificateStore.CreateSelfSigned("localhost");
        TunnelServerOptions Node(string name) => new()
        {
            Port = 0,
            HttpPort = 0,
            BindAddress = IPAddress.Loopback,
            Certificate = certificate,
            AuthTokens = [Token],
            MaxTunnelsPerSession = registrations + 10,
            Cluster = new ClusterOptions
            {
                Endpoints = [$"127.0.0.1:{redis.Port}"],
                Secret = "bench-cluster-secret-000001",
                NodeName = name,
            },
        };
        await using var a = await TunnelServer.StartAsync(Node("a"));
        await using var b = await TunnelServer.StartAsync(Node("b"));
        TunnelClientOptions ClientFor(TunnelServer node, params TunnelDefinition[] tunnels) => new()
        {
            Server = new ServerAddress("127.0.0.1", node.Port),
            AuthToken = Token,
            Trust = new ServerTrust { PinnedThumbprint = node.CertificateThumbprint },
            Tunnels = tunnels,
        };
        TunnelDefinition Tunnel(string name) => new()
        {
            Name = name,
            Protocols = ["http"],
            Local = new LocalTarget("127.0.0.1", service.Port),
            Subdomain = name,
            Capture = new CaptureOptions { Enabled = false },
        };
        await using var client = new TunnelClient(ClientFor(a, Tunnel("bench")));
        var host = new Uri((await client.StartAsync()).Single().PublicUrl).Host;
        var length = FixedResponseService.ResponseLength;

        Console.WriteLine($"TunnelPS cluster benchmark ({(quick ? "quick" : "full")}), {Environment.ProcessorCount} cores, .NET {Environment.Version}: two nodes and Redis {redis.Port} on loopback");
        Console.WriteLine();

        async Task<double[]> LatencyAsync(int port)
        {
            var values = new double[samples];
            for (var i = -10; i < samples; i++)
            {
                var started = Stopwatch.GetTimestamp();
                using (var visitor = new RawHttpClient(host, length))
                {
                    await visitor.ConnectAsync(port);
                    await visitor.RoundTripAsync();
                }
                if (i >= 0)
                {
                    values[i] = Stopwatch.GetElapsedTime(started).TotalMicroseconds;
                }
            }
            Array.Sort(values);
            return values;
        }

        static double Percentile(double[] sorted, double p) => sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];

        var direct = await LatencyAsync(service.Port);
        var owner = await LatencyAsync(a.HttpPort);
        var forwarded = await LatencyAsync(b.HttpPort);
        Console.WriteLine($"New-connection latency (connect + GET + response + close), {samples} samples, µs:");
        Console.WriteLine(string.Create(culture, $"  direct               median {Percentile(direct, 0.5),8:0}   p90 {Percentile(direct, 0.9),8:0}"));
        Console.WriteLine(string.Create(culture, $"  owner node (A)       median {Percentile(owner, 0.5),8:0}   p90 {Percentile(owner, 0.9),8:0}"));
        Console.WriteLine(string.Create(culture, $"  forwarding node (B)  median {Percentile(forwarded, 0.5),8:0}   p90 {Percentile(forwarded, 0.9),8:0}   forwarding adds {Percentile(forwarded, 0.5) - Percentile(owner, 0.5):0} µs (one link stream; the route to the owner is remembered, no Redis lookup)"));
        Console.WriteLine();

        const int Connections = 8;
        async Task<double> ThroughputAsync(int port)
        {
            var visitors = new List<RawHttpClient>();
            for (var i = 0; i < Connections; i++)
            {
                var visitor = new RawHttpClient(host, length);
                await visitor.ConnectAsync(port);
                await visitor.RoundTripAsync();
                visitors.Add(visitor);
            }
            long total = 0;
            var stopAt = Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency);
            var started = Stopwatch.GetTimestamp();
            await Task.WhenAll(visitors.Select(async visitor =>
            {
                long mine = 0;
                while (Stopwatch.GetTimestamp() < stopAt)
                {
                    await visitor.RoundTripAsync();
                    mine++;
                }
                Interlocked.Add(ref total, mine);
            }));
            var elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
            visitors.ForEach(v => v.Dispose());
            return total / elapsed;
        }

        // Warm-up, then ABBA so that a drift in machine load favours neither node.
        await ThroughputAsync(a.HttpPort);
        await ThroughputAsync(b.HttpPort);
        var ownerRate = (await ThroughputAsync(a.HttpPort) + await ThroughputAsync(a.HttpPort)) / 2;
        var forwardRate = (await ThroughputAsync(b.HttpPort) + await ThroughputAsync(b.HttpPort)) / 2;
        Console.WriteLine($"Keep-alive throughput, {Connections} connections, {seconds} s per run:");
        Console.WriteLine(string.Create(culture, $"  owner node (A)       {ownerRate,9:0} req/s"));
        Console.WriteLine(string.Create(culture, $"  forwarding node (B)  {forwardRate,9:0} req/s   {forwardRate / ownerRate:0.00}x the owner"));
        Console.WriteLine();

        // Registration rate: one client on each node asks for its tunnels at once; each is claimed in Redis.
        var half = registrations / 2;
        await using var left = new TunnelClient(ClientFor(a, [.. Enumerable.Range(0, half).Select(i => Tunnel($"reg-a-{i}"))]));
        await using var right = new TunnelClient(ClientFor(b, [.. Enumerable.Range(0, registrations - half).Select(i => Tunnel($"reg-b-{i}"))]));
        var registering = Stopwatch.StartNew();
        await Task.WhenAll(left.StartAsync(), right.StartAsync());
        registering.Stop();
        Console.WriteLine(string.Create(culture, $"Registration: {registrations} tunnels over two nodes (two logins) in {registering.Elapsed.TotalMilliseconds:0} ms: {registrations / registering.Elapsed.TotalSeconds:0} tunnels/s"));
        Console.WriteLine();

        // The store goes away: B keeps the route it knew, and learns a route it lacks by asking A over their link.
        redis.Kill();
        var noticed = Stopwatch.StartNew();
        while (b.Cluster!.StoreReachable || a.Cluster!.StoreReachable)
        {
            if (noticed.Elapsed > TimeSpan.FromSeconds(30))
            {
                Console.WriteLine("The nodes did not notice that Redis is down within 30 s.");
                return 1;
            }
            await Task.Delay(20);
        }
        var failures = 0;
        var kept = new List<double>();
        var learned = new List<double>();
        for (var i = 0; i < samples; i++)
        {
            // Every other connection, B has forgotten the route first (as if it had never seen the name).
            var forget = i % 2 == 1;
            if (forget)
            {
                b.Cluster.Router.Forget(host);
            }
            var started = Stopwatch.GetTimestamp();
            try
            {
                using var visitor = new RawHttpClient(host, length);
                await visitor.ConnectAsync(b.HttpPort);
                await visitor.RoundTripAsync();
                if (!visitor.LastWasOk)
                {
                    failures++;
                    continue;
                }
            }
            catch (Exception ex) when (ex is IOException or SocketException)
            {
                failures++;
                continue;
            }
            (forget ? learned : kept).Add(Stopwatch.GetElapsedTime(started).TotalMicroseconds);
        }
        kept.Sort();
        learned.Sort();
        Console.WriteLine($"Store down (Redis killed), new connections through the forwarding node (B), {samples} samples:");
        Console.WriteLine(string.Create(culture, $"  failures             {failures} of {samples}"));
        if (kept.Count > 0)
        {
            Console.WriteLine(string.Create(culture, $"  route kept           median {Percentile([.. kept], 0.5),8:0}   p90 {Percentile([.. kept], 0.9),8:0} µs"));
        }
        if (learned.Count > 0)
        {
            Console.WriteLine(string.Create(culture, $"  route asked of A     median {Percentile([.. learned], 0.5),8:0}   p90 {Percentile([.. learned], 0.9),8:0} µs (one cluster:who question over the link, then the forward)"));
        }
        return failures == 0 ? 0 : 1;
    }
}
