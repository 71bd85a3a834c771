using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace TunnelPS.Bench.Soak;

/// <summary>
/// The legitimate traffic of the soak, paced so the two cores are busy but not saturated (a starved server would
/// miss its own deadlines and blur what the soak is after): keep-alive GETs, a new connection per GET, 1-10 MiB
/// downloads, 1-4 MiB chunked uploads and upgraded (WebSocket-style) echo connections, through the tunnel over HTTP
/// and HTTPS, and the same on the direct path to the service for comparison.
/// </summary>
internal sealed class TrafficMix(SoakContext context)
{
    public const string KeepAlive = "GET /small keep-alive";
    public const string NewConnection = "GET /small new connection each";
    public const string Download = "download 1-10 MiB";
    public const string Upload = "upload chunked 1-4 MiB";
    public const string WebSocket = "websocket echo";

    /// <summary>The suffix of the per-transfer rate samples of a transfer group (bytes per second of each transfer).</summary>
    public const string PerTransfer = " (per transfer)";

    private static readonly byte[] s_noise = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("0123456789abcdef", 4096)));

    private Outcomes Outcomes => context.Outcomes;
    private SoakEndpoints Endpoints => context.Endpoints;

    public Task RunAsync(CancellationToken stop) => Task.WhenAll(
        KeepAliveAsync(Path.Http, stop),
        KeepAliveAsync(Path.Http, stop),
        KeepAliveAsync(Path.Https, stop),
        KeepAliveAsync(Path.Direct, stop),
        context.RepeatAsync(NewConnection, TimeSpan.FromMilliseconds(25), t => NewConnectionAsync(Path.Http, t), stop),
        context.RepeatAsync(NewConnection, TimeSpan.FromMilliseconds(50), t => NewConnectionAsync(Path.Https, t), stop),
        context.RepeatAsync(NewConnection, TimeSpan.FromMilliseconds(50), t => NewConnectionAsync(Path.Direct, t), stop),
        TransfersAsync(Download, DownloadAsync, stop),
        TransfersAsync(Upload, UploadAsync, stop),
        context.RepeatAsync(WebSocket, TimeSpan.FromMilliseconds(200), t => WebSocketAsync(Path.Http, t), stop),
        context.RepeatAsync(WebSocket, TimeSpan.FromMilliseconds(200), t => WebSocketAsync(Path.Https, t), stop));

    /// <summary>How a request travels: through the tunnel's HTTP or HTTPS port, or straight to the service.</summary>
    internal enum Path
    {
        Http,
        Https,
        Direct,
    }

    internal static string Name(Path path) => path switch
    {
        Path.Http => "tunnel http",
        Path.Https => "tunnel https",
        _ => "direct",
    };

    private Task<HttpWire> OpenAsync(Path path, CancellationToken token) => path == Path.Direct
        ? Loopback.DirectAsync(Endpoints.AppPort, context.NextSource(SoakContext.TrafficBlock), token)
        : Loopback.VisitAsync(Endpoints, context.NextSource(SoakContext.TrafficBlock), Endpoints.AppHost, path == Path.Https, token);

    private string Group(string what, Path path) => what + ", " + Name(path);

    /// <summary>"error: status 503 (Tunnel client not connected)": the status and the error page's title.</summary>
    internal static string StatusError(HttpHead head, string body) =>
        string.Create(CultureInfo.InvariantCulture, $"error: status {head.Status} ({Churn.Title(body)})");

    /// <summary>One connection at a time doing paced GETs; it is replaced after 50-2000 requests.</summary>
    private async Task KeepAliveAsync(Path path, CancellationToken stop)
    {
        var group = Group(KeepAlive, path);
        var request = Loopback.Get(Endpoints.AppHost, "/small");
        while (!stop.IsCancellationRequested)
        {
            try
            {
                using var connect = Loopback.Deadline(stop, TimeSpan.FromSeconds(30));
                var wire = await OpenAsync(path, connect.Token);
                await using (wire.Stream)
                {
                    for (var left = Random.Shared.Next(50, 2000); left > 0 && !stop.IsCancellationRequested; left--)
                    {
                        using var deadline = Loopback.Deadline(stop, TimeSpan.FromSeconds(30));
                        var started = Stopwatch.GetTimestamp();
                        await wire.Stream.WriteAsync(request, deadline.Token);
                        var head = await wire.ReadHeadAsync(deadline.Token) ?? throw new EndOfStreamException("closed before the response");
                        var body = await wire.ReadSmallBodyAsync(head, deadline.Token);
                        if (head.Status != 200)
                        {
                            Outcomes.Add(group, StatusError(head, body) + ", overlapping: " + context.Overlapping(started));
                            break;
                        }
                        Outcomes.Add(group, "ok");
                        Outcomes.Sample(group, Stopwatch.GetElapsedTime(started).TotalMicroseconds);
                        context.NoteIfSlow(group, started);
                        await Task.Delay(2, stop);
                    }
                }
            }
            catch (Exception ex) when (!stop.IsCancellationRequested)
            {
                Outcomes.Error(group, ex);
                await Task.Delay(100, CancellationToken.None);
            }
            catch (Exception) when (stop.IsCancellationRequested)
            {
                return;
            }
        }
    }

    /// <summary>Connect, one GET (every other one with Connection: close), the whole response, close.</summary>
    private async Task NewConnectionAsync(Path path, CancellationToken stop)
    {
        var group = Group(NewConnection, path);
        using var deadline = Loopback.Deadline(stop, TimeSpan.FromSeconds(30));
        var started = Stopwatch.GetTimestamp();
        var wire = await OpenAsync(path, deadline.Token);
        await using (wire.Stream)
        {
            await wire.Stream.WriteAsync(Loopback.Get(Endpoints.AppHost, "/small", close: Random.Shared.Next(2) == 0), deadline.Token);
            var head = await wire.ReadHeadAsync(deadline.Token) ?? throw new EndOfStreamException("closed before the response");
            var body = await wire.ReadSmallBodyAsync(head, deadline.Token);
            if (head.Status != 200)
            {
                Outcomes.Add(group, StatusError(head, body) + ", overlapping: " + context.Overlapping(started));
                return;
            }
        }
        Outcomes.Add(group, "ok");
        Outcomes.Sample(group, Stopwatch.GetElapsedTime(started).TotalMicroseconds);
        context.NoteIfSlow(group, started);
    }

    /// <summary>Transfers one after another: three through the tunnel (HTTP, HTTPS in turn) for each one on the direct path.</summary>
    private async Task TransfersAsync(string what, Func<Path, CancellationToken, Task> transfer, CancellationToken stop)
    {
        for (var turn = 0; !stop.IsCancellationRequested; turn++)
        {
            var path = (turn % 4) switch { 0 or 2 => Path.Http, 1 => Path.Https, _ => Path.Direct };
            try
            {
                await transfer(path, stop);
                await Task.Delay(250, stop);
            }
            catch (Exception ex) when (!stop.IsCancellationRequested)
            {
                Outcomes.Error(Group(what, path), ex);
            }
            catch (Exception) when (stop.IsCancellationRequested)
            {
                return;
            }
        }
    }

    private async Task DownloadAsync(Path path, CancellationToken stop)
    {
        var group = Group(Download, path);
        var size = Random.Shared.NextInt64(1L << 20, 10L << 20);
        using var deadline = Loopback.Deadline(stop, TimeSpan.FromSeconds(120));
        var started = Stopwatch.GetTimestamp();
        var wire = await OpenAsync(path, deadline.Token);
        await using (wire.Stream)
        {
            await wire.Stream.WriteAsync(Loopback.Get(Endpoints.AppHost, string.Create(CultureInfo.InvariantCulture, $"/download/{size}")), deadline.Token);
            var head = await wire.ReadHeadAsync(deadline.Token) ?? throw new EndOfStreamException("closed before the response");
            var got = await wire.SkipBodyAsync(head, isResponse: true, deadline.Token);
            if (head.Status != 200 || got != size)
            {
                // An error page's body was skipped with the rest: only its status is known here.
                Outcomes.Add(group, string.Create(CultureInfo.InvariantCulture, $"error: status {head.Status}, {got} of {size} bytes"));
                return;
            }
        }
        TransferDone(group, size, started);
    }

    private async Task UploadAsync(Path path, CancellationToken stop)
    {
        var group = Group(Upload, path);
        var size = Random.Shared.Next(1 << 20, 4 << 20);
        using var deadline = Loopback.Deadline(stop, TimeSpan.FromSeconds(120));
        var started = Stopwatch.GetTimestamp();
        var wire = await OpenAsync(path, deadline.Token);
        await using (wire.Stream)
        {
            await wire.Stream.WriteAsync(Encoding.ASCII.GetBytes($"POST /upload HTTP/1.1\r\nHost: {Endpoints.AppHost}\r\nTransfer-Encoding: chunked\r\n\r\n"), deadline.Token);
            for (var sent = 0; sent < size;)
            {
                var chunk = Math.Min(size - sent, Random.Shared.Next(1, 64 * 1024));
                await wire.Stream.WriteAsync(Encoding.ASCII.GetBytes(chunk.ToString("x", CultureInfo.InvariantCulture) + "\r\n"), deadline.Token);
                await wire.Stream.WriteAsync(s_noise.AsMemory(0, chunk), deadline.Token);
                await wire.Stream.WriteAsync("\r\n"u8.ToArray(), deadline.Token);
                sent += chunk;
            }
            await wire.Stream.WriteAsync("0\r\n\r\n"u8.ToArray(), deadline.Token);
            var head = await wire.ReadHeadAsync(deadline.Token) ?? throw new EndOfStreamException("closed before the response");
            var body = await wire.ReadSmallBodyAsync(head, deadline.Token);
            if (head.Status != 200 || body != size.ToString(CultureInfo.InvariantCulture))
            {
                Outcomes.Add(group, string.Create(CultureInfo.InvariantCulture, $"error: status {head.Status}, service got '{body}' of {size} bytes"));
                return;
            }
        }
        TransferDone(group, size, started);
    }

    /// <summary>Counts a transfer that completed, with its size and rate.</summary>
    private void TransferDone(string group, long size, long started)
    {
        Outcomes.Add(group, "ok");
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        Outcomes.Sample(group, size, seconds);
        Outcomes.Sample(group + PerTransfer, size / seconds);
        context.NoteIfSlow(group, started);
    }

    /// <summary>Upgrade, then 50 messages of 1-16 KiB echoed back with short pauses, then close.</summary>
    private async Task WebSocketAsync(Path path, CancellationToken stop)
    {
        var group = Group(WebSocket, path);
        using var deadline = Loopback.Deadline(stop, TimeSpan.FromSeconds(120));
        var wire = await OpenAsync(path, deadline.Token);
        await using (wire.Stream)
        {
            await wire.Stream.WriteAsync(Encoding.ASCII.GetBytes(
                $"GET /ws HTTP/1.1\r\nHost: {Endpoints.AppHost}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"), deadline.Token);
            var head = await wire.ReadHeadAsync(deadline.Token) ?? throw new EndOfStreamException("closed before the response");
            if (head.Status != 101)
            {
                Outcomes.Add(group, StatusError(head, await wire.ReadSmallBodyAsync(head, deadline.Token)));
                return;
            }
            var echo = new byte[16 * 1024];
            for (var i = 0; i < 50; i++)
            {
                var size = Random.Shared.Next(1, echo.Length);
                await wire.Stream.WriteAsync(s_noise.AsMemory(i, size), deadline.Token);
                for (var got = 0; got < size;)
                {
                    var n = await wire.ReadAsync(echo.AsMemory(got, size - got), deadline.Token);
                    if (n == 0)
                    {
                        throw new EndOfStreamException("upgraded connection closed mid-echo");
                    }
                    got += n;
                }
                if (!echo.AsSpan(0, size).SequenceEqual(s_noise.AsSpan(i, size)))
                {
                    Outcomes.Add(group, "error: echo differs");
                    return;
                }
                Outcomes.Add(group, "messages echoed");
                await Task.Delay(50, stop);
            }
        }
        Outcomes.Add(group, "ok");
    }
}
