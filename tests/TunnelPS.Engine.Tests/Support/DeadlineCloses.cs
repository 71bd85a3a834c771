using System.Diagnostics.Metrics;
using Microsoft.Extensions.Time.Testing;
using TunnelPS.Engine.Diagnostics;

namespace TunnelPS.Engine.Tests.Support;

/// <summary>
/// Drives a fake clock and tells which deadlines closed a connection during each step. The server's deadline timer runs
/// its checks synchronously inside <see cref="FakeTimeProvider.Advance"/>, on the calling thread, and a close is counted
/// (tunnelps.server.deadline_closes) right there: only counts made on this thread during the step are taken, so other
/// tests running at the same time do not show up, and no real time has to pass for the answer to be exact.
/// </summary>
internal sealed class DeadlineCloses : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly List<string> _closed = [];
    private int _advancingThread = -1;

    public DeadlineCloses()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == TunnelMetrics.MeterName && instrument.Name == "tunnelps.server.deadline_closes")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            if (Environment.CurrentManagedThreadId != Volatile.Read(ref _advancingThread))
            {
                return;
            }
            foreach (var tag in tags)
            {
                if (tag.Key == "deadline")
                {
                    lock (_closed)
                    {
                        _closed.Add((string)tag.Value!);
                    }
                }
            }
        });
        _listener.Start();
    }

    /// <summary>Advances <paramref name="time"/> by <paramref name="step"/>; the deadlines that closed a connection meanwhile.</summary>
    public string[] Advance(FakeTimeProvider time, TimeSpan step)
    {
        Volatile.Write(ref _advancingThread, Environment.CurrentManagedThreadId);
        try
        {
            time.Advance(step);
        }
        finally
        {
            Volatile.Write(ref _advancingThread, -1);
        }
        lock (_closed)
        {
            var closed = _closed.ToArray();
            _closed.Clear();
            return closed;
        }
    }

    public void Dispose() => _listener.Dispose();
}
