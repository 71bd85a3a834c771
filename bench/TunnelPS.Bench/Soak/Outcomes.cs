using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Security.Authentication;

namespace TunnelPS.Bench.Soak;

/// <summary>
/// What the soak's workers saw, counted by group ("keep-alive", "attack: slowloris"...) and kind ("ok", "error:
/// reset", "expected: 502"...), plus latency samples and transferred bytes by path for the tunnel-versus-direct lines.
/// </summary>
internal sealed class Outcomes
{
    private readonly ConcurrentDictionary<(string Group, string Kind), StrongBox> _counts = new();
    private readonly ConcurrentDictionary<string, Samples> _samples = new(StringComparer.Ordinal);

    public void Add(string group, string kind, long n = 1) =>
        Interlocked.Add(ref _counts.GetOrAdd((group, kind), static _ => new StrongBox()).Value, n);

    /// <summary>Forgets everything counted so far (the warm-up's outcomes, before the soak's).</summary>
    public void Clear()
    {
        _counts.Clear();
        _samples.Clear();
    }

    public long Count(string group, string kind) => _counts.TryGetValue((group, kind), out var box) ? Interlocked.Read(ref box.Value) : 0;

    /// <summary>Counts an operation that failed, by the kind of failure.</summary>
    public void Error(string group, Exception ex) => Add(group, "error: " + Classify(ex));

    /// <summary>Records one sample (a latency in µs, or a transfer's bytes and seconds) for a path such as "small via http".</summary>
    public void Sample(string path, double value, double seconds = 0) => _samples.GetOrAdd(path, static _ => new Samples()).Add(value, seconds);

    public Samples? SamplesOf(string path) => _samples.GetValueOrDefault(path);

    public IReadOnlyList<(string Group, string Kind, long Count)> Snapshot() =>
        [.. _counts.Select(p => (p.Key.Group, p.Key.Kind, Interlocked.Read(ref p.Value.Value))).OrderBy(p => p.Group, StringComparer.Ordinal).ThenBy(p => p.Kind, StringComparer.Ordinal)];

    /// <summary>Short names for what ended an operation.</summary>
    public static string Classify(Exception ex) => ex switch
    {
        OperationCanceledException or TimeoutException => "timeout",
        AuthenticationException => "tls handshake failed",
        EndOfStreamException e => "closed early (" + e.Message + ")",
        InvalidDataException e => "bad response (" + e.Message + ")",
        SocketException { SocketErrorCode: SocketError.ConnectionReset } => "reset",
        SocketException { SocketErrorCode: SocketError.ConnectionRefused } => "connection refused",
        SocketException s => "socket " + s.SocketErrorCode,
        IOException { InnerException: SocketException inner } => Classify(inner),
        IOException { InnerException: { } inner } when inner is not IOException => Classify(inner),
        IOException => "io: " + ex.Message,
        _ => ex.GetType().Name + ": " + ex.Message,
    };

    private sealed class StrongBox
    {
        public long Value;
    }

    /// <summary>Up to 200,000 samples per path (later ones replace random earlier ones), plus totals.</summary>
    internal sealed class Samples
    {
        private const int Capacity = 200_000;
        private readonly List<double> _values = [];
        private long _count;
        private double _total;
        private double _seconds;

        public void Add(double value, double seconds)
        {
            lock (_values)
            {
                _count++;
                _total += value;
                _seconds += seconds;
                if (_values.Count < Capacity)
                {
                    _values.Add(value);
                }
                else
                {
                    var slot = Random.Shared.NextInt64(_count);
                    if (slot < Capacity)
                    {
                        _values[(int)slot] = value;
                    }
                }
            }
        }

        public long Count
        {
            get
            {
                lock (_values)
                {
                    return _count;
                }
            }
        }

        /// <summary>Sum of the values over the sum of the seconds (bytes per second for transfers).</summary>
        public double Rate
        {
            get
            {
                lock (_values)
                {
                    return _seconds > 0 ? _total / _seconds : 0;
                }
            }
        }

        public double Total
        {
            get
            {
                lock (_values)
                {
                    return _total;
                }
            }
        }

        public double Percentile(double p)
        {
            lock (_values)
            {
                if (_values.Count == 0)
                {
                    return double.NaN;
                }
                var sorted = _values.ToArray();
                Array.Sort(sorted);
                return sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];
            }
        }

        public double Max
        {
            get
            {
                lock (_values)
                {
                    return _values.Count == 0 ? double.NaN : _values.Max();
                }
            }
        }

        public double Min
        {
            get
            {
                lock (_values)
                {
                    return _values.Count == 0 ? double.NaN : _values.Min();
                }
            }
        }
    }
}
