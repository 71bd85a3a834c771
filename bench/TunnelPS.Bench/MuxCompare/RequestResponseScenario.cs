using System.Diagnostics;

namespace TunnelPS.Bench.MuxCompare;

/// <summary>
/// Keep-alive traffic: 32 long-lived streams, each sending 1 KiB and reading the 1 KiB echo back, back to back, for a
/// fixed time; exchanges per second, and the process's CPU and allocation per exchange.
/// </summary>
internal static class RequestResponseScenario
{
    public const int Streams = 32;
    public const int MessageSize = 1024;

    public static async Task RunAsync(IMuxVariant variant, TimeSpan duration, MuxCompareReport? report, CancellationToken cancellationToken)
    {
        var streams = new Stream[Streams];
        for (var i = 0; i < Streams; i++)
        {
            streams[i] = await variant.OpenAsync(AcceptorService.Echo, cancellationToken);
            await ExchangeAsync(streams[i], new byte[MessageSize], new byte[MessageSize], cancellationToken);
        }
        ProcessCost.Settle();
        long exchanges = 0;
        var before = ProcessCost.Now();
        var stopAt = before.Timestamp + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        await Task.WhenAll(streams.Select(stream => Task.Run(async () =>
        {
            var request = new byte[MessageSize];
            var response = new byte[MessageSize];
            long mine = 0;
            while (Stopwatch.GetTimestamp() < stopAt)
            {
                await ExchangeAsync(stream, request, response, cancellationToken);
                mine++;
            }
            Interlocked.Add(ref exchanges, mine);
        }, cancellationToken)));
        var after = ProcessCost.Now();
        var (cpu, allocated, elapsed) = after.Since(before);
        var (writes, reads) = after.SocketCallsSince(before);
        foreach (var stream in streams)
        {
            await stream.DisposeAsync();
        }
        report?.Add(MuxMeasure.ExchangeRate, variant, exchanges / elapsed.TotalSeconds);
        report?.Add(MuxMeasure.ExchangeCpu, variant, cpu.TotalMicroseconds / exchanges);
        // How much of the machine the variant got: on a shared machine a design that spreads its work over more threads
        // gets a larger share, which moves exchanges/s far more than CPU per exchange.
        report?.Add(MuxMeasure.ExchangeCores, variant, cpu / elapsed);
        report?.Add(MuxMeasure.ExchangeWrites, variant, (double)writes / exchanges);
        report?.Add(MuxMeasure.ExchangeReads, variant, (double)reads / exchanges);
        report?.Add(MuxMeasure.ExchangeAllocation, variant, (double)allocated / exchanges);
    }

    private static async ValueTask ExchangeAsync(Stream stream, byte[] request, byte[] response, CancellationToken cancellationToken)
    {
        await stream.WriteAsync(request, cancellationToken);
        await stream.ReadExactlyAsync(response, cancellationToken);
    }
}
