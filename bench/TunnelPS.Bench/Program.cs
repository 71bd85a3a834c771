using System.Diagnostics;
using System.Globalization;
using System.Net;
using TunnelPS.Bench;
using TunnelPS.Bench.Soak;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Server;
using TunnelPS.Engine.Transport;

// TunnelPS benchmark harness: every figure is reported next to the direct path measured in the same run; then the
// bounded soak (Soak/SoakRun.cs), unless --no-soak. See bench/README.md.
// Usage: dotnet run -c Release --project bench/TunnelPS.Bench [-- --quick] [--soak-only | --no-soak | --idle-only] ...
switch (args.Length > 0 ? args[0] : "")
{
    case ClientProcess.Flag:
        return await ClientProcess.RunAsync(args);
    case ServerRole.Flag:
        return await ServerRole.RunAsync(args);
    case ClientRole.Flag:
        return await ClientRole.RunAsync(args);
}
if (TunnelPS.Bench.MuxCompare.MuxCompareBench.Handles(args))
{
    return await TunnelPS.Bench.MuxCompare.MuxCompareBench.RunAsync(args);
}
if (TunnelPS.Bench.Safety.SafetySoak.Handles(args))
{
    return await TunnelPS.Bench.Safety.SafetySoak.RunAsync(args);
}
if (TunnelPS.Bench.Cluster.ClusterBench.Handles(args))
{
    return await TunnelPS.Bench.Cluster.ClusterBench.RunAsync(args);
}
if (TunnelPS.Bench.DataPath.DataPathBench.Handles(args))
{
    return await TunnelPS.Bench.DataPath.DataPathBench.RunAsync(args);
}

SoakOptions soak;
try
{
    soak = SoakOptions.Parse(args);
}
catch (ArgumentException ex)
{
    await Console.Error.WriteLineAsync(ex.Message);
    return 2;
}
if (soak.SoakOnly)
{
    return await SoakRun.RunAsync(soak);
}

var quick = soak.Quick;
var latencySamples = quick ? 50 : 200;
var throughputSeconds = quick ? 2 : 5;
var memoryRequests = quick ? 10_000 : 100_000;
var culture = CultureInfo.InvariantCulture;

using var service = new FixedResponseService();
var certificate = CertificateStore.CreateSelfSigned("localhost");
await using var server = await TunnelServer.StartAsync(new TunnelServerOptions
{
    Port = 0,
    HttpPort = 0,
    BindAddress = IPAddress.Loopback,
    Certificate = certificate,
});

async Task<(TunnelClient Client, string Host)> OpenAsync(string subdomain, bool capture)
{
    var client = new TunnelClient(new TunnelClientOptions
    {
        Server = new ServerAddress("127.0.0.1", server.Port),
        Trust = new ServerTrust { PinnedThumbprint = server.CertificateThumbprint },
        Tunnels = [new TunnelDefinition
        {
            Name = subdomain,
            Protocols = ["http"],
            Local = new LocalTarget("127.0.0.1", service.Port),
            Subdomain = subdomain,
            Capture = new CaptureOptions { Enabled = capture },
        }],
    });
    var endpoint = (await client.StartAsync()).Single();
    return (client, new Uri(endpoint.PublicUrl).Authority);
}

var (captureOn, hostOn) = await OpenAsync("bench-capture", capture: true);
var (captureOff, hostOff) = await OpenAsync("bench-plain", capture: false);
// Tunnel responses carry the same bytes as direct ones: the server adds headers to requests only.
var responseLength = FixedResponseService.ResponseLength;

Console.WriteLine($"TunnelPS benchmark ({(quick ? "quick" : "full")}), {Environment.ProcessorCount} cores, .NET {Environment.Version}");
Console.WriteLine();

// 1. New-connection latency: connect, one request, response, close.
async Task<double[]> NewConnectionLatencyAsync(int port, string host)
{
    var samples = new double[latencySamples];
    for (var i = -20; i < latencySamples; i++)
    {
        var started = Stopwatch.GetTimestamp();
        using (var client = new RawHttpClient(host, responseLength))
        {
            await client.ConnectAsync(port);
            await client.RoundTripAsync();
        }
        if (i >= 0)
        {
            samples[i] = Stopwatch.GetElapsedTime(started).TotalMicroseconds;
        }
        else
        {
            // Warm-up; let the pool refill between connections as it would between real visitors.
            await Task.Delay(1);
        }
        if (port == server.HttpPort)
        {
            var deadline = DateTime.UtcNow.AddSeconds(2);
            while (server.IdleProxyCount < 2 * server.Options.PoolSize && DateTime.UtcNow < deadline)
            {
                await Task.Delay(1);
            }
        }
    }
    Array.Sort(samples);
    return samples;
}

