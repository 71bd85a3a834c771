using System.Diagnostics;
using System.Globalization;
using System.Net;

namespace TunnelPS.Bench.DataPath;

/// <summary>
/// The data-path benchmark: "--datapath [--quick] [--results DIR]" runs the harness; "--role server|client" runs one
/// side of the tunnel as a child process of it. Server and client run in separate processes so each side's CPU,
/// allocation, context switches and memory are its own; nginx and wrk are the harness's children too.
/// </summary>
internal static class DataPathBench
{
    public const string Flag = "--datapath";
    public const string RoleFlag = "--role";

    /// <summary>True for the harness's and the roles' flags wherever they stand (dotnet run passes its own --nologo on).</summary>
    public static bool Handles(string[] args) => args.Contains(Flag) || args.Contains(RoleFlag);

    public static async Task<int> RunAsync(string[] args)
    {
        string? Option(string name)
        {
            var i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        }
        int IntOption(string name) => int.Parse(Option(name) ?? throw new ArgumentException("Missing " + name), CultureInfo.InvariantCulture);

        if (args.Contains(RoleFlag))
        {
            return Option(RoleFlag) switch
            {
                "server" => await ServerRole.RunAsync(Option("--token")!),
                "client" => await ClientRole.RunAsync(IntOption("--server-port"), Option("--thumbprint")!, Option("--token")!, IntOption("--local-port")),
                VisitorRole.Name => await VisitorRole.RunAsync(),
                var other => throw new ArgumentException($"Unknown role '{other}'; use server, client or visitor."),
            };
        }
        // build.ps1 splits -BenchArgument at commas and spaces: every word after --only up to the next option names a step.
        var onlyAt = Array.IndexOf(args, "--only");
        var only = onlyAt < 0 ? null : args.Skip(onlyAt + 1).TakeWhile(a => !a.StartsWith("--", StringComparison.Ordinal))
            .SelectMany(a => a.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToArray();
        return await HarnessAsync(args.Contains("--quick"), Option("--results") ?? DefaultResultsFolder(), only);
    }

    private static async Task<int> HarnessAsync(bool quick, string resultsFolder, string[]? only)
    {
        // "--only keep-alive,idle-memory": the named steps alone (their names as printed when one fails), for iterating on one figure.
        bool Runs(string step) => only is null || only.Contains(step.Replace(' ', '-'), StringComparer.OrdinalIgnoreCase);
        var started = DateTime.UtcNow;
        var report = new Report();
        Console.WriteLine($"TunnelPS data-path benchmark ({(quick ? "quick" : "full")}), {Environment.ProcessorCount} cores, .NET {Environment.Version}");
        report.Fact("mode", quick ? "quick (shorter runs, fewer connections, 10 s idle instead of 90 s, 256 MiB instead of 1 GiB)" : "full");
        report.Fact("started (UTC)", started.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture));
        report.Fact("machine", $"{Environment.ProcessorCount} cores, .NET {Environment.Version}, load average at start {LoadAverage()}");
        report.Fact("commit", await CommandLineAsync("git", "rev-parse", "--short", "HEAD"));
        if (only is not null)
        {
            report.Fact("steps", "only " + string.Join(", ", only));
        }

        var wrk = WrkRunner.Find();
        var nginxPath = NginxHost.Find();
        var (perf, perfReason) = await PerfCounter.ProbeAsync();
        if (wrk is null)
        {
            Console.WriteLine("wrk is not installed: install it with 'apt-get install -y wrk' (Debian). Keep-alive figures come from the harness's own generator; https rows are skipped.");
        }
        if (nginxPath is null)
        {
            Console.WriteLine("nginx is not installed: install it with 'apt-get install -y nginx-light' (Debian). The local service is the harness's fixed 13-byte responder; download, fairness and nginx rows are skipped.");
        }
        report.Fact("load generator", wrk is null ? "own (wrk not installed)" : $"wrk -t{WrkRunner.Threads} -c{WrkRunner.Connections} ({(await CommandLineAsync(wrk, "--version")).Split('\n')[0].Trim()})");
        report.Fact("local service", nginxPath is null ? "harness's fixed-response service (nginx not installed)" : $"nginx ({(await CommandLineAsync(nginxPath, "-v")).Trim()}), worker_processes {NginxHost.Workers}, access_log off, sendfile on, keepalive_requests 1000000, 1 KiB file; large files sparse");
        report.Fact("syscall counts", perf is null ? "not available: " + perfReason : perfReason);
        report.Fact("descriptor limit", DescriptorLimit());
        report.Fact("runtime of the role processes", string.Create(CultureInfo.InvariantCulture,
            $"the bench executable's: {(System.Runtime.GCSettings.IsServerGC ? "server" : "workstation")} GC, concurrent {AppContext.TryGetSwitch("System.GC.Concurrent", out var concurrent) && concurrent}, .NET {Environment.Version} (a pwsh host's settings may differ)"));

        NginxHost? nginx = null;
        FixedResponseService? fallback = null;
        int localPort;
        if (nginxPath is not null)
        {
            nginx = await NginxHost.StartAsync(nginxPath);
            localPort = nginx.Port;
        }
        else
        {
            fallback = new FixedResponseService();
            localPort = fallback.Port;
        }
        var pair = await TunnelPair.StartAsync(localPort);
        try
        {
            report.Fact("server", $"TunnelServer on 127.0.0.1 (TLS {pair.TlsPort}, HTTP {pair.HttpPort}), defaults plus an auth token; connection limits raised (it allows {pair.MaxConnections} in total after its descriptor reserve)");
            report.Fact("client", "TunnelClient, one session: http+https capture on (defaults), http capture off, tcp; all to the local service");
            report.Fact("processes", $"harness {Environment.ProcessId}, server {pair.Server.Pid}, client {pair.Client.Pid}, nginx {nginx?.MasterPid.ToString(CultureInfo.InvariantCulture) ?? "-"}");
            var context = new BenchContext
            {
                Quick = quick,
                Server = pair.Server,
                Client = pair.Client,
                Nginx = nginx,
                Wrk = wrk,
                Perf = perf,
                Report = report,
                LocalPort = localPort,
                Direct = new BenchTarget("direct", new IPEndPoint(IPAddress.Loopback, localPort), "localhost", false),
                DirectTls = nginx is null ? null : new BenchTarget("direct https", new IPEndPoint(IPAddress.Loopback, nginx.TlsPort), "localhost", true),
                CaptureOn = pair.CaptureOn,
                CaptureOff = pair.CaptureOff,
                Https = pair.Https,
                Tcp = pair.Tcp,
            };
            var tlsPort = pair.TlsPort;
            if (wrk is not null)
            {
                report.Note($"https: wrk connects to https://127.0.0.1:{tlsPort}/ (so its SNI is 127.0.0.1, or none) and sends 'Host: {context.Https.Host}'; the server picks its one certificate without looking at SNI and routes by Host.");
            }

            await StepAsync(report, "keep-alive", Runs, () => KeepAliveScenario.RunAsync(context));
            IReadOnlyDictionary<BenchTarget, double[]>? series = null;
            await StepAsync(report, "new connection", Runs, async () => series = await NewConnectionScenario.RunAsync(context));
            if (nginx is not null)
            {
                await StepAsync(report, "bulk download", Runs, () => TransferScenario.BulkAsync(context));
                await StepAsync(report, "64 concurrent downloads", Runs, () => TransferScenario.ConcurrentAsync(context));
                await StepAsync(report, "slow reader", Runs, () => TransferScenario.SlowReaderAsync(context));
            }
            else
            {
                report.Skip("Downloads, concurrent downloads, slow-reader fairness", "nginx is not installed (apt-get install -y nginx-light): no files to download");
            }
            if (series is not null)
            {
                await StepAsync(report, "first request after idle", Runs, () => NewConnectionScenario.FirstAfterIdleAsync(context, series));
            }
            await StepAsync(report, "peak memory", Runs, () => PeakMemoryAsync(context));
            await StepAsync(report, "idle memory", Runs, () => IdleMemoryScenario.RunAsync(context));
        }
        finally
        {
            await pair.DisposeAsync();
            if (nginx is not null)
            {
                await nginx.DisposeAsync();
            }
            fallback?.Dispose();
        }

        report.Fact("load average at end", LoadAverage());
        report.Fact("duration", $"{(DateTime.UtcNow - started).TotalMinutes:0.0} min");
        Console.WriteLine();
        Console.WriteLine(report.ToText());
        var (json, markdown) = report.Write(resultsFolder, started);
        Console.WriteLine($"Written: {json}");
        Console.WriteLine($"         {markdown}");
        return 0;
    }

