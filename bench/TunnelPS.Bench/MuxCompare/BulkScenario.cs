namespace TunnelPS.Bench.MuxCompare;

/// <summary>
/// One stream carrying a large download: the acceptor writes the bytes (the direction of a visitor's download), the
/// opener reads them with a 64 KiB buffer. MB/s (10^6 bytes) and the process's CPU seconds per GiB.
/// </summary>
internal static class BulkScenario
{
    public static async Task RunAsync(IMuxVariant variant, long bytes, MuxCompareReport? report, CancellationToken cancellationToken)
    {
        var buffer = new byte[64 * 1024];
        ProcessCost.Settle();
        var before = ProcessCost.Now();
        await using (var stream = await variant.OpenAsync(AcceptorService.Source(bytes), cancellationToken))
        {
            long received = 0;
            while (received < bytes)
            {
                var n = await stream.ReadAsync(buffer, cancellationToken);
                if (n == 0)
                {
                    throw new IOException($"The stream ended after {received} of {bytes} bytes.");
                }
                received += n;
            }
        }
        var (cpu, _, elapsed) = ProcessCost.Now().Since(before);
        report?.Add(MuxMeasure.BulkRate, variant, bytes / elapsed.TotalSeconds / 1e6);
        report?.Add(MuxMeasure.BulkCpu, variant, cpu.TotalSeconds / (bytes / (double)(1L << 30)));
    }
}
