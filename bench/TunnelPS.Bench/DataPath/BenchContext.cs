namespace TunnelPS.Bench.DataPath;

/// <summary>Everything a scenario needs: the processes, the targets, the tools found, the run's mode and the report.</summary>
internal sealed class BenchContext
{
    public required bool Quick { get; init; }
    public required RoleProcess Server { get; init; }
    public required RoleProcess Client { get; init; }
    public required NginxHost? Nginx { get; init; }
    public required string? Wrk { get; init; }
    public required string? Perf { get; init; }
    public required Report Report { get; init; }

    /// <summary>The local service's port, for tunnel pairs started by a scenario of its own.</summary>
    public required int LocalPort { get; init; }

    public required BenchTarget Direct { get; init; }
    public required BenchTarget? DirectTls { get; init; }
    public required BenchTarget CaptureOn { get; init; }
    public required BenchTarget CaptureOff { get; init; }
    public required BenchTarget Https { get; init; }
    public required BenchTarget Tcp { get; init; }

    /// <summary>The small response's path: nginx's 1 KiB file, or anything for the fixed-response fallback service.</summary>
    public string SmallPath => "/1k";

    public bool IsTunnel(BenchTarget target) => !ReferenceEquals(target, Direct) && !ReferenceEquals(target, DirectTls);

    public OtherProcess NginxCounters() => Nginx?.Counters() ?? new OtherProcess(0, 0, 0, 0, 0);

    /// <summary>Runs <paramref name="body"/> and returns what each process spent meanwhile.</summary>
    public async Task<(T Result, SideCost Cost)> MeasureAsync<T>(Func<Task<T>> body)
    {
        var server = await Server.StatsAsync();
        var client = await Client.StatsAsync();
        var nginx = NginxCounters();
        var result = await body();
        var serverAfter = await Server.StatsAsync();
        var clientAfter = await Client.StatsAsync();
        var nginxAfter = NginxCounters();
        return (result, new SideCost(
            SideCost.Difference(serverAfter, server),
            SideCost.Difference(clientAfter, client),
            new OtherProcess(nginxAfter.CpuMs - nginx.CpuMs, 0, 0, nginxAfter.VoluntarySwitches - nginx.VoluntarySwitches, nginxAfter.InvoluntarySwitches - nginx.InvoluntarySwitches)));
    }

    /// <summary>A keep-alive load run: wrk when installed, else the harness's own generator (plain HTTP only).</summary>
    public Task<LoadResult> LoadAsync(BenchTarget target, TimeSpan duration) =>
        Wrk is not null
            ? WrkRunner.RunAsync(Wrk, target.Url(SmallPath), target.Host, duration)
            : OwnKeepAliveLoad.RunAsync(target, SmallPath, duration);
}
