using System.Globalization;
using TunnelPS.Bench.DataPath;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Bench.MuxCompare;

/// <summary>
/// "--mux-compare [--quick] [--rounds N] [--only rr,new,bulk,fair] [--no-inline-completions] [--results DIR]" (or
/// "--mux-compare --summarize FILE.json ..." for several runs in one table): the engine's multiplexed link
/// (<see cref="MuxLink"/>) against Nerdbank.Streams' MultiplexingStream over the same loopback TLS connection, with one
/// TLS connection per stream as the direct baseline. Both sides of every variant run in this process. See bench/README.md.
/// </summary>
internal static class MuxCompareBench
{
    public const string Flag = "--mux-compare";

    /// <summary>The scenarios' names for --only.</summary>
    private static readonly string[] Scenarios = ["rr", "new", "bulk", "fair"];

    /// <summary>True for the comparison's flag wherever it stands (dotnet run passes its own options on).</summary>
    public static bool Handles(string[] args) => args.Contains(Flag);

    public static async Task<int> RunAsync(string[] args)
    {
        string? Option(string name)
        {
            var i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        }
        var summarizeAt = Array.IndexOf(args, "--summarize");
        if (summarizeAt >= 0)
        {
            var files = args.Skip(summarizeAt + 1).TakeWhile(a => !a.StartsWith("--", StringComparison.Ordinal)).ToArray();
            return MuxCompareSummary.Run(files, Option("--results") ?? DataPathBench.DefaultResultsFolder());
        }
        var quick = args.Contains("--quick");
        var rounds = quick ? 2 : 4;
        if (Option("--rounds") is { } text && (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out rounds) || rounds < 1))
        {
            await Console.Error.WriteLineAsync($"--rounds takes a whole number of rounds, 1 or more; '{text}' is not one.");
            return 2;
        }
        var inline = !args.Contains("--no-inline-completions") && InlineCompletions.IsWorthwhile;
        // "--only rr,new": the named scenarios alone (rr, new, bulk, fair), for iterating on one figure.
        var onlyAt = Array.IndexOf(args, "--only");
        var only = onlyAt < 0 ? null : args.Skip(onlyAt + 1).TakeWhile(a => !a.StartsWith("--", StringComparison.Ordinal))
            .SelectMany(a => a.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToArray();
        if (only?.FirstOrDefault(o => !Scenarios.Contains(o, StringComparer.OrdinalIgnoreCase)) is { } unknown)
        {
            await Console.Error.WriteLineAsync($"--only names scenarios among {string.Join(", ", Scenarios)}; '{unknown}' is not one.");
            return 2;
        }
        return await HarnessAsync(quick, rounds, inline, only, Option("--results") ?? DataPathBench.DefaultResultsFolder());
    }

