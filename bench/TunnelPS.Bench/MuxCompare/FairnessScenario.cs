using System.Diagnostics;

namespace TunnelPS.Bench.MuxCompare;

/// <summary>
/// A stalled visitor beside busy ones: 8 streams download (the acceptor writes without end, the opener reads) for a fixed
/// time, once alone and once beside a ninth stream whose opener never reads (its window, or on raw TLS its socket
/// buffers, fill and its writer waits). Their combined MB/s both ways and the ratio: near 1 when the stall stays on its
/// own stream. The two are measured in turn, alone first on even rounds and beside the stalled stream first on odd ones.
/// </summary>
internal static class FairnessScenario
{
    public const int Streams = 8;

    public static async Task RunAsync(IMuxVariant variant, AcceptorService service, TimeSpan duration, int round, MuxCompareReport? report, CancellationToken cancellationToken)
    {
        var alone = double.NaN;
        if (round % 2 == 0)
        {
            alone = await DownloadAsync(variant, duration, cancellationToken);
            await DrainAsync(variant, service);
        }
        double beside;
        await using (var stalled = await variant.OpenAsync(AcceptorService.Source(-1), cancellationToken))
        {
            await WaitUntilStalledAsync(service);
            beside = await DownloadAsync(variant, duration, cancellationToken);
        }
        if (round % 2 == 1)
        {
            await DrainAsync(variant, service);
            alone = await DownloadAsync(variant, duration, cancellationToken);
        }
        report?.Add(MuxMeasure.FairAlone, variant, alone);
        report?.Add(MuxMeasure.FairStalled, variant, beside);
        report?.Add(MuxMeasure.FairRatio, variant, beside / alone);
    }

    private static async Task DrainAsync(IMuxVariant variant, AcceptorService service)
    {
        if (!await service.DrainAsync())
        {
            throw new TimeoutException($"{variant.Name}: {service.Active} streams still served 10 s after the opener closed them.");
        }
    }

    /// <summary>Waits until the stalled stream's writer stops: nothing more written for 200 ms (at most 5 s).</summary>
    private static async Task WaitUntilStalledAsync(AcceptorService service)
    {
        var deadline = Stopwatch.GetTimestamp() + 5 * Stopwatch.Frequency;
        var last = -1L;
        while (Stopwatch.GetTimestamp() < deadline)
        {
            var now = service.Sourced;
            if (now == last && now > 0)
            {
                return;
            }
            last = now;
            await Task.Delay(200);
        }
    }

    private static async Task<double> DownloadAsync(IMuxVariant variant, TimeSpan duration, CancellationToken cancellationToken)
    {
        var streams = new Stream[Streams];
        for (var i = 0; i < Streams; i++)
        {
            streams[i] = await variant.OpenAsync(AcceptorService.Source(-1), cancellationToken);
        }
        long total = 0;
        var started = Stopwatch.GetTimestamp();
        var stopAt = started + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        await Task.WhenAll(streams.Select(stream => Task.Run(async () =>
        {
            var buffer = new byte[64 * 1024];
            long mine = 0;
            while (Stopwatch.GetTimestamp() < stopAt)
            {
                var n = await stream.ReadAsync(buffer, cancellationToken);
                if (n == 0)
                {
                    throw new IOException("A download stream ended early.");
                }
                mine += n;
            }
            Interlocked.Add(ref total, mine);
        }, cancellationToken)));
        var elapsed = Stopwatch.GetElapsedTime(started);
        foreach (var stream in streams)
        {
            await stream.DisposeAsync();
        }
        return total / elapsed.TotalSeconds / 1e6;
    }
}
