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

    /// <summary>Online, but the local service does not answer: the client answers visitors itself (502 or 504).</summary>
    Degraded,
}

/// <summary>One public URL served by a <see cref="TunnelClient"/>.</summary>
public sealed class TunnelEndpoint
{
    private long _connectionCount;
    private long _openConnectionCount;
    private long _localFailureCount;
    private LocalFailure? _lastLocalFailure;
    private int _status = (int)TunnelStatus.Connecting;
    private FailureNote? _lastError;

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

    /// <summary>
    /// The name that tells this URL apart in the inspector API, as ngrok's agent names its tunnels: <see cref="Name"/>
    /// for the https URL (and for a tunnel with one URL), "name (http)" for the http URL of a tunnel that also has an
    /// https one.
    /// </summary>
    public string ApiName =>
        Protocol == "http" && Client.Endpoints.Any(e => !ReferenceEquals(e, this) && ReferenceEquals(e.Definition, Definition) && e.Protocol == "https")
            ? Name + " (http)"
            : Name;
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

    /// <summary>Why the tunnel failed, is reconnecting or is degraded; null while it is online.</summary>
    public string? Error { get; internal set; }

    /// <summary>The most recent failure of this URL (the local service unreachable, the connection to the server lost, ...), kept after it recovers; null if none yet.</summary>
    public string? LastError => Volatile.Read(ref _lastError)?.Message;

    /// <summary>When <see cref="LastError"/> happened.</summary>
    public DateTimeOffset? LastErrorTime => Volatile.Read(ref _lastError)?.Time;

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
        catch (Exception ex)
#pragma warning restore CA1031
        {
            ClientShutdownLog.SubscriberFailed(Client.Logger, PublicUrl, ex.Message);
        }
    }

    internal void SetStatus(TunnelStatus status, string? error = null)
    {
        if (Status is TunnelStatus.Stopped)
        {
            return;
        }
        error = TerminalText.Line(error); // a reason can quote the server or the local service: shown, never acted on
        Error = error;
        if (error is not null)
        {
            NoteFailure(error);
        }
        if ((int)status != Interlocked.Exchange(ref _status, (int)status))
        {
            EventRaiser.Raise(StatusChanged, this);
        }
    }

    /// <summary>
    /// The local service did not answer a visitor: records why (<see cref="LastError"/>) and moves an Online URL to
    /// Degraded. Returns true when this call made the change (the caller logs it once).
    /// </summary>
    internal bool ReportLocalFailure(string error)
    {
        error = TerminalText.Line(error);
        NoteFailure(error);
        if (Interlocked.CompareExchange(ref _status, (int)TunnelStatus.Degraded, (int)TunnelStatus.Online) != (int)TunnelStatus.Online)
        {
            if (Status == TunnelStatus.Degraded)
            {
                Error = error;
            }
            return false;
        }
        Error = error;
        EventRaiser.Raise(StatusChanged, this);
        return true;
    }

    /// <summary>The local service answered a visitor: a Degraded URL is Online again. Returns true when this call made the change.</summary>
    internal bool ReportLocalAnswered()
    {
        if (Interlocked.CompareExchange(ref _status, (int)TunnelStatus.Online, (int)TunnelStatus.Degraded) != (int)TunnelStatus.Degraded)
        {
            return false;
        }
        Error = null;
        EventRaiser.Raise(StatusChanged, this);
        return true;
    }

    private void NoteFailure(string error) => Volatile.Write(ref _lastError, new FailureNote(error, Client.Options.TimeProvider.GetUtcNow()));

    private sealed record FailureNote(string Message, DateTimeOffset Time);
}