static double Percentile(double[] sorted, double p) => sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];

var direct = await NewConnectionLatencyAsync(service.Port, "localhost");
var tunnelled = await NewConnectionLatencyAsync(server.HttpPort, hostOff);
Console.WriteLine($"New-connection latency (connect + GET + response + close), median of {latencySamples}, µs:");
Console.WriteLine(string.Create(culture, $"  direct     median {Percentile(direct, 0.5),8:0}   p90 {Percentile(direct, 0.9),8:0}"));
Console.WriteLine(string.Create(culture, $"  tunnel     median {Percentile(tunnelled, 0.5),8:0}   p90 {Percentile(tunnelled, 0.9),8:0}   ratio {Percentile(tunnelled, 0.5) / Percentile(direct, 0.5):0.00}x direct"));
Console.WriteLine();

// 2. Keep-alive throughput with several connections.
async Task<(double RequestsPerSecond, long Requests)> ThroughputAsync(int port, string host, int connections, TimeSpan duration)
{
    var clients = new List<RawHttpClient>();
    for (var i = 0; i < connections; i++)
    {
        var c = new RawHttpClient(host, responseLength);
        await c.ConnectAsync(port);
        await c.RoundTripAsync();
        clients.Add(c);
    }
    long total = 0;
    var stopAt = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
    var started = Stopwatch.GetTimestamp();
    await Task.WhenAll(clients.Select(async c =>
    {
        long mine = 0;
        while (Stopwatch.GetTimestamp() < stopAt)
        {
            await c.RoundTripAsync();
            mine++;
        }
        Interlocked.Add(ref total, mine);
    }));
    var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
    clients.ForEach(c => c.Dispose());
    return (total / seconds, total);
}

const int Connections = 8;
var window = TimeSpan.FromSeconds(throughputSeconds);
// Warm-up: let tiered compilation settle on every path before anything is measured.
foreach (var (port, host) in new[] { (service.Port, "localhost"), (server.HttpPort, hostOff), (server.HttpPort, hostOn) })
{
    await ThroughputAsync(port, host, Connections, TimeSpan.FromSeconds(quick ? 1 : 2));
}
async Task<Measured> MeasuredAsync(int port, string host)
{
    using var self = Process.GetCurrentProcess();
    var allocatedBefore = GC.GetTotalAllocatedBytes(precise: false);
    self.Refresh();
    var cpuBefore = self.TotalProcessorTime;
    var (rate, requests) = await ThroughputAsync(port, host, Connections, window);
    self.Refresh();
    var cpu = (self.TotalProcessorTime - cpuBefore).TotalMicroseconds / requests;
    return new Measured(rate, requests, (GC.GetTotalAllocatedBytes(precise: false) - allocatedBefore) / (double)requests, cpu);
}

// Interleaved in an ABBA order and averaged, so a drift in machine load does not favour one path.
var directA = await MeasuredAsync(service.Port, "localhost");
var onA = await MeasuredAsync(server.HttpPort, hostOn);
var offA = await MeasuredAsync(server.HttpPort, hostOff);
var offB = await MeasuredAsync(server.HttpPort, hostOff);
var onB = await MeasuredAsync(server.HttpPort, hostOn);
var directB = await MeasuredAsync(service.Port, "localhost");
var directRate = Measured.Mean(directA, directB);
var onRate = Measured.Mean(onA, onB);
var offRate = Measured.Mean(offA, offB);
// CPU per request is the whole process's (user + kernel) time over the requests served: the load generator and
// the service are in it too, so the tunnel's own cost is the difference from the direct path.
Console.WriteLine($"Keep-alive throughput, {Connections} connections, 2 x {throughputSeconds} s each (ABBA order):");
Console.WriteLine(string.Create(culture, $"  direct                {directRate.Rate,9:0} req/s   {directRate.CpuMicros,5:0} µs CPU/request"));
Console.WriteLine(string.Create(culture, $"  tunnel, capture off   {offRate.Rate,9:0} req/s   {offRate.CpuMicros,5:0} µs CPU/request   {offRate.Rate / directRate.Rate:0.00}x direct   tunnel adds {offRate.CpuMicros - directRate.CpuMicros:0} µs"));
Console.WriteLine(string.Create(culture, $"  tunnel, capture on    {onRate.Rate,9:0} req/s   {onRate.CpuMicros,5:0} µs CPU/request   {onRate.Rate / directRate.Rate:0.00}x direct   tunnel adds {onRate.CpuMicros - directRate.CpuMicros:0} µs   {onRate.Rate / offRate.Rate:0.00}x capture off"));
Console.WriteLine("Managed allocation per request (load generator, service, server and client all in this process):");
Console.WriteLine(string.Create(culture, $"  direct {directRate.Bytes,8:0} B   capture off {offRate.Bytes,8:0} B   capture on {onRate.Bytes,8:0} B"));
Console.WriteLine();

