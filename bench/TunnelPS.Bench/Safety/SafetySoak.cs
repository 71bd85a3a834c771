using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using TunnelPS.Bench.Cluster;
using TunnelPS.Bench.Soak;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Cluster;
using TunnelPS.Engine.Protocol;
using TunnelPS.Engine.Server;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Bench.Safety;

/// <summary>
/// The safety soak (--safety-soak): a two-node cluster on one Redis in this process, a tunnel whose client is on node
/// A, and two attacks at once for a fixed time: a client with a valid token that opens a multiplexed link and writes
/// Ping frames without ever reading its socket (on A), and visitors on node B (which forwards them to A) that ask for a
/// large download and never read. A well-behaved visitor of another tenant's tunnel is timed throughout. Reported: the
/// process's memory and descriptors before, at their peak and after, when the flooded link was closed, and when the
/// non-reading visitors were cut. Loopback only; bounded in time; stops by itself.
/// </summary>
internal static class SafetySoak
{
    public const string Flag = "--safety-soak";

    private const string AttackerToken = "bench-safety-attacker-01";
    private const string VictimToken = "bench-safety-victim-0001";

    public static bool Handles(string[] args) => args.Contains(Flag);

    public static async Task<int> RunAsync(string[] args)
    {
        var quick = args.Contains("--quick");
        var attackTime = TimeSpan.FromSeconds(quick ? 15 : 40);
        var writeTimeout = TimeSpan.FromSeconds(5);
        var visitors = quick ? 100 : 400;
        var culture = CultureInfo.InvariantCulture;

        using var redis = await BenchRedis.StartAsync();
        await using var app = new AppService();
        var certificate = CertificateStore.CreateSelfSigned("localhost");
        TunnelServerOptions Node(string name) => new()
        {
            Port = 0,
            HttpPort = 0,
            BindAddress = IPAddress.Loopback,
            Certificate = certificate,
            AuthTokens = [AttackerToken, VictimToken],
            VisitorWriteTimeout = writeTimeout,
            MaxConnectionsPerIP = 4 * visitors,
            MaxConnectionsPerTunnel = 2 * visitors,
            Cluster = new ClusterOptions
            {
                Endpoints = [$"127.0.0.1:{redis.Port}"],
                Secret = "bench-safety-secret-0000001",
                NodeName = name,
            },
        };
        await using var a = await TunnelServer.StartAsync(Node("a"));
        await using var b = await TunnelServer.StartAsync(Node("b"));
        TunnelDefinition Tunnel(string name) => new()
        {
            Name = name,
            Protocols = ["http"],
            Local = new LocalTarget("127.0.0.1", app.Port),
            Subdomain = name,
            Capture = new CaptureOptions { Enabled = false },
        };
        TunnelClient ClientOn(TunnelServer node, string token, string tunnel) => new(new TunnelClientOptions
        {
            Server = new ServerAddress("127.0.0.1", node.Port),
            AuthToken = token,
            Trust = new ServerTrust { PinnedThumbprint = node.CertificateThumbprint },
            Tunnels = [Tunnel(tunnel)],
        });
        await using var attacked = ClientOn(a, AttackerToken, "soaked");
        await using var victim = ClientOn(a, VictimToken, "bystander");
        var soakedHost = new Uri((await attacked.StartAsync()).Single().PublicUrl).Host;
        var bystanderHost = new Uri((await victim.StartAsync()).Single().PublicUrl).Host;

        Console.WriteLine($"TunnelPS safety soak ({(quick ? "quick" : "full")}), {Environment.ProcessorCount} cores, .NET {Environment.Version}: nodes A and B and Redis {redis.Port} on loopback, one process");
        Console.WriteLine(string.Create(culture, $"Attack for {attackTime.TotalSeconds:0} s: a Ping flood on a link of A that never reads, and {visitors} visitors on B that never read a 1 GiB download (visitor write timeout {writeTimeout.TotalSeconds:0} s)"));
        Console.WriteLine();

        // Warm the bystander's path through B before the baseline.
        for (var i = 0; i < 20; i++)
        {
            await TimedGetAsync(b.HttpPort, bystanderHost);
        }
        var before = Sample.Take(a, b);
        var peak = before;
        var opening = Stopwatch.StartNew();
        var readers = await OpenNonReadersAsync(b.HttpPort, soakedHost, visitors);
        Console.WriteLine(string.Create(culture, $"({visitors} non-reading visitors connected to B in {opening.Elapsed.TotalSeconds:0.0} s; the flood starts and the clock with it)"));
        var started = Stopwatch.StartNew();
        using var stop = new CancellationTokenSource(attackTime);
        var flood = Task.Run(() => FloodAsync(a, stop.Token));
        TimeSpan? released = null;
        var bystander = new List<double>();
        var bystanderFailures = 0;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                bystander.Add(await TimedGetAsync(b.HttpPort, bystanderHost));
            }
            catch (Exception ex) when (ex is IOException or SocketException or InvalidDataException)
            {
                bystanderFailures++;
            }
            var now = Sample.Take(a, b);
            peak = Sample.Max(peak, now);
            if (released is null && now.BConnections <= before.BConnections + 2)
            {
                released = started.Elapsed;
            }
            await Task.Delay(100, CancellationToken.None);
        }
        var (floodBytes, floodClosedAt) = await flood;
        foreach (var reader in readers)
        {
            reader.Dispose();
        }

        // After: the attack is over; give the servers a write timeout to settle, then collect.
        var settle = Stopwatch.StartNew();
        while (settle.Elapsed < writeTimeout + TimeSpan.FromSeconds(5) && b.ConnectionCount > before.BConnections + 2)
        {
            await Task.Delay(100, CancellationToken.None);
        }
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        var after = Sample.Take(a, b);

        Console.WriteLine("| | before | peak | after |");
        Console.WriteLine("| --- | ---: | ---: | ---: |");
        Console.WriteLine(string.Create(culture, $"| process RSS (MiB) | {before.RssMiB:0.0} | {peak.RssMiB:0.0} | {after.RssMiB:0.0} |"));
        Console.WriteLine(string.Create(culture, $"| managed heap (MiB) | {before.HeapMiB:0.0} | {peak.HeapMiB:0.0} | {after.HeapMiB:0.0} |"));
        Console.WriteLine(string.Create(culture, $"| open descriptors | {before.Descriptors} | {peak.Descriptors} | {after.Descriptors} |"));
        Console.WriteLine(string.Create(culture, $"| connections held by A / B | {before.AConnections} / {before.BConnections} | {peak.AConnections} / {peak.BConnections} | {after.AConnections} / {after.BConnections} |"));
        Console.WriteLine();
        Console.WriteLine(string.Create(culture, $"Ping flood: {floodBytes / (1024.0 * 1024):0.0} MiB of Ping frames written; {(floodClosedAt is { } closed ? $"the server closed the link after {closed.TotalSeconds:0.0} s" : "the link was still open when the attack ended")}"));
        Console.WriteLine(string.Create(culture, $"Non-reading visitors on B: at most {peak.BConnections - before.BConnections} connections held; {(released is { } r ? $"all cut by B after {r.TotalSeconds:0.0} s" : "still held when the attack ended")}"));
        bystander.Sort();
        if (bystander.Count > 0)
        {
            Console.WriteLine(string.Create(culture, $"Another tenant's visitor through B during the attack: {bystander.Count} requests, {bystanderFailures} failed, median {bystander[bystander.Count / 2]:0.0} ms, max {bystander[^1]:0.0} ms"));
        }
        return 0;
    }

    private static async Task<double> TimedGetAsync(int port, string host)
    {
        var started = Stopwatch.GetTimestamp();
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await socket.ConnectAsync(IPAddress.Loopback, port, deadline.Token);
        await socket.SendAsync(Encoding.ASCII.GetBytes($"GET /small HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"), SocketFlags.None, deadline.Token);
        var buffer = new byte[4096];
        var total = 0;
        int n;
        while ((n = await socket.ReceiveAsync(buffer.AsMemory(total), SocketFlags.None, deadline.Token)) > 0)
        {
            total += n;
            if (total == buffer.Length)
            {
                break;
            }
        }
        if (!Encoding.ASCII.GetString(buffer, 0, total).StartsWith("HTTP/1.1 200", StringComparison.Ordinal))
        {
            throw new InvalidDataException("not a 200");
        }
        return Stopwatch.GetElapsedTime(started).TotalMilliseconds;
    }

    private static async Task<List<Socket>> OpenNonReadersAsync(int port, string host, int count)
    {
        var sockets = new List<Socket>(count);
        var request = Encoding.ASCII.GetBytes($"GET /download/1073741824 HTTP/1.1\r\nHost: {host}\r\n\r\n");
        for (var i = 0; i < count; i++)
        {
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
            await socket.ConnectAsync(IPAddress.Loopback, port);
            await socket.SendAsync(request, SocketFlags.None);
            sockets.Add(socket);
        }
        return sockets;
    }

    /// <summary>Logs in with the attacker's token, opens a link and writes Ping frames without reading until the server closes it or the attack ends.</summary>
    private static async Task<(long Bytes, TimeSpan? ClosedAt)> FloodAsync(TunnelServer node, CancellationToken stop)
    {
        var clock = Stopwatch.StartNew();
        await using var control = await DialAsync(node.Port);
        await FrameCodec.WriteAsync(control, new Auth
        {
            User = AttackerToken,
            OS = "linux",
            Arch = "amd64",
            Capabilities = [ProtocolVersion.TunnelPSCapability, ProtocolVersion.ProxyKeyCapability, ProtocolVersion.MuxCapability],
        }, stop);
        AuthResp? login = null;
        while (login is null)
        {
            login = await FrameCodec.ReadAsync(control, stop) as AuthResp;
        }
        await using var link = await DialAsync(node.Port);
        await FrameCodec.WriteAsync(link, new RegLink { ClientId = login.ClientId, ProxyKey = login.ProxyKey! }, stop);
        var pings = new byte[MuxFrame.HeaderLength * 4096];
        for (var i = 0; i < 4096; i++)
        {
            MuxFrame.WriteHeader(pings.AsSpan(i * MuxFrame.HeaderLength), MuxFrameType.Ping, 0, 0);
        }
        long bytes = 0;
        try
        {
            while (!stop.IsCancellationRequested)
            {
                await link.WriteAsync(pings, stop);
                bytes += pings.Length;
            }
            return (bytes, null);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return (bytes, null);
        }
        catch (ObjectDisposedException)
        {
            return (bytes, clock.Elapsed);
        }
        catch (IOException)
        {
            return (bytes, clock.Elapsed);
        }
    }

    private static async Task<SslStream> DialAsync(int port)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(IPAddress.Loopback, port);
        var ssl = new SslStream(new NetworkStream(socket, ownsSocket: true), false, static (_, _, _, _) => true);
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "localhost" });
        return ssl;
    }

    private readonly record struct Sample(double RssMiB, double HeapMiB, int Descriptors, int AConnections, int BConnections)
    {
        public static Sample Take(TunnelServer a, TunnelServer b)
        {
            using var self = Process.GetCurrentProcess();
            self.Refresh();
            var descriptors = Directory.Exists("/proc/self/fd") ? Directory.GetFiles("/proc/self/fd").Length : self.HandleCount;
            return new Sample(self.WorkingSet64 / (1024.0 * 1024), GC.GetTotalMemory(false) / (1024.0 * 1024), descriptors, a.ConnectionCount, b.ConnectionCount);
        }

        public static Sample Max(Sample x, Sample y) => new(
            Math.Max(x.RssMiB, y.RssMiB), Math.Max(x.HeapMiB, y.HeapMiB), Math.Max(x.Descriptors, y.Descriptors),
            Math.Max(x.AConnections, y.AConnections), Math.Max(x.BConnections, y.BConnections));
    }
}