    /// <summary>The most resident memory each side has held so far (getrusage's maxrss), after everything above.</summary>
    private static async Task PeakMemoryAsync(BenchContext context)
    {
        var server = await context.Server.StatsAsync(collect: true);
        var client = await context.Client.StatsAsync(collect: true);
        context.Report.Note(string.Create(CultureInfo.InvariantCulture,
            $"peak resident memory over the run (getrusage maxrss): server {server.PeakResidentBytes / 1048576.0:0} MiB, client {client.PeakResidentBytes / 1048576.0:0} MiB; now, after a full collection: server {server.ResidentBytes / 1048576.0:0} MiB (heap {server.HeapBytes / 1048576.0:0}), client {client.ResidentBytes / 1048576.0:0} MiB (heap {client.HeapBytes / 1048576.0:0})."));
    }

    /// <summary>Runs one scenario; a failure is reported as a skipped row and the run goes on.</summary>
    private static async Task StepAsync(Report report, string name, Func<string, bool> runs, Func<Task> step)
    {
        if (!runs(name))
        {
            return;
        }
        try
        {
            await step();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Console.WriteLine($"  {name} failed: {ex}");
            report.Skip($"{name} (failed)", ex.GetType().Name + ": " + ex.Message);
        }
    }

    internal static string DefaultResultsFolder()
    {
        for (var folder = new DirectoryInfo(Environment.CurrentDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "TunnelPS.sln")))
            {
                return Path.Combine(folder.FullName, "bench", "results");
            }
        }
        return Path.Combine(Environment.CurrentDirectory, "bench-results");
    }

    internal static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "?";
        }
    }

    private static string DescriptorLimit()
    {
        try
        {
            var line = File.ReadLines("/proc/self/limits").FirstOrDefault(l => l.StartsWith("Max open files", StringComparison.Ordinal));
            return line is null ? "?" : string.Join(' ', line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries).Take(2)) + " (soft, hard)";
        }
        catch (IOException)
        {
            return "?";
        }
    }

    internal static async Task<string> CommandLineAsync(string file, params string[] arguments)
    {
        try
        {
            var start = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var argument in arguments)
            {
                start.ArgumentList.Add(argument);
            }
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            return (await output + await error).Trim();
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "?";
        }
    }
}