// 3. Memory after many captured requests: the ring keeps the newest 1000, so the heap must stay flat.
var store = captureOn.CaptureFor(captureOn.Options.Tunnels[0])!;
GC.Collect();
GC.WaitForPendingFinalizers();
GC.Collect();
var before = GC.GetTotalMemory(forceFullCollection: true);
using (var c = new RawHttpClient(hostOn, responseLength))
{
    await c.ConnectAsync(server.HttpPort);
    for (var i = 0; i < memoryRequests; i++)
    {
        await c.RoundTripAsync();
    }
}
var deadlineCapture = DateTime.UtcNow.AddSeconds(10);
while (store.Snapshot().Count < Math.Min(memoryRequests, store.Capacity) && DateTime.UtcNow < deadlineCapture)
{
    await Task.Delay(10);
}
var after = GC.GetTotalMemory(forceFullCollection: true);
var process = Process.GetCurrentProcess();
process.Refresh();
Console.WriteLine($"Memory after {memoryRequests:N0} captured requests (server and client in this process, ring of {store.Capacity}):");
Console.WriteLine(string.Create(culture, $"  managed heap before {before / 1048576.0:0.0} MiB, after {after / 1048576.0:0.0} MiB, working set {process.WorkingSet64 / 1048576.0:0.0} MiB; exchanges kept {store.Snapshot().Count}"));

Console.WriteLine();

// 4. The client alone: a child process holding one tunnel with capture on (ring of 1000, bodies up to 1 MiB).
using (var child = await ClientProcess.Handle.StartAsync(server.Port, server.CertificateThumbprint, service.Port))
{
    using var c = new RawHttpClient(child.Host, responseLength);
    await c.ConnectAsync(server.HttpPort);
    for (var i = 0; i < 2000; i++)
    {
        await c.RoundTripAsync();
    }
    var warm = await child.MemoryAsync();
    for (var i = 0; i < memoryRequests; i++)
    {
        await c.RoundTripAsync();
    }
    var deadline = DateTime.UtcNow.AddSeconds(10);
    var done = await child.MemoryAsync();
    while (done.Kept < 1000 && DateTime.UtcNow < deadline)
    {
        await Task.Delay(50);
        done = await child.MemoryAsync();
    }
    Console.WriteLine($"The client process alone, capture on, after 2,000 then {memoryRequests + 2000:N0} requests:");
    Console.WriteLine(string.Create(culture, $"  managed heap {warm.Heap / 1048576.0:0.0} MiB -> {done.Heap / 1048576.0:0.0} MiB, working set {warm.WorkingSet / 1048576.0:0.0} MiB -> {done.WorkingSet / 1048576.0:0.0} MiB; exchanges kept {done.Kept}"));
}

await captureOn.DisposeAsync();
await captureOff.DisposeAsync();
if (!soak.Soak)
{
    return 0;
}
// The soak measures its own children; nothing of the benchmark stays running beside it.
await server.DisposeAsync();
service.Dispose();
return await SoakRun.RunAsync(soak);

/// <summary>One throughput measurement: requests per second, requests served, bytes allocated and CPU µs per request.</summary>
internal sealed record Measured(double Rate, long Requests, double Bytes, double CpuMicros)
{
    public static Measured Mean(Measured a, Measured b) =>
        new((a.Rate + b.Rate) / 2, a.Requests + b.Requests, (a.Bytes + b.Bytes) / 2, (a.CpuMicros + b.CpuMicros) / 2);
}
