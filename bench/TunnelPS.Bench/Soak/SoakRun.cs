using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;

namespace TunnelPS.Bench.Soak;

/// <summary>
/// The bounded soak: a server child and a client child (each measured on its own), the parent's local services, a
/// warm-up with the full mix, the idle-connection memory measurement, then traffic, churn and attacks for the soak's
/// duration with both children sampled at intervals, a drain, and the report. Returns 1 when a check failed.
/// </summary>
internal sealed class SoakRun : IAsyncDisposable
{
    private const int VisitorsPerIdleTunnel = 400;

    private readonly SoakOptions _options;
    private readonly string _folder;
    private readonly TextWriter _output;
    private readonly AppService _app = new();
    private readonly GarbageService _garbage = new();
    private readonly List<IDisposable> _children = [];
    private ChildProcessHandle _server = null!;
    private ChildProcessHandle _client = null!;
    private SoakContext _context = null!;
    private int _expectedTunnels;
    private long _soakStarted = Stopwatch.GetTimestamp();

    private SoakRun(SoakOptions options, string folder, TextWriter output)
    {
        _options = options;
        _folder = folder;
        _output = output;
    }

    public static async Task<int> RunAsync(SoakOptions options)
    {
        var folder = Path.Combine(ResultsRoot(), "soak-" + DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
        Directory.CreateDirectory(folder);
        await using var report = new StreamWriter(Path.Combine(folder, "report.txt")) { AutoFlush = true };
        using var output = new TeeWriter(Console.Out, report);
        await using var run = new SoakRun(options, folder, output);
        try
        {
            return await run.RunCoreAsync();
        }
        catch (Exception ex)
        {
            output.WriteLine("The soak could not run: " + ex);
            return 1;
        }
    }

    /// <summary>bench/results of the repository (ignored by git), found from the program's folder; the temp folder otherwise.</summary>
    private static string ResultsRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "TunnelPS.sln")))
            {
                return Path.Combine(dir.FullName, "bench", "results");
            }
        }
        return Path.Combine(Path.GetTempPath(), "tunnelps-bench-results");
    }

    private async Task<int> RunCoreAsync()
    {
        var report = new SoakReport(_output);
        await StartChildrenAsync();
        var o = _options;
        _output.WriteLine();
        _output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"TunnelPS soak ({(o.Quick ? "quick" : "full")}): server child pid {_server.Id}, client child pid {_client.Id}, {Environment.ProcessorCount} cores, .NET {Environment.Version}; results in {_folder}"));
        _output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  server: default limits and deadlines, -MaxConnectionsPerIP {o.MaxConnectionsPerIP}, -MaxConnections {_server.Ready.GetProperty("MaxConnections").GetInt32():N0} (from the descriptor limit), tenants alpha and beta from a token file; client child: tenant alpha, {_expectedTunnels} tunnels, capture on"));
        _output.WriteLine();

        using var stopAll = new CancellationTokenSource();
        _output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Warm-up: the full mix for {o.WarmUp.TotalSeconds:0} s, then a drain."));
        await LoadAsync(o.WarmUp, null, stopAll.Token);
        var warm = _context.Outcomes.Snapshot();
        _output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  warm-up: {warm.Where(x => x.Kind == "ok").Sum(x => x.Count):N0} requests ok, {warm.Where(x => x.Kind.StartsWith("error", StringComparison.Ordinal)).Sum(x => x.Count):N0} errors, {warm.Where(x => x.Kind.StartsWith("UNEXPECTED", StringComparison.Ordinal)).Sum(x => x.Count):N0} unexpected attack outcomes (not counted in the soak's figures)"));
        _context.Outcomes.Clear();
        await DrainAsync(report);

        _output.WriteLine();
        var idle = new IdleConnections(_context, _server, _client, _output);
        await idle.MeasureAsync(tls: false, stopAll.Token);
        if (o.IdleHttps)
        {
            await idle.MeasureAsync(tls: true, stopAll.Token);
        }
        if (o.IdleOnly)
        {
            return 0;
        }

        // The soak proper. The start is measured quiet, after the capture ring was refilled with small exchanges
        // (as it is again before the end), so the two are comparable.
        await SettleCaptureAsync();
        var start = await SampleAsync(TimeSpan.Zero, "start", resetPeaks: true);
        start = start is null ? null : await WithTrimmedAsync(start);
        if (start is null)
        {
            return ChildDied(report);
        }
        _output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Soak: traffic, churn and attacks for {o.Duration.TotalMinutes:0.#} min, both children sampled every {o.SampleInterval.TotalSeconds:0} s:"));
        _output.WriteLine(SoakReport.Progress(start, null));
        var startTargets = (await _server.DescriptorTargetsAsync(), await _client.DescriptorTargetsAsync());
        var underLoad = new List<SoakSample>();
        var loaded = await LoadAsync(o.Duration, underLoad, stopAll.Token, start);
        if (!loaded)
        {
            return ChildDied(report);
        }
        var drain = await DrainAsync(report);
        await SettleCaptureAsync();
        var end = await SampleAsync(Stopwatch.GetElapsedTime(_soakStarted), "end", resetPeaks: false);
        end = end is null ? null : await WithTrimmedAsync(end);
        if (end is null)
        {
            return ChildDied(report);
        }
        _output.WriteLine(SoakReport.Progress(end, null));
        var endTargets = (await _server.DescriptorTargetsAsync(), await _client.DescriptorTargetsAsync());

        _output.WriteLine();
        _output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Soak results: {o.Duration.TotalMinutes:0.#} min under load, then {drain.TotalSeconds:0} s of drain (until the server held what it held at the start; reserved names wait out the 60 s reconnect grace)."));
        report.Table(start, underLoad, end);
        report.DescriptorChanges("server", startTargets.Item1, endTargets.Item1);
        report.DescriptorChanges("client", startTargets.Item2, endTargets.Item2);
        _output.WriteLine();
        _output.WriteLine("Requests served and errors by kind (every worker's own count; rates over the load time):");
        report.Outcomes(_context.Outcomes, o.Duration);
        _output.WriteLine();
        _output.WriteLine("The server's and client's own counters (meter TunnelPS, since the children started, warm-up and idle measurement included):");
        report.Counters(end.Server, end.Client);

        var unexpected = _context.Outcomes.Snapshot().Where(x => x.Kind.StartsWith("UNEXPECTED", StringComparison.Ordinal)).ToList();
        foreach (var (group, kind, count) in unexpected)
        {
            report.Fail(string.Create(CultureInfo.InvariantCulture, $"{group}: {kind} x{count}"));
        }
        if (_server.HasExited || _client.HasExited)
        {
            report.Fail($"a child process ended: server {_server.ExitDescription}, client {_client.ExitDescription}");
        }
        var trafficErrors = _context.Outcomes.Snapshot()
            .Where(x => !x.Group.StartsWith("attack", StringComparison.Ordinal) && x.Kind.StartsWith("error", StringComparison.Ordinal))
            .Sum(x => x.Count);
        if (trafficErrors > 0)
        {
            report.Fail(string.Create(CultureInfo.InvariantCulture, $"{trafficErrors:N0} requests of legitimate traffic or churn failed (see 'error:' above)"));
        }
        _output.WriteLine();
        if (report.Failures.Count == 0)
        {
            _output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Verdict: flat. Memory, descriptors and connections of both sides came back to their start values within the tolerances; no attack had an unexpected outcome; no request of legitimate traffic failed."));
            return 0;
        }
        _output.WriteLine("Verdict: NOT FLAT or not as expected:");
        foreach (var failure in report.Failures)
        {
            _output.WriteLine("  - " + failure);
        }
        return 1;
    }

    private int ChildDied(SoakReport report)
    {
        _output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"A child process stopped answering: server {_server.ExitDescription}, client {_client.ExitDescription}; see the logs in {_folder}."));
        return 1;
    }

    private async Task StartChildrenAsync()
    {
        var alpha = Convert.ToHexString(RandomNumberGenerator.GetBytes(16)).ToLowerInvariant();
        var beta = Convert.ToHexString(RandomNumberGenerator.GetBytes(16)).ToLowerInvariant();
        var tokenFile = Path.Combine(_folder, "tokens.yml");
        await File.WriteAllTextAsync(tokenFile, $"""
            tokens:
              - token: {alpha}
                name: alpha
                subdomains: [soak-app, soak-garbage, alpha-reserved]
              - token: {beta}
                name: beta

            """);
        _server = await ChildProcessHandle.StartAsync("server", Path.Combine(_folder, "server.log"),
            [ServerRole.Flag, tokenFile, _options.MaxConnectionsPerIP.ToString(CultureInfo.InvariantCulture)], TimeSpan.FromSeconds(60));
        _children.Add(_server);
        var port = _server.Ready.GetProperty("Port").GetInt32();
        var thumbprint = _server.Ready.GetProperty("Thumbprint").GetString()!;
        var idleTunnels = (_options.IdleConnections + VisitorsPerIdleTunnel - 1) / VisitorsPerIdleTunnel;
        _client = await ChildProcessHandle.StartAsync("client", Path.Combine(_folder, "client.log"),
            [ClientRole.Flag, port.ToString(CultureInfo.InvariantCulture), thumbprint, alpha, "soak", _app.Port.ToString(CultureInfo.InvariantCulture), _garbage.Port.ToString(CultureInfo.InvariantCulture), idleTunnels.ToString(CultureInfo.InvariantCulture)],
            TimeSpan.FromSeconds(60));
        _children.Add(_client);
        _expectedTunnels = _client.Ready.GetProperty("Urls").GetArrayLength();
        _context = new SoakContext
        {
            Endpoints = new SoakEndpoints(port, _server.Ready.GetProperty("HttpPort").GetInt32(), thumbprint, "soak-app.localhost", "soak-garbage.localhost",
                [.. Enumerable.Range(0, idleTunnels).Select(i => string.Create(CultureInfo.InvariantCulture, $"soak-idle-{i}.localhost"))], _app.Port, _garbage.Port),
            Options = _options,
            AlphaToken = alpha,
            BetaToken = beta,
            ResultsFolder = _folder,
            ClientChildId = _client.Ready.GetProperty("ClientId").GetString()!,
        };
    }

    /// <summary>A client child of the churn, logged in with <paramref name="token"/>, to be killed.</summary>
    private Task<ChildProcessHandle> StartKilledClientAsync(string prefix, string token) =>
        ChildProcessHandle.StartAsync("killed client", Path.Combine(_folder, "killed-clients.log"),
            [ClientRole.Flag, _context.Endpoints.TlsPort.ToString(CultureInfo.InvariantCulture), _context.Endpoints.Thumbprint, token, prefix, _app.Port.ToString(CultureInfo.InvariantCulture), "0", "0"],
            TimeSpan.FromSeconds(30));

    /// <summary>
    /// Runs traffic, churn and attacks for <paramref name="duration"/>; with <paramref name="samples"/>, samples both
    /// children every interval (and once as the load stops). False when a child stopped answering.
    /// </summary>
    private async Task<bool> LoadAsync(TimeSpan duration, List<SoakSample>? samples, CancellationToken outer, SoakSample? previous = null)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(outer);
        var load = Task.WhenAll(
            new TrafficMix(_context).RunAsync(stop.Token),
            new Churn(_context, StartKilledClientAsync).RunAsync(stop.Token),
            new ProtocolAttacks(_context).RunAsync(stop.Token),
            new VisitorAttacks(_context).RunAsync(stop.Token));
        if (samples is not null)
        {
            _soakStarted = Stopwatch.GetTimestamp();
        }
        var began = Stopwatch.GetTimestamp();
        var alive = true;
        while (Stopwatch.GetElapsedTime(began) < duration)
        {
            var left = duration - Stopwatch.GetElapsedTime(began);
            var wait = samples is null ? left : TimeSpan.FromTicks(Math.Min(left.Ticks, _options.SampleInterval.Ticks));
            await Task.WhenAny(load, Task.Delay(wait, outer));
            if (load.IsCompleted)
            {
                break;
            }
            if (samples is not null)
            {
                var last = Stopwatch.GetElapsedTime(began) >= duration;
                var sample = await SampleAsync(Stopwatch.GetElapsedTime(_soakStarted), last ? "stop" : "load", resetPeaks: false);
                if (sample is null)
                {
                    alive = false;
                    break;
                }
                _output.WriteLine(SoakReport.Progress(sample, samples.Count > 0 ? samples[^1] : previous));
                samples.Add(sample);
            }
        }
        await stop.CancelAsync();
        try
        {
            await load.WaitAsync(TimeSpan.FromSeconds(120));
        }
        catch (TimeoutException)
        {
            _output.WriteLine("  (some load workers did not stop within 120 s)");
        }
        return alive;
    }

    /// <summary>Both children's stats now, or null when one of them does not answer.</summary>
    private async Task<SoakSample?> SampleAsync(TimeSpan at, string phase, bool resetPeaks)
    {
        var server = await _server.StatsAsync(resetPeaks);
        var client = await _client.StatsAsync(resetPeaks);
        using var self = Process.GetCurrentProcess();
        return server is null || client is null
            ? null
            : new SoakSample(at, phase, server, client, _app.OpenConnections + _garbage.OpenConnections, self.TotalProcessorTime.TotalSeconds, LoadAverage());
    }

    /// <summary>The sample with both children measured again after they gave their C heap's free memory back; null when one does not answer.</summary>
    private async Task<SoakSample?> WithTrimmedAsync(SoakSample sample)
    {
        await _server.TrimNativeHeapAsync();
        await _client.TrimNativeHeapAsync();
        var server = await _server.StatsAsync();
        var client = await _client.StatsAsync();
        return server is null || client is null ? null : sample with { Trimmed = (server, client) };
    }

    /// <summary>The machine's 1-minute load average (/proc/loadavg), or "?".</summary>
    private static string LoadAverage()
    {
        try
        {
            return File.ReadAllText("/proc/loadavg").Split(' ')[0];
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return "?";
        }
    }

    /// <summary>
    /// Waits (at most 120 s) until the server holds what it holds when quiet (one session, the client child's tunnels,
    /// its control connection and idle pool, nothing else) and the local services no connection.
    /// </summary>
    private async Task<TimeSpan> DrainAsync(SoakReport report)
    {
        var began = Stopwatch.GetTimestamp();
        ChildStats? server = null;
        while (Stopwatch.GetElapsedTime(began) < TimeSpan.FromSeconds(120))
        {
            server = await _server.StatsAsync();
            if (server is null)
            {
                break;
            }
            var s = server.Server!;
            if (s.Sessions == 1 && s.Tunnels == _expectedTunnels && s.Connections == s.Sessions + s.IdleProxies + s.Links && s.IdleProxies <= 4 && _app.OpenConnections + _garbage.OpenConnections == 0)
            {
                return Stopwatch.GetElapsedTime(began);
            }
            await Task.Delay(2000);
        }
        var what = server?.Server is { } held
            ? string.Create(CultureInfo.InvariantCulture, $"the server still held {held.Connections} connections ({held.Sessions} control, {held.Links} multiplexed links, {held.IdleProxies} idle pooled), {held.Sessions} sessions, {held.Tunnels} tunnels; the local services {_app.OpenConnections + _garbage.OpenConnections} connections")
            : "the server did not answer";
        _output.WriteLine("  drain did not finish within 120 s: " + what);
        report.Fail("drain: " + what);
        return Stopwatch.GetElapsedTime(began);
    }

    /// <summary>
    /// Refills the capture rings of the client child's busy tunnels, so that the start and the end hold the same kind
    /// of exchanges: 1,100 small keep-alive GETs through the app tunnel (ring of 1,000), then 1,100 requests through
    /// the garbage tunnel (its service cycles through its four answers, so the ring holds the same mix each time).
    /// </summary>
    private async Task SettleCaptureAsync()
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        var endpoints = _context.Endpoints;
        var wire = await Loopback.VisitAsync(endpoints, _context.NextSource(SoakContext.TrafficBlock), endpoints.AppHost, tls: false, deadline.Token);
        await using (wire.Stream)
        {
            var request = Loopback.Get(endpoints.AppHost, "/small");
            for (var i = 0; i < 1100; i++)
            {
                await wire.Stream.WriteAsync(request, deadline.Token);
                var head = await wire.ReadHeadAsync(deadline.Token) ?? throw new EndOfStreamException("closed before the response");
                await wire.SkipBodyAsync(head, isResponse: true, deadline.Token);
            }
        }
        var next = 0;
        await Task.WhenAll(Enumerable.Range(0, 4).Select(async _ =>
        {
            while (Interlocked.Increment(ref next) <= 1100)
            {
                var garbage = await Loopback.VisitAsync(endpoints, _context.NextSource(SoakContext.TrafficBlock), endpoints.GarbageHost, tls: false, deadline.Token);
                await using (garbage.Stream)
                {
                    await garbage.Stream.WriteAsync(Loopback.Get(endpoints.GarbageHost, "/settle"), deadline.Token);
                    await garbage.SkipAsync(long.MaxValue, deadline.Token);
                }
            }
        }));
        await WaitQuietAsync(_server);
    }

    /// <summary>
    /// Waits (at most 30 s) until the server is quiet, as it is whenever the soak measures: it holds nothing but
    /// control connections, multiplexed links and idle pooled proxy connections (no visitor, no handshake, no proxy connection on its way),
    /// and no pool holds more than its target of 4 (a burst leaves more, closed by the pool's recycling every 5 s).
    /// </summary>
    internal static async Task WaitQuietAsync(ChildProcessHandle server)
    {
        const int PoolSize = 4;
        var deadline = Stopwatch.GetTimestamp() + (30 * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline && await server.StatsAsync() is { Server: { } s }
            && (s.Connections != s.Sessions + s.IdleProxies + s.Links || s.IdleProxies > PoolSize * s.Sessions))
        {
            await Task.Delay(250);
        }
    }

    public async ValueTask DisposeAsync()
    {
        // The client first: a server that stops first would make the client log a lost connection.
        foreach (var child in Enumerable.Reverse(_children))
        {
            child.Dispose();
        }
        await _app.DisposeAsync();
        await _garbage.DisposeAsync();
    }
}
