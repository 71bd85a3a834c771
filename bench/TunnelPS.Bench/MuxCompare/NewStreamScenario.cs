using System.Diagnostics;

namespace TunnelPS.Bench.MuxCompare;

/// <summary>
/// The cost of a new visitor connection: open a stream, send 1 KiB, read the 1 KiB echo, close; one after the other.
/// Latency median and p99, and the process's CPU and allocation per stream.
/// </summary>
internal static class NewStreamScenario
{
    public static async Task RunAsync(IMuxVariant variant, int count, MuxCompareReport? report, CancellationToken cancellationToken)
    {
        var request = new byte[RequestResponseScenario.MessageSize];
        var response = new byte[RequestResponseScenario.MessageSize];
        var samples = new double[count];
        ProcessCost.Settle();
        var before = ProcessCost.Now();
        for (var i = 0; i < count; i++)
        {
            var started = Stopwatch.GetTimestamp();
            await using (var stream = await variant.OpenAsync(AcceptorService.Echo, cancellationToken))
            {
                await stream.WriteAsync(request, cancellationToken);
                await stream.ReadExactlyAsync(response, cancellationToken);
            }
            samples[i] = Stopwatch.GetElapsedTime(started).TotalMicroseconds;
        }
        var after = ProcessCost.Now();
        var (cpu, allocated, _) = after.Since(before);
        Array.Sort(samples);
        report?.Add(MuxMeasure.NewMedian, variant, DataPath.Stats.Median(samples));
        report?.Add(MuxMeasure.NewP99, variant, DataPath.Stats.Percentile(samples, 0.99));
        report?.Add(MuxMeasure.NewCpu, variant, cpu.TotalMicroseconds / count);
        report?.Add(MuxMeasure.NewWrites, variant, (double)after.SocketCallsSince(before).Writes / count);
        report?.Add(MuxMeasure.NewAllocation, variant, (double)allocated / count);
    }
}