    private static async Task<int> HarnessAsync(bool quick, int rounds, bool inline, string[]? only, string resultsFolder)
    {
        var started = DateTime.UtcNow;
        var exchangeWindow = TimeSpan.FromSeconds(quick ? 1 : 3);
        var newStreams = quick ? 500 : 2000;
        var bulkBytes = (quick ? 64L : 256L) << 20;
        var fairWindow = TimeSpan.FromSeconds(quick ? 1.5 : 3);
        const int Window = MuxLink.DefaultWindow;

        var report = new MuxCompareReport();
        Console.WriteLine($"TunnelPS multiplexer comparison ({(quick ? "quick" : "full")})");
        report.Fact("mode", (quick ? "quick" : "full") + string.Create(CultureInfo.InvariantCulture,
            $": {rounds} round{(rounds == 1 ? "" : "s")}; {exchangeWindow.TotalSeconds:0.#} s of exchanges, {newStreams} new streams, {bulkBytes >> 20} MiB bulk, {fairWindow.TotalSeconds:0.#} s fairness windows per variant and round"));
        report.Fact("started (UTC)", started.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture));
        report.Fact("machine", $"{Environment.ProcessorCount} cores, .NET {Environment.Version}, {(System.Runtime.GCSettings.IsServerGC ? "server" : "workstation")} GC; load average at start {DataPathBench.LoadAverage()}");
        report.Fact("commit", await DataPathBench.CommandLineAsync("git", "rev-parse", "--short", "HEAD"));
        report.Fact("transport", $"one loopback TCP connection with TLS (SslStream, TLS 1.2/1.3, an ECDSA P-256 self-signed certificate made in-process, NoDelay) per link; inline socket completions {(inline ? "on (the engine's default on this machine)" : "off")}");
        report.Fact("process", "opener (the server's side), acceptor (the client's side, which echoes or sends) and the load all run in this one process: CPU and allocation per operation are the whole process's, both sides together");
        report.Fact("MuxLink", $"the engine's link, {Window / 1024} KiB window per stream, streams opened with zero round trips (url + visitor address in the Open frame)");
        report.Fact("Nerdbank", $"Nerdbank.Streams {NerdbankVariant.PackageVersion} MultiplexingStream, protocol major version {NerdbankVariant.ProtocolMajorVersion}, DefaultChannelReceivingWindowSize and ChannelReceivingWindowSize {Window / 1024} KiB, tracing off; a stream is OfferChannelAsync (name = url + visitor address) accepted by the acceptor's ChannelOffered handler (AcceptChannel); channels used as Streams (AsStream), closed with Channel.Dispose");
        report.Fact("raw TLS", "no multiplexer: one TLS connection per stream (connect + handshake + a header naming the purpose), the direct path the ratios are taken against");
        if (only is not null)
        {
            report.Fact("scenarios", "only " + string.Join(", ", only));
        }
        report.Fact("order", "each scenario runs its rounds with the variants interleaved, forward then backward (ABC CBA ...), so a drift in machine load does not favour one");

        using var tls = new LoopbackTls(inline);
        var service = new AcceptorService();
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(30));
        var token = stop.Token;
        var variants = new List<IMuxVariant>
        {
            await MuxLinkVariant.StartAsync(tls, service, Window, token),
            await NerdbankVariant.StartAsync(tls, service, Window, token),
            RawTlsVariant.Start(tls, service),
        };
        report.Variants(variants);
        try
        {
            Console.WriteLine("Warm-up (not measured)");
            foreach (var variant in variants)
            {
                await RequestResponseScenario.RunAsync(variant, TimeSpan.FromSeconds(0.5), null, token);
                await NewStreamScenario.RunAsync(variant, 100, null, token);
                await BulkScenario.RunAsync(variant, 16L << 20, null, token);
                await DrainAsync(service, variant);
            }

            async Task ScenarioAsync(string name, string title, Func<IMuxVariant, int, Task> run)
            {
                if (only is not null && !only.Contains(name, StringComparer.OrdinalIgnoreCase))
                {
                    return;
                }
                Console.WriteLine(title);
                var loadBefore = DataPathBench.LoadAverage();
                for (var round = 0; round < rounds; round++)
                {
                    foreach (var variant in Stats.Interleaved(variants, round))
                    {
                        await run(variant, round);
                        await DrainAsync(service, variant);
                    }
                }
                report.Note($"{title}: load average {loadBefore} before, {DataPathBench.LoadAverage()} after.");
            }

            await ScenarioAsync("rr", $"1. Request/response over {RequestResponseScenario.Streams} long-lived streams",
                (v, _) => RequestResponseScenario.RunAsync(v, exchangeWindow, report, token));
            await ScenarioAsync("new", $"2. New stream, {newStreams} one after the other",
                (v, _) => NewStreamScenario.RunAsync(v, newStreams, report, token));
            await ScenarioAsync("bulk", $"3. Bulk, {bulkBytes >> 20} MiB on one stream",
                (v, _) => BulkScenario.RunAsync(v, bulkBytes, report, token));
            await ScenarioAsync("fair", $"4. Fairness: {FairnessScenario.Streams} streams downloading, alone and beside a stalled one",
                (v, round) => FairnessScenario.RunAsync(v, service, fairWindow, round, report, token));
        }
        finally
        {
            foreach (var variant in variants)
            {
                await variant.DisposeAsync();
            }
        }

        report.Fact("load average at end", DataPathBench.LoadAverage());
        report.Fact("duration", string.Create(CultureInfo.InvariantCulture, $"{(DateTime.UtcNow - started).TotalMinutes:0.0} min"));
        if (service.Failures > 0)
        {
            report.Note($"{service.Failures} streams failed on the acceptor's side in a way other than being closed by the opener.");
        }
        var markdown = report.ToMarkdown();
        Console.WriteLine();
        Console.WriteLine(markdown);
        var (md, json) = report.Write(resultsFolder, started);
        Console.WriteLine($"Written: {md}");
        Console.WriteLine($"         {json}");
        return service.Failures > 0 ? 1 : 0;
    }

    private static async Task DrainAsync(AcceptorService service, IMuxVariant variant)
    {
        if (!await service.DrainAsync())
        {
            throw new TimeoutException($"{variant.Name}: {service.Active} streams are still served 10 s after the opener closed them.");
        }
    }
}
