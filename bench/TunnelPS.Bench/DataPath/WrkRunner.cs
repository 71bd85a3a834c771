using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace TunnelPS.Bench.DataPath;

/// <summary>One keep-alive load run: requests, seconds, requests per second, latency percentiles and errors.</summary>
internal sealed record LoadResult(long Requests, double Seconds, double RequestsPerSecond, double P50Ms, double P99Ms, long Errors, string Generator)
{
    public bool Clean => Errors == 0 && Requests > 0;
}

/// <summary>
/// Runs wrk (-t2 -c32 --latency, with the Host header: wrk does not resolve *.localhost and its TLS SNI is the URL's
/// host) and reads requests, req/s, p50, p99, socket errors and non-2xx/3xx responses from its report.
/// </summary>
internal static partial class WrkRunner
{
    public const int Threads = 2;
    public const int Connections = 32;

    public static string? Find() => ToolLocator.Find("wrk");

    public static async Task<LoadResult> RunAsync(string wrk, string url, string host, TimeSpan duration)
    {
        var start = new ProcessStartInfo(wrk) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[]
        {
            "-t" + Threads.ToString(CultureInfo.InvariantCulture), "-c" + Connections.ToString(CultureInfo.InvariantCulture),
            "-d" + ((int)duration.TotalSeconds).ToString(CultureInfo.InvariantCulture) + "s", "--latency", "-H", "Host: " + host, url,
        })
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start) ?? throw new InvalidOperationException("wrk did not start.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        var text = await output;
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"wrk exited with code {process.ExitCode}: {await error}{text}");
        }
        return Parse(text);
    }

    internal static LoadResult Parse(string text)
    {
        var requests = RequestsLine().Match(text);
        var rate = RateLine().Match(text);
        if (!requests.Success || !rate.Success)
        {
            throw new FormatException("wrk's output has no request count or rate:\n" + text);
        }
        long errors = 0;
        var socketErrors = SocketErrorsLine().Match(text);
        if (socketErrors.Success)
        {
            for (var i = 1; i <= 4; i++)
            {
                errors += long.Parse(socketErrors.Groups[i].Value, CultureInfo.InvariantCulture);
            }
        }
        var non2xx = Non2xxLine().Match(text);
        if (non2xx.Success)
        {
            errors += long.Parse(non2xx.Groups[1].Value, CultureInfo.InvariantCulture);
        }
        return new LoadResult(
            long.Parse(requests.Groups[1].Value, CultureInfo.InvariantCulture),
            ToMs(requests.Groups[2].Value, requests.Groups[3].Value) / 1000,
            double.Parse(rate.Groups[1].Value, CultureInfo.InvariantCulture),
            Percentile(text, "50"),
            Percentile(text, "99"),
            errors,
            "wrk");
    }

    private static double Percentile(string text, string percent)
    {
        var match = Regex.Match(text, @"^\s+" + percent + @"%\s+([\d.]+)(us|ms|s|m)\s*$", RegexOptions.Multiline);
        return match.Success ? ToMs(match.Groups[1].Value, match.Groups[2].Value) : double.NaN;
    }

    private static double ToMs(string value, string unit)
    {
        var number = double.Parse(value, CultureInfo.InvariantCulture);
        return unit switch
        {
            "us" => number / 1000,
            "ms" => number,
            "s" => number * 1000,
            "m" => number * 60_000,
            _ => throw new FormatException("Unknown wrk unit " + unit),
        };
    }

    [GeneratedRegex(@"(\d+) requests in ([\d.]+)(us|ms|s|m),")]
    private static partial Regex RequestsLine();

    [GeneratedRegex(@"Requests/sec:\s+([\d.]+)")]
    private static partial Regex RateLine();

    [GeneratedRegex(@"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")]
    private static partial Regex SocketErrorsLine();

    [GeneratedRegex(@"Non-2xx or 3xx responses: (\d+)")]
    private static partial Regex Non2xxLine();
}
