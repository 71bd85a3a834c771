using TunnelPS.Engine.Client;
using TunnelPS.Engine.Inspection;

namespace TunnelPS.Engine.Display;

/// <summary>
/// Watches a set of public URLs for the status screen: their status changes, their capture stores' new exchanges and
/// the visitors the client answered itself, and keeps the figures the screen shows (latest requests, requests per
/// minute, duration percentiles). Bounded: the latest <see cref="RecentCapacity"/> requests, the durations of the latest
/// <see cref="DurationSamples"/>, and the start times of at most <see cref="RateSamples"/> requests of the last minute.
/// Dispose it to unsubscribe.
/// </summary>
public sealed class TunnelActivity : IDisposable
{
    /// <summary>How many requests the screen can list.</summary>
    public const int RecentCapacity = 100;

    /// <summary>How many recent durations the percentiles are taken over.</summary>
    public const int DurationSamples = 1000;

    /// <summary>At most this many start times are kept for the requests-per-minute figure.</summary>
    public const int RateSamples = 100_000;

    /// <summary>How many local failures are remembered for matching with their captured exchanges.</summary>
    public const int FailureMatchCapacity = 256;

    private static readonly TimeSpan s_rateWindow = TimeSpan.FromMinutes(1);

    // Worst first: the session shows the worst status of its URLs. Names, so that a status added to the engine later
    // (Degraded) ranks without this class knowing its value.
    private static readonly string[] s_statusRank = ["Failed", "Degraded", "Reconnecting", "Connecting", "Online", "Stopped"];

    private readonly object _gate = new();
    private readonly IReadOnlyList<TunnelEndpoint> _endpoints;
    private readonly IReadOnlyList<CaptureStore> _stores;
    private readonly Func<string?> _inspectUrl;
    private readonly TimeProvider _timeProvider;
    private readonly Queue<StatusRequest> _recent = new();
    private readonly Queue<DateTimeOffset> _rateTimes = new();
    private readonly Dictionary<(string Tunnel, long ConnectionId), StatusRequest> _failureLines = [];
    private readonly Queue<(string Tunnel, long ConnectionId)> _failureOrder = new();
    private readonly double[] _durations = new double[DurationSamples];
    private int _durationCount;
    private int _durationNext;
    private long _requestsTotal;
    private bool _isDisposed;

    /// <summary>Starts watching <paramref name="endpoints"/>.</summary>
    /// <param name="endpoints">The public URLs to show (at least one).</param>
    /// <param name="version">The version shown on the screen.</param>
    /// <param name="servers">The tunnel servers (host:port) the URLs live on.</param>
    /// <param name="inspectUrl">Reads the web inspector's URL when a snapshot is made (null: none).</param>
    /// <param name="timeProvider">The clock (the system's by default).</param>
    public TunnelActivity(IReadOnlyList<TunnelEndpoint> endpoints, string version, IReadOnlyList<string> servers, Func<string?>? inspectUrl = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentException.ThrowIfNullOrEmpty(version);
        ArgumentNullException.ThrowIfNull(servers);
        if (endpoints.Count == 0)
        {
            throw new ArgumentException("At least one tunnel endpoint is needed.", nameof(endpoints));
        }

        _endpoints = endpoints;
        Version = version;
        Servers = servers;
        _inspectUrl = inspectUrl ?? (static () => null);
        _timeProvider = timeProvider ?? TimeProvider.System;
        _stores = endpoints
            .Select(e => e.Client.CaptureFor(e.Definition))
            .OfType<CaptureStore>()
            .Distinct()
            .ToList();
        foreach (CaptureStore store in _stores)
        {
            store.ExchangeCaptured += OnExchangeCaptured;
        }

        foreach (TunnelEndpoint endpoint in _endpoints)
        {
            endpoint.StatusChanged += OnStatusChanged;
            endpoint.LocalFailed += OnLocalFailed;
        }
    }

    /// <summary>Raised (on an engine thread) after anything the screen shows changed.</summary>
    public event EventHandler? Changed;

    /// <summary>Raised (on an engine thread) once per new request line: a captured exchange or a local failure.</summary>
    public event EventHandler<StatusRequest>? RequestSeen;

    /// <summary>The version shown.</summary>
    public string Version { get; }

