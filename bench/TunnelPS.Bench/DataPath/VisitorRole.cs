using System.Diagnostics;
using System.Globalization;
using System.Net;

namespace TunnelPS.Bench.DataPath;

/// <summary>
/// "--role visitor": a separate process that opens paced fresh connections, as a browser opens them. On
/// "SERIES ip:port host path count pause-ms" it runs <c>count</c> sequential requests, each a new connection (connect,
/// GET, the whole response, close) with a pause of <c>pause-ms</c> between them, and answers "SAMPLES" with each
/// request's time in milliseconds. Blocking sockets on one thread, like curl: no thread-pool hop in the figures.
/// </summary>
internal static class VisitorRole
{
    public const string Name = "visitor";

    public static async Task<int> RunAsync()
    {
        Console.WriteLine("READY");
        while (await Console.In.ReadLineAsync() is { } line && line != "EXIT")
        {
            var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (words is ["SERIES", var endpoint, var host, var path, var count, var pause])
            {
                var samples = Series(IPEndPoint.Parse(endpoint), BenchHttpConnection.Request(host, path),
                    int.Parse(count, CultureInfo.InvariantCulture), int.Parse(pause, CultureInfo.InvariantCulture));
                Console.WriteLine("SAMPLES " + string.Join(' ', samples.Select(s => s.ToString("0.0000", CultureInfo.InvariantCulture))));
            }
            else
            {
                Console.WriteLine("ERROR unknown command " + line);
            }
        }
        return 0;
    }

    private static double[] Series(IPEndPoint endpoint, byte[] request, int count, int pauseMs)
    {
        var samples = new double[count];
        for (var i = 0; i < count; i++)
        {
            if (pauseMs > 0)
            {
                Thread.Sleep(pauseMs);
            }
            var started = Stopwatch.GetTimestamp();
            using (var connection = BenchHttpConnection.OpenBlocking(endpoint))
            {
                connection.Download(request);
            }
            samples[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        }
        return samples;
    }

    /// <summary>The harness's side: asks the visitor process for one paced series.</summary>
    public static async Task<double[]> SeriesAsync(RoleProcess visitor, BenchTarget target, string path, int count, int pauseMs)
    {
        await visitor.SendLineAsync(string.Create(CultureInfo.InvariantCulture, $"SERIES {target.Endpoint} {target.Host} {path} {count} {pauseMs}"));
        var line = await visitor.ReadLineAsync(TimeSpan.FromSeconds(60 + count * (pauseMs + 50) / 1000.0));
        if (!line.StartsWith("SAMPLES ", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"The visitor process answered '{line}' to SERIES.");
        }
        return line[8..].Split(' ').Select(s => double.Parse(s, CultureInfo.InvariantCulture)).ToArray();
    }
}
