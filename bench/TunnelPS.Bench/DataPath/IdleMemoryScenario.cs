using System.Globalization;
using System.Net;

namespace TunnelPS.Bench.DataPath;

/// <summary>
/// Memory per open idle visitor connection: 5,000 connections (500 in quick mode), each from one of 250 source
/// addresses 127.0.x.y, each sending one request for the 1 KiB file and reading the response, then left open and
/// silent. The server's and the client's resident memory, managed heap (after a full collection) and descriptors
/// are read before and after; the difference over the connections is the cost of one. Each tunnel path gets a fresh
/// server and client (warmed up by a few hundred connections opened and closed), so what earlier scenarios left in
/// their heaps does not blur the difference. Directly, the same for nginx. Kernel socket buffers are in no process's
/// resident memory, on either path.
/// </summary>
internal static class IdleMemoryScenario
{
    private const int Addresses = 250;

    public static async Task RunAsync(BenchContext context)
    {
        var count = context.Quick ? 500 : 5000;
        Console.WriteLine($"Memory per idle visitor connection, {count} open");
        var results = new Dictionary<BenchTarget, (ProcessCounters Server, ProcessCounters Client, OtherProcess Nginx, int Open)>
        {
            [context.Direct] = await MeasureAsync(context, context.Server, context.Client, context.Direct, count),
        };
        var labels = new List<(BenchTarget Target, string Label)>();
        foreach (var (label, select) in new (string, Func<TunnelPair, BenchTarget>)[] { ("http", p => p.CaptureOn), ("tcp", p => p.Tcp) })
        {
            await using var pair = await TunnelPair.StartAsync(context.LocalPort);
            var target = select(pair);
            await WarmUpAsync(target, context.SmallPath);
            results[target] = await MeasureAsync(context, pair.Server, pair.Client, target, count);
            labels.Add((target, label));
        }
        var direct = results[context.Direct];
        var nginxPerConnection = direct.Nginx.ResidentBytes / (double)count / 1024;
        foreach (var (target, label) in labels)
        {
            var r = results[target];
            foreach (var (side, counters) in new[] { ("server", r.Server), ("client", r.Client) })
            {
                var kib = counters.ResidentBytes / (double)count / 1024;
                context.Report.Add(new ResultRow($"Memory per idle visitor connection, {side}, {label}", "KiB", kib, nginxPerConnection, null, "<= 16 KiB", kib <= 16,
                    string.Create(CultureInfo.InvariantCulture,
                        $"resident; managed heap {counters.HeapBytes / (double)count / 1024:0.00} KiB, descriptors {counters.Descriptors / (double)count:0.00} per connection; {r.Open} of {count} opened, server holding {r.Server.Connections:+0;-0} connections at the measurement; direct column: nginx (master + worker) resident per connection")));
            }
        }
    }

    /// <summary>Opens and closes 300 connections with one request each, so the code is compiled and the pools sized.</summary>
    private static async Task WarmUpAsync(BenchTarget target, string path)
    {
        var request = target.Request(path);
        await Task.WhenAll(Enumerable.Range(0, 10).Select(async _ =>
        {
            for (var i = 0; i < 30; i++)
            {
                using var connection = await BenchHttpConnection.OpenAsync(target.Endpoint);
                await connection.GetAsync(request);
            }
        }));
        await Task.Delay(TimeSpan.FromSeconds(2));
    }

    private static async Task<(ProcessCounters Server, ProcessCounters Client, OtherProcess Nginx, int Open)> MeasureAsync(
        BenchContext context, RoleProcess server, RoleProcess client, BenchTarget target, int count)
    {
        var serverBefore = await server.StatsAsync(collect: true);
        var clientBefore = await client.StatsAsync(collect: true);
        var nginxBefore = context.NginxCounters();
        var request = target.Request(context.SmallPath);
        var connections = new BenchHttpConnection?[count];
        var next = -1;
        var failures = 0;
        string? firstError = null;
        await Task.WhenAll(Enumerable.Range(0, 32).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                var k = i % Addresses;
                var source = new IPAddress(new byte[] { 127, 0, (byte)(1 + (k / 250)), (byte)(1 + (k % 250)) });
                try
                {
                    var connection = await BenchHttpConnection.OpenAsync(target.Endpoint, source);
                    connections[i] = connection;
                    await connection.GetAsync(request);
                }
                catch (Exception ex) when (ex is IOException or InvalidDataException or System.Net.Sockets.SocketException)
                {
                    Interlocked.Increment(ref failures);
                    firstError ??= ex.Message;
                }
            }
        }));
        // Let every side settle into its idle state (pool refills, buffers returned) before measuring.
        await Task.Delay(TimeSpan.FromSeconds(3));
        var serverAfter = await server.StatsAsync(collect: true);
        var clientAfter = await client.StatsAsync(collect: true);
        var nginxAfter = context.NginxCounters();
        var open = count - failures;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"    {target.Name,-22} opened {open}/{count}; server +{(serverAfter.ResidentBytes - serverBefore.ResidentBytes) / 1048576.0:0.0} MiB, client +{(clientAfter.ResidentBytes - clientBefore.ResidentBytes) / 1048576.0:0.0} MiB, nginx +{(nginxAfter.ResidentBytes - nginxBefore.ResidentBytes) / 1048576.0:0.0} MiB; server connections {serverBefore.Connections} -> {serverAfter.Connections}"));
        if (failures > 0)
        {
            context.Report.Note($"{target.Name}: {failures} of {count} idle connections failed to open ({firstError}).");
        }
        foreach (var connection in connections)
        {
            connection?.Dispose();
        }
        // Wait for the server to let go of them before the next path.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline && (await server.StatsAsync()).Connections > serverBefore.Connections + 8)
        {
            await Task.Delay(200);
        }
        return (SideCost.Difference(serverAfter, serverBefore), SideCost.Difference(clientAfter, clientBefore),
            new OtherProcess(0, nginxAfter.ResidentBytes - nginxBefore.ResidentBytes, nginxAfter.Descriptors - nginxBefore.Descriptors, 0, 0), open);
    }
}