    /// <summary>The tunnel servers shown.</summary>
    public IReadOnlyList<string> Servers { get; }

    /// <summary>The URLs watched.</summary>
    public IReadOnlyList<TunnelEndpoint> Endpoints => _endpoints;

    /// <summary>True once every URL watched has stopped or failed.</summary>
    public bool HasEnded => _endpoints.All(e => e.Status is TunnelStatus.Stopped or TunnelStatus.Failed);

    /// <summary>The session status (the worst of the URLs'), lower case, and the error that goes with it.</summary>
    public (string Status, string? Error) SessionStatus()
    {
        TunnelEndpoint worst = _endpoints
            .OrderBy(e => Rank(e.Status.ToString()))
            .First();
        // A Degraded URL keeps its reason in LastError (Error is for a failed or reconnecting one).
        string? error = worst.Status is TunnelStatus.Online or TunnelStatus.Stopped ? null : worst.Error ?? worst.LastError;
        return (worst.Status.ToString().ToLowerInvariant(), string.IsNullOrEmpty(error) ? null : error);
    }

    /// <summary>The figures and lines the screen shows now.</summary>
    public StatusSnapshot Snapshot()
    {
        (string status, string? error) = SessionStatus();
        long connectionsTotal = 0;
        long connectionsOpen = 0;
        long localFailures = 0;
        LocalFailure? lastFailure = null;
        int uncaptured = 0;
        foreach (TunnelEndpoint endpoint in _endpoints)
        {
            connectionsTotal += endpoint.ConnectionCount;
            connectionsOpen += Math.Max(0, endpoint.OpenConnectionCount);
            localFailures += endpoint.LocalFailureCount;
            if (endpoint.LastLocalFailure is { } failure && (lastFailure is null || failure.Time > lastFailure.Time))
            {
                lastFailure = failure;
            }

            if (endpoint.Client.CaptureFor(endpoint.Definition) is null)
            {
                uncaptured++;
            }
        }

        string? inspectUrl;
        try
        {
            inspectUrl = _inspectUrl();
        }
#pragma warning disable CA1031 // The inspector line is optional: a failure to read it must not end the screen.
        catch (Exception)
#pragma warning restore CA1031
        {
            inspectUrl = null;
        }

        DateTimeOffset now = _timeProvider.GetUtcNow();
        lock (_gate)
        {
            TrimRateWindow(now);
            double[] sorted = _durations.AsSpan(0, _durationCount).ToArray();
            Array.Sort(sorted);
            return new StatusSnapshot
            {
                Status = status,
                Error = error,
                Version = Version,
                Servers = Servers,
                InspectUrl = string.IsNullOrEmpty(inspectUrl) ? null : inspectUrl,
                Forwardings = _endpoints.Select(e => new StatusForwarding(e.PublicUrl, e.LocalAddress, e.Status.ToString().ToLowerInvariant())).ToList(),
                ConnectionsTotal = connectionsTotal,
                ConnectionsOpen = connectionsOpen,
                RequestsTotal = _requestsTotal,
                RequestsPerMinute = _rateTimes.Count,
                P50 = Percentile(sorted, 0.50),
                P90 = Percentile(sorted, 0.90),
                LocalFailures = localFailures,
                LastLocalFailure = lastFailure,
                UncapturedTunnels = uncaptured,
                // Newest start first: exchanges are captured when they complete, which is not always the order they began.
                Requests = _recent.Reverse().OrderByDescending(r => r.Time).ToList(),
                HasEnded = HasEnded,
            };
        }
    }

    /// <summary>Stops watching.</summary>
    public void Dispose()
    {
        if (_isDisposed)
        {
            return;
        }

        _isDisposed = true;
        foreach (CaptureStore store in _stores)
        {
            store.ExchangeCaptured -= OnExchangeCaptured;
        }

        foreach (TunnelEndpoint endpoint in _endpoints)
        {
            endpoint.StatusChanged -= OnStatusChanged;
            endpoint.LocalFailed -= OnLocalFailed;
        }
    }

    /// <summary>The nearest-rank percentile of sorted durations in milliseconds.</summary>
    internal static TimeSpan? Percentile(double[] sortedMilliseconds, double fraction)
    {
        if (sortedMilliseconds.Length == 0)
        {
            return null;
        }

        int index = (int)Math.Ceiling(fraction * sortedMilliseconds.Length) - 1;
        return TimeSpan.FromMilliseconds(sortedMilliseconds[Math.Clamp(index, 0, sortedMilliseconds.Length - 1)]);
    }

