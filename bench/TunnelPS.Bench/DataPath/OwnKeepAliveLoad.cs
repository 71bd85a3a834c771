using System.Diagnostics;

namespace TunnelPS.Bench.DataPath;

/// <summary>
/// The harness's own keep-alive load generator, used when wrk is not installed: 32 connections, each sending the next
/// request when the last response has arrived, every latency kept for the percentiles. Plain HTTP only. It runs in
/// the harness process, so it is slower than wrk and its figures are not comparable with wrk's.
/// </summary>
internal static class OwnKeepAliveLoad
{
    public static async Task<LoadResult> RunAsync(BenchTarget target, string path, TimeSpan duration)
    {
        var request = target.Request(path);
        var stopAt = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var started = Stopwatch.GetTimestamp();
        long errors = 0;
        var perConnection = await Task.WhenAll(Enumerable.Range(0, WrkRunner.Connections).Select(async _ =>
        {
            var latencies = new List<double>(100_000);
            try
            {
                using var connection = await BenchHttpConnection.OpenAsync(target.Endpoint);
                while (Stopwatch.GetTimestamp() < stopAt)
                {
                    var t = Stopwatch.GetTimestamp();
                    await connection.GetAsync(request);
                    latencies.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
                }
            }
            catch (Exception ex) when (ex is IOException or InvalidDataException or System.Net.Sockets.SocketException)
            {
                Interlocked.Increment(ref errors);
            }
            return latencies;
        }));
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var all = perConnection.SelectMany(l => l).Order().ToArray();
        return new LoadResult(all.Length, seconds, all.Length / seconds, Stats.Percentile(all, 0.5), Stats.Percentile(all, 0.99), errors, "own");
    }
}
