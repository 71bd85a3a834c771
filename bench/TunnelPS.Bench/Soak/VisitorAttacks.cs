using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace TunnelPS.Bench.Soak;

/// <summary>
/// Attacks by visitors, each at a bounded rate: slowloris heads (one byte every 3 s), visitors that never read a
/// 10 MiB response, floods of idle connections from one address up to and past the per-address limit, garbage
/// request heads, and requests through the tunnel whose local service answers garbage.
/// </summary>
internal sealed class VisitorAttacks(SoakContext context)
{
    public const string Slowloris = "attack: slowloris head";
    public const string NonReading = "attack: visitor never reads 10 MiB";
    public const string Flood = "attack: idle connection flood";
    public const string GarbageRequest = "attack: garbage request head";
    public const string GarbageResponse = "attack: garbage response head";

    private const long NonReadingSize = 10L << 20;

    private static readonly (string What, byte[] Bytes, int[] Expected)[] s_garbage = Variants();

    private int _floods;

    private Outcomes Outcomes => context.Outcomes;
    private SoakEndpoints Endpoints => context.Endpoints;

    public Task RunAsync(CancellationToken stop)
    {
        var workers = new List<Task>();
        for (var i = 0; i < 30; i++)
        {
            var tls = i % 3 == 2;
            workers.Add(context.RepeatAsync(Slowloris, TimeSpan.FromMilliseconds(100), t => SlowlorisAsync(tls, t), stop));
        }
        for (var i = 0; i < 3; i++)
        {
            var tls = i == 2;
            workers.Add(context.RepeatAsync(NonReading, TimeSpan.FromSeconds(1), t => NonReadingAsync(tls, t), stop));
        }
        workers.Add(context.RepeatAsync(Flood, context.Options.Quick ? TimeSpan.FromSeconds(5) : TimeSpan.FromSeconds(30), FloodAsync, stop));
        workers.Add(context.RepeatAsync(GarbageRequest, TimeSpan.FromMilliseconds(100), GarbageRequestAsync, stop));
        workers.Add(context.RepeatAsync(GarbageResponse, TimeSpan.FromMilliseconds(200), GarbageResponseAsync, stop));
        return Task.WhenAll(workers);
    }

    /// <summary>A head that starts at once and then trickles one byte every 3 s; the server must close it at its head deadline.</summary>
    private async Task SlowlorisAsync(bool tls, CancellationToken stop)
    {
        var group = Slowloris + (tls ? ", https" : ", http");
        using var limit = Loopback.Deadline(stop, TimeSpan.FromSeconds(60));
        var started = Stopwatch.GetTimestamp();
        var wire = await Loopback.VisitAsync(Endpoints, context.NextSource(SoakContext.VisitorAttackBlock), Endpoints.AppHost, tls, limit.Token);
        await using (wire.Stream)
        {
            await wire.Stream.WriteAsync(Encoding.ASCII.GetBytes($"GET /small HTTP/1.1\r\nHost: {Endpoints.AppHost}\r\nX-Slow: "), limit.Token);
            var closed = WaitClosedAsync(wire, limit.Token);
            try
            {
                while (!closed.IsCompleted)
                {
                    await Task.WhenAny(closed, Task.Delay(TimeSpan.FromSeconds(3), limit.Token));
                    if (!closed.IsCompleted)
                    {
                        await wire.Stream.WriteAsync("a"u8.ToArray(), limit.Token);
                    }
                }
            }
            catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
            {
                // The write met the closed connection.
            }
            var (bytes, error) = await closed;
            var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
            if (error is OperationCanceledException && !stop.IsCancellationRequested)
            {
                Outcomes.Add(group, "UNEXPECTED: still open after 60 s");
            }
            else if (!stop.IsCancellationRequested)
            {
                Outcomes.Add(group, bytes > 0 ? "UNEXPECTED: got a response" : "expected: closed by the server");
                Outcomes.Sample(group, seconds);
            }
        }
    }

    /// <summary>Reads until the connection ends; returns the bytes read and what ended it (null: a clean end).</summary>
    private static async Task<(long Bytes, Exception? Error)> WaitClosedAsync(HttpWire wire, CancellationToken token)
    {
        var buffer = new byte[4096];
        long total = 0;
        try
        {
            int n;
            while ((n = await wire.ReadAsync(buffer, token)) > 0)
            {
                total += n;
            }
            return (total, null);
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            return (total, ex);
        }
    }

