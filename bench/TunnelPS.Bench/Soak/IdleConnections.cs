using System.Diagnostics;
using System.Globalization;

namespace TunnelPS.Bench.Soak;

/// <summary>
/// Memory per idle visitor connection on each side: both children measured quiet, N keep-alive visitors opened through
/// the idle tunnels (one GET each, then silent), both measured again, the visitors closed, both measured once more.
/// The whole open-and-measure must finish within the server's idle timeout (60 s), or the server would already be
/// closing the first visitors; the report says how long it took and how many connections the server held.
/// </summary>
internal sealed class IdleConnections(SoakContext context, ChildProcessHandle server, ChildProcessHandle client, TextWriter output)
{
    private const int OpenConcurrency = 32;

    public async Task<bool> MeasureAsync(bool tls, CancellationToken stop)
    {
        var n = context.Options.IdleConnections;
        var endpoints = context.Endpoints;
        var scheme = tls ? "HTTPS" : "HTTP";
        var (serverBefore, clientBefore) = await SettledAsync();
        if (serverBefore is null || clientBefore is null)
        {
            output.WriteLine("  a child did not answer; no measurement");
            return false;
        }
        var open = new HttpWire?[n];
        var failures = new Outcomes();
        var started = Stopwatch.GetTimestamp();
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, OpenConcurrency).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < n && !stop.IsCancellationRequested)
            {
                var host = endpoints.IdleHosts[i % endpoints.IdleHosts.Count];
                try
                {
                    using var deadline = Loopback.Deadline(stop, TimeSpan.FromSeconds(30));
                    // 200 visitors per source address: well under the per-address limit.
                    var wire = await Loopback.VisitAsync(endpoints, Loopback.Source(SoakContext.IdleBlock, i / 200), host, tls, deadline.Token);
                    open[i] = wire;
                    await wire.Stream.WriteAsync(Loopback.Get(host, "/small"), deadline.Token);
                    var head = await wire.ReadHeadAsync(deadline.Token) ?? throw new EndOfStreamException("closed before the response");
                    await wire.SkipBodyAsync(head, isResponse: true, deadline.Token);
                    failures.Add("open", head.Status == 200 ? "ok" : "status " + head.Status.ToString(CultureInfo.InvariantCulture));
                }
                catch (Exception ex) when (!stop.IsCancellationRequested)
                {
                    failures.Error("open", ex);
                }
            }
        }));
        var opened = Stopwatch.GetElapsedTime(started);
        var serverHeld = await server.StatsAsync();
        var clientHeld = await client.StatsAsync();
        var measured = Stopwatch.GetElapsedTime(started);
        var ok = failures.Count("open", "ok");

        foreach (var wire in open)
        {
            if (wire is not null)
            {
                await wire.Stream.DisposeAsync();
            }
        }
        var (serverAfter, clientAfter) = await SettledAsync();
        await server.TrimNativeHeapAsync();
        await client.TrimNativeHeapAsync();
        var serverTrimmed = await server.StatsAsync();
        var clientTrimmed = await client.StatsAsync();
        if (serverHeld is null || clientHeld is null || serverAfter is null || clientAfter is null || serverTrimmed is null || clientTrimmed is null)
        {
            output.WriteLine("  a child did not answer; no measurement");
            return false;
        }

        var perVisitor = serverBefore.Server!.Links > 0 ? 1 : 2;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Memory per idle {scheme} visitor connection, N = {n:N0} keep-alive visitors (one GET each, then idle), over {endpoints.IdleHosts.Count} tunnels and {(n + 199) / 200} source addresses:"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  opened {ok:N0} of {n:N0} in {opened.TotalSeconds:0.0} s, measured {measured.TotalSeconds:0.0} s after the first (server idle timeout 60 s){Failures(failures)}"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  server connections: {serverBefore.Server!.Connections} before (control, {serverBefore.Server.Links} multiplexed links, idle pool), {serverHeld.Server!.Connections} with the visitors (expected {serverBefore.Server.Connections} + {perVisitor} x {ok} = {serverBefore.Server.Connections + (perVisitor * ok)}: {(perVisitor == 1 ? "the visitor's own; it is a stream on a link" : "visitor + proxy each")}, and {serverHeld.Server.IdleProxies} idle pooled), {serverAfter.Server!.Connections} after closing them"));
        output.WriteLine("                                 before       with N  after close   + malloc_trim   per connection (with N - before) / N");
        Row("server managed heap", serverBefore, serverHeld, serverAfter, serverTrimmed, s => s.Process.ManagedHeap, ok);
        Row("server GC committed", serverBefore, serverHeld, serverAfter, serverTrimmed, s => s.Process.GcCommitted, ok);
        Row("server private (RssAnon)", serverBefore, serverHeld, serverAfter, serverTrimmed, s => s.Process.Private, ok);
        Row("server working set (VmRSS)", serverBefore, serverHeld, serverAfter, serverTrimmed, s => s.Process.WorkingSet, ok);
        CountRow("server descriptors", serverBefore.Process.Descriptors, serverHeld.Process.Descriptors, serverAfter.Process.Descriptors, ok);
        Row("client managed heap", clientBefore, clientHeld, clientAfter, clientTrimmed, s => s.Process.ManagedHeap, ok);
        Row("client GC committed", clientBefore, clientHeld, clientAfter, clientTrimmed, s => s.Process.GcCommitted, ok);
        Row("client private (RssAnon)", clientBefore, clientHeld, clientAfter, clientTrimmed, s => s.Process.Private, ok);
        Row("client working set (VmRSS)", clientBefore, clientHeld, clientAfter, clientTrimmed, s => s.Process.WorkingSet, ok);
        CountRow("client descriptors", clientBefore.Process.Descriptors, clientHeld.Process.Descriptors, clientAfter.Process.Descriptors, ok);
        var captured = clientAfter.Client!.CapturedExchanges - clientBefore.Client!.CapturedExchanges;
        if (captured > 0)
        {
            var kept = clientAfter.Process.ManagedHeap - clientBefore.Process.ManagedHeap;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  (the client's capture keeps {captured:N0} more exchanges, one per visitor: its heap after close is {kept / 1048576.0:0.0} MiB above before, {kept / (double)captured / 1024:0.00} KiB per exchange; without them an idle connection costs the client {((clientHeld.Process.ManagedHeap - clientBefore.Process.ManagedHeap) - kept) / (double)ok / 1024:0.00} KiB of managed heap)"));
        }
        output.WriteLine("  (+ malloc_trim: after close, once each child gave its C heap's free memory back with glibc malloc_trim(0): what remains above 'before' is still in use)");
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  threads: server {serverBefore.Process.Threads} -> {serverHeld.Process.Threads} -> {serverAfter.Process.Threads}, client {clientBefore.Process.Threads} -> {clientHeld.Process.Threads} -> {clientAfter.Process.Threads}; client capture holds {clientHeld.Client!.CapturedExchanges:N0} exchanges, {clientHeld.Client.CapturedBodyBytes / 1024.0:N0} KiB of bodies"));
        output.WriteLine();
        return true;
    }

    private static string Failures(Outcomes failures)
    {
        var bad = failures.Snapshot().Where(f => f.Kind != "ok").ToList();
        return bad.Count == 0 ? "" : "; failed: " + string.Join(", ", bad.Select(f => string.Create(CultureInfo.InvariantCulture, $"{f.Kind} x{f.Count}")));
    }

    private void Row(string what, ChildStats before, ChildStats with, ChildStats after, ChildStats trimmed, Func<ChildStats, long> value, long n) =>
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  {what,-28} {value(before) / 1048576.0,8:0.0} MiB {value(with) / 1048576.0,8:0.0} MiB {value(after) / 1048576.0,8:0.0} MiB {value(trimmed) / 1048576.0,8:0.0} MiB   {(n > 0 ? (value(with) - value(before)) / (double)n / 1024 : 0),7:0.00} KiB"));

    private void CountRow(string what, long before, long with, long after, long n) =>
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  {what,-28} {before,12:N0} {with,12:N0} {after,12:N0}                   {(n > 0 ? (with - before) / (double)n : 0),7:0.00}"));

    /// <summary>
    /// Both children's stats once the server is quiet again (control and idle pooled connections only, at most 30 s;
    /// the visitors' proxy connections close when the visitors do).
    /// </summary>
    private async Task<(ChildStats? Server, ChildStats? Client)> SettledAsync()
    {
        await SoakRun.WaitQuietAsync(server);
        return (await server.StatsAsync(), await client.StatsAsync());
    }
}