    private static int Rank(string status)
    {
        int index = Array.IndexOf(s_statusRank, status);
        return index < 0 ? 0 : index; // an unknown status is taken as the worst
    }

    private void OnExchangeCaptured(object? sender, CapturedExchange exchange)
    {
        var request = new StatusRequest
        {
            Time = exchange.StartTime,
            TunnelName = exchange.TunnelName,
            Method = exchange.IsUnparsed ? "(raw)" : exchange.Method,
            Target = exchange.Target,
            Status = exchange.Status,
            Reason = exchange.Reason,
            Duration = exchange.Duration,
            Error = exchange.Error,
            IsReplay = exchange.IsReplay,
        };
        bool isNewLine;
        lock (_gate)
        {
            _requestsTotal++;
            _durations[_durationNext] = exchange.Duration.TotalMilliseconds;
            _durationNext = (_durationNext + 1) % DurationSamples;
            _durationCount = Math.Min(_durationCount + 1, DurationSamples);
            DateTimeOffset now = _timeProvider.GetUtcNow();
            TrimRateWindow(now);
            if (_rateTimes.Count < RateSamples)
            {
                _rateTimes.Enqueue(now);
            }

            // A visitor the client answered itself already has its line (from the local failure); when its exchange is
            // captured too, the captured one (with method and path) takes that line's place instead of adding one.
            isNewLine = true;
            if (exchange.Error is not null && _failureLines.Remove((exchange.TunnelName, exchange.ConnectionId), out StatusRequest? failureLine))
            {
                isNewLine = false;
                ReplaceRecentLocked(failureLine, request);
            }
            else
            {
                AddRecentLocked(request);
            }
        }

        if (isNewLine)
        {
            Raise(request);
        }
        else
        {
            RaiseChanged();
        }
    }

    private void OnLocalFailed(object? sender, LocalFailure failure)
    {
        if (sender is not TunnelEndpoint endpoint)
        {
            return;
        }

        var request = new StatusRequest
        {
            Time = failure.Time,
            TunnelName = endpoint.Name,
            Status = failure.Status,
            Reason = failure.Status switch { 502 => "Bad Gateway", 504 => "Gateway Timeout", _ => string.Empty },
            Error = $"local service {endpoint.LocalAddress} did not answer: {failure.Reason}",
            IsLocalFailure = true,
        };
        lock (_gate)
        {
            AddRecentLocked(request);
            var key = (endpoint.Name, failure.ConnectionId);
            if (_failureLines.TryAdd(key, request))
            {
                _failureOrder.Enqueue(key);
            }

            while (_failureOrder.Count > FailureMatchCapacity)
            {
                _failureLines.Remove(_failureOrder.Dequeue());
            }
        }

        Raise(request);
    }

    /// <summary>Puts <paramref name="replacement"/> where <paramref name="old"/> is in the list, if it still is.</summary>
    private void ReplaceRecentLocked(StatusRequest old, StatusRequest replacement)
    {
        StatusRequest[] lines = [.. _recent];
        _recent.Clear();
        foreach (StatusRequest line in lines)
        {
            _recent.Enqueue(ReferenceEquals(line, old) ? replacement : line);
        }
    }

    private void OnStatusChanged(object? sender, EventArgs e) => RaiseChanged();

    private void AddRecentLocked(StatusRequest request)
    {
        _recent.Enqueue(request);
        while (_recent.Count > RecentCapacity)
        {
            _recent.Dequeue();
        }
    }

    private void TrimRateWindow(DateTimeOffset now)
    {
        while (_rateTimes.Count > 0 && now - _rateTimes.Peek() > s_rateWindow)
        {
            _rateTimes.Dequeue();
        }
    }

    private void Raise(StatusRequest request)
    {
        try
        {
            RequestSeen?.Invoke(this, request);
        }
#pragma warning disable CA1031 // A subscriber's failure must not reach the capture store's dispatcher.
        catch (Exception)
#pragma warning restore CA1031
        {
        }

        RaiseChanged();
    }

    private void RaiseChanged() => Diagnostics.EventRaiser.Raise(Changed, this);
}