    /// <summary>Asks for 10 MiB with a 4 KiB receive buffer and reads nothing for 50 s; then reads what is left.</summary>
    private async Task NonReadingAsync(bool tls, CancellationToken stop)
    {
        var group = NonReading + (tls ? ", https" : ", http");
        using var limit = Loopback.Deadline(stop, TimeSpan.FromSeconds(90));
        var wire = await Loopback.VisitAsync(Endpoints, context.NextSource(SoakContext.VisitorAttackBlock), Endpoints.AppHost, tls, limit.Token, receiveBuffer: 4096);
        await using (wire.Stream)
        {
            await wire.Stream.WriteAsync(Loopback.Get(Endpoints.AppHost, string.Create(CultureInfo.InvariantCulture, $"/download/{NonReadingSize}")), limit.Token);
            await Task.Delay(TimeSpan.FromSeconds(50), stop);
            using var drain = Loopback.Deadline(stop, TimeSpan.FromSeconds(20));
            var (bytes, error) = await WaitClosedAsync(wire, drain.Token);
            if (stop.IsCancellationRequested)
            {
                return;
            }
            Outcomes.Add(group, error is OperationCanceledException ? "UNEXPECTED: still sending after 70 s"
                : bytes >= NonReadingSize ? "UNEXPECTED: not cut, the whole response arrived"
                : "expected: cut by the server");
        }
    }

    /// <summary>
    /// From one fresh address: as many idle connections as the per-address limit allows plus 20, to the HTTP and the TLS
    /// port in turn; counts those the server kept and those it closed at once, then how long it keeps the kept ones.
    /// </summary>
    private async Task FloodAsync(CancellationToken stop)
    {
        var tls = Interlocked.Increment(ref _floods) % 2 == 0;
        var group = Flood + (tls ? ", TLS port" : ", HTTP port");
        var source = context.NextSource(SoakContext.FloodBlock);
        var limit = context.Options.MaxConnectionsPerIP;
        var sockets = new List<Socket>();
        var window = context.BeginFlood(tls ? "a TLS-port flood" : "an HTTP-port flood");
        try
        {
            using var deadline = Loopback.Deadline(stop, TimeSpan.FromSeconds(90));
            var started = Stopwatch.GetTimestamp();
            for (var i = 0; i < limit + 20; i++)
            {
                sockets.Add(await Loopback.ConnectAsync(source, tls ? Endpoints.TlsPort : Endpoints.HttpPort, deadline.Token));
                if (i % 50 == 49)
                {
                    // Bounded rate: about 1000 connections a second at most.
                    await Task.Delay(50, deadline.Token);
                }
            }
            await Task.Delay(TimeSpan.FromSeconds(1), deadline.Token);
            // A refused connection was closed at once (after a 503 on the HTTP port): it reads as readable.
            var kept = sockets.Where(s => !s.Poll(0, SelectMode.SelectRead)).ToList();
            var refused = sockets.Count - kept.Count;
            Outcomes.Add(group, kept.Count == limit ? "expected: kept exactly the per-address limit" : string.Create(CultureInfo.InvariantCulture, $"UNEXPECTED: kept {kept.Count}, the limit is {limit}"));
            Outcomes.Add(group, "connections refused beyond the limit", refused);
            var closedAt = await Task.WhenAll(kept.Select(async s =>
            {
                var buffer = new byte[1];
                try
                {
                    await s.ReceiveAsync(buffer, SocketFlags.None, deadline.Token);
                }
                catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
                {
                    if (ex is OperationCanceledException)
                    {
                        return double.NaN;
                    }
                }
                return Stopwatch.GetElapsedTime(started).TotalSeconds;
            }));
            if (stop.IsCancellationRequested)
            {
                return;
            }
            var open = closedAt.Count(double.IsNaN);
            Outcomes.Add(group, open == 0 ? "expected: the server closed every kept one" : string.Create(CultureInfo.InvariantCulture, $"UNEXPECTED: {open} still open after 90 s"));
            if (closedAt.Any(t => !double.IsNaN(t)))
            {
                Outcomes.Sample(group, closedAt.Where(t => !double.IsNaN(t)).Max());
            }
        }
        finally
        {
            foreach (var socket in sockets)
            {
                socket.Dispose();
            }
            context.EndFlood(window);
        }
    }

