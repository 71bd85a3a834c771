using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text.Json;
using TunnelPS.Engine.Diagnostics;

namespace TunnelPS.Bench.Soak;

/// <summary>
/// The child's side of the parent-child protocol. The child writes one "READY {json}" line when it serves, then answers
/// each line on standard input: "STATS" (or "STATS RESET", which also restarts the peaks) with one JSON line of
/// <see cref="ChildStats"/>, "FDS" with the open descriptors' link targets grouped, "TRIM" gives the C heap's free
/// memory back to the system (glibc malloc_trim), "EXIT" (or end of input) ends it.
/// Nothing else is written to standard output; diagnostics go to standard error (a log file of the parent's).
/// </summary>
internal sealed class ChildHost : IDisposable
{
    private static readonly JsonSerializerOptions s_json = new() { WriteIndented = false };

    private readonly string _role;
    private readonly IReadOnlyDictionary<string, Func<int>> _gauges;
    private readonly ConcurrentDictionary<string, int> _gaugePeaks = new(StringComparer.Ordinal);
    private readonly MeterListener _meters = new();
    private readonly ConcurrentDictionary<string, long> _counters = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _logs = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private int _peakDescriptors;
    private long _peakWorkingSet;
    private Task _sampler = Task.CompletedTask;

    /// <param name="role">"server" or "client".</param>
    /// <param name="gauges">Figures sampled every 100 ms for their peaks (the server's connections, handshakes...).</param>
    public ChildHost(string role, IReadOnlyDictionary<string, Func<int>>? gauges = null)
    {
        _role = role;
        _gauges = gauges ?? new Dictionary<string, Func<int>>();
        ProcessFigures.WatchExceptions();
        _meters.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == TunnelMetrics.MeterName)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _meters.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            var key = instrument.Name;
            foreach (var tag in tags)
            {
                key += " " + tag.Key + "=" + tag.Value;
            }
            _counters.AddOrUpdate(key, value, (_, old) => old + value);
        });
        _meters.Start();
    }

    public IReadOnlyDictionary<string, long> Counters => _counters;
    public IReadOnlyDictionary<string, long> Logs => _logs;

    /// <summary>A logger factory for the engine: entries at Warning and above are counted by level and written to stderr.</summary>
    public CallbackLoggerFactory LoggerFactory() => new(
        (level, category, message, exception) =>
        {
            var name = level switch { 3 => "warning", 4 => "error", _ => "critical" };
            _logs.AddOrUpdate(name, 1, (_, n) => n + 1);
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{DateTime.UtcNow:HH:mm:ss.fff} {name} {category}: {message}{(exception is null ? "" : " " + exception)}"));
        },
        level => level >= 3);

    /// <summary>Announces the child and serves the parent's requests until "EXIT" or end of input.</summary>
    public async Task RunAsync(object ready, Func<ServerFigures?> server, Func<ClientFigures?> client)
    {
        _sampler = SampleAsync(_stop.Token);
        Console.Out.WriteLine("READY " + JsonSerializer.Serialize(ready, ready.GetType(), s_json));
        Console.Out.Flush();
        while (await Console.In.ReadLineAsync().ConfigureAwait(false) is { } line && line != "EXIT")
        {
            string answer;
            if (line == "FDS")
            {
                answer = JsonSerializer.Serialize(ProcessFigures.DescriptorTargets(), s_json);
            }
            else if (line == "TRIM")
            {
                answer = JsonSerializer.Serialize(new { Trimmed = ProcessFigures.TrimNativeHeap() }, s_json);
            }
            else if (line.StartsWith("STATS", StringComparison.Ordinal))
            {
                var stats = new ChildStats
                {
                    Role = _role,
                    Process = ProcessFigures.Collect(),
                    PeakDescriptors = Volatile.Read(ref _peakDescriptors),
                    PeakWorkingSet = Interlocked.Read(ref _peakWorkingSet),
                    Peaks = _gaugePeaks.ToDictionary(StringComparer.Ordinal),
                    Server = server(),
                    Client = client(),
                };
                if (line == "STATS RESET")
                {
                    _gaugePeaks.Clear();
                    Volatile.Write(ref _peakDescriptors, 0);
                    Interlocked.Exchange(ref _peakWorkingSet, 0);
                }
                answer = JsonSerializer.Serialize(stats, s_json);
            }
            else
            {
                answer = "{}";
            }
            Console.Out.WriteLine(answer);
            Console.Out.Flush();
        }
    }

    private async Task SampleAsync(CancellationToken token)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        var tick = 0;
        try
        {
            while (await timer.WaitForNextTickAsync(token).ConfigureAwait(false))
            {
                foreach (var (name, gauge) in _gauges)
                {
                    var value = gauge();
                    _gaugePeaks.AddOrUpdate(name, value, (_, peak) => Math.Max(peak, value));
                }
                if (++tick % 10 == 0)
                {
                    Raise(ref _peakDescriptors, ProcessFigures.DescriptorCount());
                    using var self = System.Diagnostics.Process.GetCurrentProcess();
                    var workingSet = self.WorkingSet64;
                    long seen;
                    while (workingSet > (seen = Interlocked.Read(ref _peakWorkingSet)) && Interlocked.CompareExchange(ref _peakWorkingSet, workingSet, seen) != seen)
                    {
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static void Raise(ref int peak, int value)
    {
        int seen;
        while (value > (seen = Volatile.Read(ref peak)) && Interlocked.CompareExchange(ref peak, value, seen) != seen)
        {
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        try
        {
            _sampler.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }
        _meters.Dispose();
        _stop.Dispose();
    }
}
