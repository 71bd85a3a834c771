using TunnelPS.Engine.Diagnostics;

namespace TunnelPS.Engine.Client;

/// <summary>The state of a tunnel or client.</summary>
public enum TunnelStatus
{
    Connecting,
    Online,
    Reconnecting,
    Stopped,
    Failed,
}

/// <summary>One public URL served by a <see cref="TunnelClient"/>.</summary>
public sealed class TunnelEndpoint
{
    private long _connectionCount;
    private long _openConnectionCount;
    private long _localFailureCount;
    private LocalFailure? _lastLocalFailure;
    private int _status = (int)TunnelStatus.Connecting;

    internal TunnelEndpoint(TunnelClient client, TunnelDefinition definition, string protocol, string publicUrl, DateTimeOffset startTime)
    {
        Client = client;
        Definition = definition;
        Protocol = protocol;
        PublicUrl = publicUrl;
        StartTime = startTime;
    }

    public TunnelClient Client { get; }
    public TunnelDefinition Definition { get; }
    public string Name => Definition.Name;
    public string Protocol { get; }

    /// <summary>The public URL (it can change only if a reconnect could not get the same name back).</summary>
    public string PublicUrl { get; internal set; }

    public string LocalAddress => Definition.Local.ToString();
    public DateTimeOffset StartTime { get; }
    public long ConnectionCount => Interlocked.Read(ref _connectionCount);

    /// <summary>Visitor connections being served now.</summary>
    public long OpenConnectionCount => Interlocked.Read(ref _openConnectionCount);

    /// <summary>Visitors the client answered itself because the local service did not answer (a 502 page for http).</summary>
    public long LocalFailureCount => Interlocked.Read(ref _localFailureCount);

    /// <summary>The newest of <see cref="LocalFailureCount"/>: when, and why the local service did not answer.</summary>
    public LocalFailure? LastLocalFailure => Volatile.Read(ref _lastLocalFailure);
    public TunnelStatus Status => (TunnelStatus)Volatile.Read(ref _status);

    /// <summary>Why the tunnel failed or is reconnecting.</summary>
    public string? Error { get; internal set; }

    public event EventHandler? StatusChanged;

    /// <summary>Raised (on an engine thread) each time the local service did not answer a visitor.</summary>
    public event EventHandler<LocalFailure>? LocalFailed;

    internal void CountConnection() => Interlocked.Increment(ref _connectionCount);

    internal void ConnectionOpened() => Interlocked.Increment(ref _openConnectionCount);

    internal void ConnectionClosed() => Interlocked.Decrement(ref _openConnectionCount);

    internal void RecordLocalFailure(LocalFailure failure)
    {
        Volatile.Write(ref _lastLocalFailure, failure);
        Interlocked.Increment(ref _localFailureCount);
        try
        {
            LocalFailed?.Invoke(this, failure);
        }
#pragma warning disable CA1031 // A subscriber's failure must not reach the forwarder.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    internal void SetStatus(TunnelStatus status, string? error = null)
    {
        if (Status is TunnelStatus.Stopped)
        {
            return;
        }
        Error = error;
        if ((int)status != Interlocked.Exchange(ref _status, (int)status))
        {
            EventRaiser.Raise(StatusChanged, this);
        }
    }
}