    private async Task GarbageRequestAsync(CancellationToken stop)
    {
        var (what, bytes, expected) = s_garbage[Random.Shared.Next(s_garbage.Length)];
        var tls = Random.Shared.Next(5) == 0;
        using var deadline = Loopback.Deadline(stop, TimeSpan.FromSeconds(30));
        var wire = await Loopback.VisitAsync(Endpoints, context.NextSource(SoakContext.VisitorAttackBlock), Endpoints.AppHost, tls, deadline.Token);
        await using (wire.Stream)
        {
            try
            {
                await wire.Stream.WriteAsync(bytes, deadline.Token);
            }
            catch (Exception ex) when (ex is IOException or SocketException)
            {
                // The server may close before the whole oversized head is written; its answer is still readable.
            }
            var head = await wire.ReadHeadAsync(deadline.Token);
            var status = head?.Status ?? 0;
            Outcomes.Add(GarbageRequest, (expected.Contains(status) ? "expected: " : "UNEXPECTED: ")
                + what + " -> " + (status == 0 ? "closed without an answer" : status.ToString(CultureInfo.InvariantCulture)));
        }
    }

    private static (string, byte[], int[])[] Variants()
    {
        static byte[] Ascii(string text) => Encoding.ASCII.GetBytes(text);
        var noise = new byte[200];
        new Random(7).NextBytes(noise);
        noise[0] = (byte)'G';
        return
        [
            ("binary noise", noise, [400]),
            ("Content-Length not a number", Ascii("GET /small HTTP/1.1\r\nHost: soak-app.localhost\r\nContent-Length: abc\r\n\r\n"), [400]),
            ("header line without a colon", Ascii("GET /small HTTP/1.1\r\nHost soak-app.localhost\r\n\r\n"), [400]),
            ("70 KiB of header fields", Ascii("GET /small HTTP/1.1\r\nHost: soak-app.localhost\r\n" + string.Concat(Enumerable.Repeat("X-Big: " + new string('b', 1000) + "\r\n", 70)) + "\r\n"), [431, 400]),
            ("HTTP/9.9", Ascii("GET /small HTTP/9.9\r\nHost: soak-app.localhost\r\n\r\n"), [505, 400]),
            ("Content-Length and chunked", Ascii("POST /upload HTTP/1.1\r\nHost: soak-app.localhost\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), [400]),
            ("no Host", Ascii("GET /small HTTP/1.1\r\nUser-Agent: x\r\n\r\n"), [400]),
            ("unknown host", Ascii("GET /small HTTP/1.1\r\nHost: nobody-here.localhost\r\n\r\n"), [404]),
            ("broken chunk size", Ascii("POST /upload HTTP/1.1\r\nHost: soak-app.localhost\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"), [400]),
            ("ftp:// absolute target", Ascii("GET ftp://soak-app.localhost/x HTTP/1.1\r\nHost: soak-app.localhost\r\n\r\n"), [400]),
        ];
    }

    private async Task GarbageResponseAsync(CancellationToken stop)
    {
        using var deadline = Loopback.Deadline(stop, TimeSpan.FromSeconds(30));
        var started = Stopwatch.GetTimestamp();
        var wire = await Loopback.VisitAsync(Endpoints, context.NextSource(SoakContext.VisitorAttackBlock), Endpoints.GarbageHost, tls: false, deadline.Token);
        await using (wire.Stream)
        {
            await wire.Stream.WriteAsync(Loopback.Get(Endpoints.GarbageHost, "/anything"), deadline.Token);
            var head = await wire.ReadHeadAsync(deadline.Token);
            if (head?.Status == 502)
            {
                Outcomes.Add(GarbageResponse, "expected: 502");
                return;
            }
            var what = head is null ? "closed without an answer" : TrafficMix.StatusError(head, await wire.ReadSmallBodyAsync(head, deadline.Token))["error: ".Length..];
            Outcomes.Add(GarbageResponse, string.Create(CultureInfo.InvariantCulture,
                $"UNEXPECTED: {what} after {Stopwatch.GetElapsedTime(started).TotalSeconds:0} s, overlapping: {context.Overlapping(started)}"));
        }
    }
}
